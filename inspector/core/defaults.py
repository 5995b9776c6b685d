"""The defaults every front end shares, in a module that imports nothing (``--help`` stays light)."""

DEFAULT_HUNG_AFTER_MS = 15 * 60 * 1000  # a busy session nothing of which moved this long is hung
DEFAULT_BUSY_TIMEOUT_MS = 5000  # how long a write waits for OpenCode's lock (OpenCode's own value)
