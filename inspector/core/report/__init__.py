"""Bug reports on one session: redacted by default (redact), built from the core (build)."""
