"""What a person keeps between runs: the theme and the list's sort (saved by the app) and a
keymap (written by hand).

Both files live in ``$XDG_CONFIG_HOME/ocinspect/`` (default ``~/.config/ocinspect/``):
``settings.toml`` holds ``theme = "nord"``, ``sort = "verdict"`` and ``sort_descending = false``
and is rewritten when the theme is changed in the command palette or the sessions list is
sorted; ``keymap.toml`` holds a ``[keymap]`` table of ``binding-id = "keys"`` and is only
read. A missing file is normal; a bad one is described in ``problems`` and ignored, never a crash.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from textual.binding import Binding, BindingType
from textual.keys import key_to_character
from textual.theme import BUILTIN_THEMES

from inspector.core import paths
from inspector.core.ownfiles import NotOwnFile, read_own, replace_file

SETTINGS_FILE = paths.SETTINGS_FILE
KEYMAP_FILE = paths.KEYMAP_FILE
DEFAULT_THEME = "textual-dark"
# modifiers, then one character or a key name (Textual's: "enter", "f5", "question_mark", ...)
_KEY = re.compile(r"^((ctrl|shift|alt|meta|super|hyper)\+)*([^\s,+]|[a-z][a-z0-9_]*)$")


Groups = Sequence[tuple[str, Sequence[BindingType]]]  # (where the keys work, its bindings), "Anywhere" last


class UnknownTheme(ValueError):
    """A theme name Textual does not ship; the message lists the ones it does."""


def config_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """``$XDG_CONFIG_HOME/ocinspect`` (a relative value is ignored, as the XDG spec says)."""
    return paths.config_dir(environ)


def theme_names() -> list[str]:
    return list(BUILTIN_THEMES)


def check_theme(name: str) -> str:
    if name not in BUILTIN_THEMES:
        raise UnknownTheme(f"unknown theme {name!r} (themes: {', '.join(theme_names())})")
    return name


@dataclass(frozen=True)
class UserSettings:
    """What was read; ``problems`` are one-line sentences for a notification."""

    theme: str | None = None
    keymap: Mapping[str, str] = field(default_factory=dict)
    problems: tuple[str, ...] = ()
    sort: SavedSort | None = None


@dataclass(frozen=True)
class SavedSort:
    """The sessions list's sort column (one of the table's keys) and its direction."""

    column: str
    descending: bool = False


def _read_toml(path: Path, problems: list[str]) -> dict[str, object] | None:
    try:
        return tomllib.loads(read_own(path).decode("utf-8"))
    except FileNotFoundError:
        return None
    except NotOwnFile as exc:  # a FIFO would block the start; a symlink is not ours to read
        problems.append(f"{path.name}: {exc.what}, not a regular file of this user; ignored.")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"{path.name}: cannot be read ({getattr(exc, 'strerror', None) or exc}); ignored.")
    except tomllib.TOMLDecodeError as exc:
        problems.append(f"{path.name}: not valid TOML ({exc}); ignored.")
    return None


def _theme(data: Mapping[str, object] | None, problems: list[str]) -> str | None:
    if data is None or "theme" not in data:
        return None
    theme = data["theme"]
    if not isinstance(theme, str) or theme not in BUILTIN_THEMES:
        problems.append(f"{SETTINGS_FILE}: unknown theme {theme!r}; using {DEFAULT_THEME}.")
        return None
    return theme


def _sort(data: Mapping[str, object] | None, columns: Collection[str], problems: list[str]) -> SavedSort | None:
    if data is None or "sort" not in data:
        return None
    column, descending = data["sort"], data.get("sort_descending", False)
    if not isinstance(column, str) or column not in columns:
        problems.append(
            f"{SETTINGS_FILE}: unknown sort column {column!r} (columns: {', '.join(columns)}); "
            "the list keeps the scan's order."
        )
        return None
    if not isinstance(descending, bool):
        problems.append(f"{SETTINGS_FILE}: sort_descending = {descending!r} is not true or false; ascending.")
        descending = False
    return SavedSort(column, descending)


def _canonical(key: str) -> str:
    return key_to_character(key) or key  # "question_mark" and "?" are one key


def _keys(keys: str) -> set[str]:
    return {_canonical(key.strip()) for key in keys.split(",")}


def _clashes(keymap: dict[str, str], groups: Groups, problems: list[str]) -> None:
    """Drop keymap entries that give a key another binding of the same screen (or app) uses:
    Textual would silently take the key away from that binding. A key the entry's binding
    already had is no clash (``help = "f1,h"`` keeps f1, which the help screen shares on purpose)."""
    *screens, (_, anywhere) = groups
    defaults = {b.id: _keys(b.key) for _, bindings in groups for b in bindings if isinstance(b, Binding) and b.id}
    for title, bindings in [*screens, ("Anywhere", [])]:
        owners: dict[str, list[str]] = {}
        for binding in (*bindings, *anywhere):
            if isinstance(binding, Binding) and binding.id:
                for key in _keys(keymap.get(binding.id, binding.key)):
                    owners.setdefault(key, []).append(binding.id)
        for key, ids in owners.items():
            mine = [i for i in ids if i in keymap and key not in defaults[i]]
            if len(set(ids)) > 1 and mine:
                for binding_id in mine:
                    others = ", ".join(sorted(set(ids) - {binding_id}))
                    problems.append(
                        f"{KEYMAP_FILE}: {binding_id} = {keymap.pop(binding_id)!r}: {key!r} "
                        f"is already {others}'s key ({title}); ignored."
                    )


def parse_keymap(data: Mapping[str, object], groups: Groups, problems: list[str]) -> dict[str, str]:
    """The ``[keymap]`` table, keeping only known ids bound to well-formed keys that clash with none."""
    known_ids = {b.id for _, bindings in groups for b in bindings if isinstance(b, Binding) and b.id}
    table = data.get("keymap")
    if not isinstance(table, dict):
        problems.append(f'{KEYMAP_FILE}: no [keymap] table (write: [keymap] then binding-id = "keys"); ignored.')
        return {}
    keymap: dict[str, str] = {}
    unknown: list[str] = []
    for binding_id, value in table.items():
        if binding_id not in known_ids:
            unknown.append(binding_id)
            continue
        keys = [k.strip() for k in value.split(",")] if isinstance(value, str) else []
        bad = [k for k in keys if not _KEY.match(k)]
        if not keys or bad:
            problems.append(
                f'{KEYMAP_FILE}: {binding_id} = {value!r} is not a key list (e.g. "ctrl+r" or "x,f2"); ignored.'
            )
            continue
        keymap[binding_id] = ",".join(keys)
    if unknown:
        problems.append(
            f"{KEYMAP_FILE}: unknown binding id {', '.join(map(repr, unknown))} (the ids are in the help, ?); ignored."
        )
    _clashes(keymap, groups, problems)
    return keymap


def load(directory: Path, groups: Groups, sort_columns: Collection[str] = ()) -> UserSettings:
    problems: list[str] = []
    saved = _read_toml(directory / SETTINGS_FILE, problems)
    theme = _theme(saved, problems)
    sort = _sort(saved, sort_columns, problems)
    data = _read_toml(directory / KEYMAP_FILE, problems)
    keymap = parse_keymap(data, groups, problems) if data is not None else {}
    return UserSettings(theme=theme, keymap=keymap, problems=tuple(problems), sort=sort)


def save(directory: Path, *, theme: str | None, sort: SavedSort | None) -> Path:
    """Write ``settings.toml`` whole (written only by the app), atomically; raises ``OSError``.
    ``None`` leaves a setting out (the default next time)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / SETTINGS_FILE
    lines = [
        "# Written by ocinspect when the theme is changed (command palette: Theme)",
        "# or the sessions list is sorted (s, S, a click on a column header).",
    ]
    if theme is not None:
        lines.append(f"theme = {json.dumps(check_theme(theme))}")
    if sort is not None:
        lines += [f"sort = {json.dumps(sort.column)}", f"sort_descending = {'true' if sort.descending else 'false'}"]
    replace_file(path, "\n".join(lines) + "\n", 0o644)
    return path
