"""How a text names a key: the key the person's keymap file gives a binding id, else its default.

Texts that tell which key to press are templates with ``{binding-id}`` where the key goes
(``"Press {undo-last-run} to undo."``): ``keyed`` fills one for a widget (the key bold),
``keyed_text`` for a toast. ``namer(app)`` asks the app (``InspectorApp.key_name``: the keymap it
loaded, else the binding's own key); a list id in a dialog's or toast's hint becomes the id of
the same action on the screen beneath (its ``KEY_ALIASES``: the detail screen's ``r`` is
``detail-recover``), so a person who rebound only one of them reads the key that works there.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Protocol, cast

from textual.app import App
from textual.content import Content
from textual.keys import key_to_character
from textual.screen import ModalScreen

KeyName = Callable[[str], str]  # binding id -> the key as a text names it

_FIELD = re.compile(r"\{([a-z][a-z0-9-]*)\}")
_NAMES = {"escape": "esc", "slash": "/", "space": "space", "tab": "tab"}


def label(keys: str) -> str:
    """The first key of a binding's key list as a person reads it: ``ctrl+r,f5`` -> ``ctrl+r``,
    ``question_mark`` -> ``?``, ``escape`` -> ``esc``."""
    first = keys.split(",")[0].strip()
    if first in _NAMES:
        return _NAMES[first]
    char = key_to_character(first)
    return char if char is not None and len(char) == 1 and char.isprintable() and not char.isspace() else first


class _Namer(Protocol):
    def key_name(self, binding_id: str) -> str: ...


def namer(app: App[Any]) -> KeyName:
    """The running app's key names, seen from the topmost screen that is not a dialog."""
    base = next((s for s in reversed(app.screen_stack) if not isinstance(s, ModalScreen)), None)
    aliases: Mapping[str, str] = getattr(base, "KEY_ALIASES", {})
    own = cast(_Namer, app).key_name
    return lambda binding_id: own(aliases.get(binding_id, binding_id))


def keyed(template: str, key: KeyName, style: str = "bold") -> Content:
    """``template`` as ``Content``, each ``{binding-id}`` replaced by its key in ``style``."""
    pieces: list[str | tuple[str, str]] = []
    for index, piece in enumerate(_FIELD.split(template)):
        if index % 2:
            pieces.append((key(piece), style))
        elif piece:
            pieces.append(piece)
    return Content.assemble(*pieces)


def keyed_text(template: str, key: KeyName) -> str:
    """``template`` as plain text (a toast), each ``{binding-id}`` replaced by its key."""
    return _FIELD.sub(lambda m: key(m.group(1)), template)


def fields(template: str) -> list[str]:
    """The binding ids a template names (tests check each is a real id)."""
    return _FIELD.findall(template)
