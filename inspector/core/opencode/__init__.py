"""A running OpenCode: the HTTP client for its loopback server and whether it is live on a database."""
