"""Plain-text formatting shared by the screens: paths, times, pattern names, verdict labels.

Everything here returns ``str``; widgets wrap it in ``Content``/``rich.text.Text`` so text from
the database is never parsed as markup. Every field from the database is drawn through
``one_line`` (or ``printable``, core's one sanitiser, for multi-line text), which turns control
and bidi characters such as ``\\x1b`` and U+202E into visible ``\\x1b``/``\\u202e`` escapes.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from inspector.core.diagnose.asked import request_words
from inspector.core.diagnose.patterns import describe
from inspector.core.model import Diagnosis, Part
from inspector.core.text import humanize_ms, printable, shorten

VERDICT_LABELS = {
    "stale": "stale",
    "live": "live",
    "hung": "hung",
    "waiting": "waiting",
    "unknown": "unknown",
    "unfixable": "unfixable",
    "ok": "ok",
    "recovered": "recovered",
}


def one_line(value: object) -> str:
    """Database text made safe for one table cell."""
    return printable(value, single_line=True)


def display_path(path: str | os.PathLike[str]) -> str:
    """A path as the user would type it: ``~`` for the home directory."""
    text = str(path)
    home = os.environ.get("HOME")
    if home and home != "/" and (text == home or text.startswith(home.rstrip("/") + "/")):
        text = "~" + text[len(home.rstrip("/")) :]
    return printable(text, single_line=True)


def project_name(directory: str) -> str:
    """The last component of a session's directory (``webapp`` for ``/home/dev/src/webapp``)."""
    if not directory:
        return "-"
    name = directory.replace("\\", "/").rstrip("/").rpartition("/")[2]  # PurePosixPath(...).name
    return one_line(name or directory)


def short_time(ms: int | None) -> str:
    """``Nov 24 13:40`` in UTC, like the core's ``local_time`` but narrow enough for a column."""
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%b %d %H:%M")


def elapsed(since: int | None, now: int) -> str:
    return humanize_ms(now - since) if since is not None else "-"


def pattern_words(patterns: tuple[str, ...]) -> str:
    return ", ".join(describe(name).title for name in patterns)


def verdict_of(diag: Diagnosis, recovered: frozenset[str]) -> str:
    """The badge: the core's verdict, or ``recovered`` for a session this app repaired."""
    if not diag.is_stuck and diag.id in recovered:
        return "recovered"
    return diag.verdict


def part_headline(part: Part, now: int) -> str:
    """``bash · running · for 2h 13m``: one line that says what the stuck tool was doing."""
    started = part.started
    if part.status == "pending" and started is None:
        timing = f"pending for {elapsed(part.time_created, now)}, never started"
    else:
        timing = f"{one_line(part.status)} for {elapsed(started or part.time_created, now)}"
    return f"{one_line(part.tool)} · {timing}"


def part_what(part: Part, width: int = 200) -> str:
    """The command or input summary, or a hint that the model never sent the arguments."""
    if part.input_summary:
        prefix = "$ " if part.tool == "bash" else ""
        return shorten(prefix + one_line(part.input_summary), width)
    if part.status == "pending":
        return "(no input: the arguments were still streaming)"
    return "(no input)"


def plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count} {word if count == 1 else (many or word + 's')}"


def events_note(count: int) -> str:
    """``, 4 events logged`` where OpenCode's sync log was continued; nothing otherwise."""
    return f", {plural(count, 'event')} logged" if count else ""


def asked_lines(diag: Diagnosis, now: int) -> list[str]:
    """What a waiting session is asked, one line each: ``bash wants to run "echo ok" · asked
    20m ago (2026-11-24 17:03 UTC)``. The server's text, escaped like any database text."""
    from inspector.core.text import local_time

    lines = []
    for request in diag.waiting_on:
        when = (
            f"asked {elapsed(request.since, now)} ago ({local_time(request.since)})"
            if request.since is not None
            else "asked: time unknown"
        )
        where = f" · in {one_line(request.session_id)}" if request.session_id != diag.id else ""
        lines.append(f"{one_line(request_words(request))} · {when}{where}")
    return lines
