"""How long the TUI's toasts stay up (one place, so tests can keep them up while they look)."""

RESULT_TIMEOUT = 10.0  # seconds a recovery/undo result (or a settings problem) stays up
