"""The database floor: find the file, open it (SQLAlchemy Core), every SQL statement, row parsers, OpenCode's sync event log."""
