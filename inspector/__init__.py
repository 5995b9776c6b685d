"""ocinspect: find, explain and safely recover OpenCode sessions stuck in "Thinking"."""

__version__ = "0.1.0"
