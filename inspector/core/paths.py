"""Where ocinspect keeps its own files, in one place (the XDG base directories).

``$XDG_CONFIG_HOME/ocinspect`` holds what a person writes or the TUI saves (theme, sort,
keymap); ``$XDG_STATE_HOME/ocinspect`` what ocinspect keeps between runs (the recovery journal,
the watermarks of the last look). A relative ``XDG_*`` value is ignored, as the XDG spec says,
so a stray ``XDG_STATE_HOME=state`` cannot scatter journals over working directories.
OpenCode's own database is found by ``db/locate.py``, the way OpenCode finds it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

APP = "ocinspect"
SETTINGS_FILE = "settings.toml"
KEYMAP_FILE = "keymap.toml"


def _base(env: Mapping[str, str] | None, variable: str, default: str) -> Path:
    env = os.environ if env is None else env
    value = env.get(variable, "")
    if value and os.path.isabs(value):
        return Path(value)
    return Path(env.get("HOME") or Path.home()) / default


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/ocinspect`` (default ``~/.config/ocinspect``)."""
    return _base(env, "XDG_CONFIG_HOME", ".config") / APP


def state_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_STATE_HOME/ocinspect`` (default ``~/.local/state/ocinspect``)."""
    return _base(env, "XDG_STATE_HOME", os.path.join(".local", "state")) / APP


def journal_dir(env: Mapping[str, str] | None = None) -> Path:
    """The recovery journal: one JSON-lines file per run."""
    return state_dir(env) / "runs"


def watermarks_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where the last look at each database left off."""
    return state_dir(env) / "watermarks"


def own_paths(env: Mapping[str, str] | None = None) -> dict[str, Path]:
    """Every place ocinspect reads or writes its own files, by the name ``ocinspect paths`` shows."""
    config = config_dir(env)
    return {
        "config": config,
        "settings": config / SETTINGS_FILE,
        "keymap": config / KEYMAP_FILE,
        "state": state_dir(env),
        "journal": journal_dir(env),
        "watermarks": watermarks_dir(env),
    }
