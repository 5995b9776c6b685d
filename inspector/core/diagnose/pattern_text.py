"""How a stuck pattern is explained to a user: its words, apart from the table that lists them,
so the judges that own patterns of their own (``holds.py``) can define them without a cycle."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pattern:
    name: str
    title: str
    why: str
    repair: str
    fixable: bool = True
    advice: str = ""  # not fixable: what the user must do instead (the "unfixable" verdict says it)
