"""Option types and the options several commands share."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

from inspector.core.defaults import DEFAULT_HUNG_AFTER_MS

F = TypeVar("F", bound=Callable[..., object])

FULL_HELP = "Read the whole database, not only what changed since the last look (and keep a new state)."
DEFAULT_HUNG_AFTER = f"{DEFAULT_HUNG_AFTER_MS // 60_000}m"  # as typed (`--help` must not load the duration parser)


class Duration(click.ParamType[int, str | int]):
    """``90s``, ``10m``, ``2h`` (see ``core.durations``) -> milliseconds."""

    name = "DURATION"

    def convert(self, value: str | int, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        from inspector.core.durations import parse_duration

        try:
            return parse_duration(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


DURATION = Duration()


def no_pager_option(func: F) -> F:
    return click.option(
        "--no-pager",
        is_flag=True,
        help="Print straight to the terminal, not through $PAGER (long output on a terminal).",
    )(func)


def hung_after_option(func: F) -> F:
    return click.option(
        "--hung-after",
        "hung_after",
        type=DURATION,
        default=None,
        metavar="DURATION",
        help=f"Call a busy session hung when nothing of it moved for this long (default {DEFAULT_HUNG_AFTER}; e.g. 90s, 10m, 2h).",
    )(func)
