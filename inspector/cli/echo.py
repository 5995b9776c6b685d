"""Everything the commands write: ``printable`` on the way out, so no control or bidi character
from the database reaches the terminal, whichever field held it."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

import click

from inspector.output import write_lines

if TYPE_CHECKING:
    from inspector.core.repair.journal import JournalProblem


def say(text: str, *, err: bool = False) -> None:
    """One line (but the progress meter's, every line the CLI writes goes through here)."""
    from inspector.core.text import printable

    click.echo(printable(text), err=err)


def emit_json(value: object) -> None:
    from inspector.core.text import safe_json

    click.echo(safe_json(value, indent=2))


def echo_lines(lines: Iterable[str], *, err: bool = False) -> None:
    """Lines of a result for people: ``printable``, wrapped to the terminal, coloured on one
    (``output.write_lines``)."""
    write_lines(lines, err=err)


def warn(text: str) -> None:
    say(f"ocinspect: warning: {text}", err=True)


def warn_journal_problems(problems: Sequence[JournalProblem]) -> None:
    """One ``ocinspect: warning:`` line per journal file that is not a readable run."""
    from inspector.core.text import printable

    for problem in problems:
        click.echo(f"ocinspect: warning: {printable(str(problem), single_line=True)}", err=True)


def warn_skipped_state(skipped: Sequence[str]) -> None:
    """One ``ocinspect: warning:`` line per file of the kept state that was not read."""
    for problem in skipped:
        warn(f"skipped {problem}; the scan read the whole database")


def progress_reporter(label: str) -> Callable[[int, int], None] | None:
    """A ``progress(done, total)`` callback drawing a percentage on stderr, only on a terminal."""
    if not sys.stderr.isatty():
        return None

    def report(done: int, total: int) -> None:
        percent = 100 if total <= 0 else min(100, done * 100 // total)
        click.echo(f"\r{label}… {percent:3d}%", err=True, nl=False)
        if done >= total:
            click.echo("\r" + " " * (len(label) + 8) + "\r", err=True, nl=False)

    return report
