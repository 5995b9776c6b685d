"""JSON nested deeper than Python can copy or serialise is refused for its unit, never rewritten."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from inspector.core.errors import CorruptData


@contextmanager
def too_deep(what: str) -> Iterator[None]:
    """``CorruptData`` naming ``what`` when the block hits Python's recursion limit (``plan``
    skips that unit alone), nothing written."""
    try:
        yield
    except RecursionError:
        raise CorruptData(
            f"{what} holds JSON nested too deeply to rewrite safely; ocinspect will not change it"
        ) from None
