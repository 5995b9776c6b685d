"""OpenCode 1.x (``session``/``message``/``part``, the sync event log of 1.14+): its SQL and its reads.

Only this package (and the db modules that predate the seam) run SQL written for the v1 schema;
everything above ``db/`` reads through :class:`inspector.core.db.reads.Reads`.
"""
