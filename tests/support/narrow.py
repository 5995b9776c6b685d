"""Narrowing for typed tests: the assertion a test makes anyway, stated once so that mypy knows it
too (``present(result.get(sid)).verdict`` fails the test on a missing session, not with an
AttributeError on None)."""

from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T")


def present(value: T | None) -> T:
    """``value``, which the test expects to be there."""
    assert value is not None, "expected a value, got None"
    return value


def of_type(value: Any, kind: type[T]) -> T:
    """``value``, which the test expects to be a ``kind`` (a screen, a widget, a process's pipe)."""
    assert isinstance(value, kind), f"expected a {kind.__name__}, got {type(value).__name__}"
    return value
