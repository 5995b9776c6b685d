"""OpenCode 2's answers read as untrusted JSON: each field taken only when it has the type we
expect, else an empty value (one set of readers for the liveness look and the live signals, so
a field is never trusted in one place and checked in another)."""

from __future__ import annotations

from typing import Any


def items(payload: Any) -> list[Any]:
    """The list of ``{"data": [...]}`` or of the list itself; ``[]`` for anything else."""
    data = payload.get("data") if isinstance(payload, dict) else payload
    return data if isinstance(data, list) else []


def text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def integer(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
