"""How the CLI's text reaches a terminal: wrapped to its width, coloured, paged when long.

Renderers (``render.py``, ``render_timeline.py``) build plain lines; a line that wants colour is
a :class:`Styled` string, which carries style names on spans of its own text and is an ordinary
``str`` to everything else (tests, the TUI, JSON). Colour is SGR codes written here, around
spans the renderer chose, never parsed out of the text, so a title holding ``[bold]`` or an
escape sequence stays data. Colour only on a terminal, never with ``NO_COLOR`` set
(https://no-color.org) or ``TERM=dumb``. Width: ``$COLUMNS``, else the terminal's, else 80.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Sequence
from typing import IO, Any

import click

DEFAULT_WIDTH = 80
MIN_WIDTH = 40  # narrower than this, a hanging indent leaves no room: wrap as if this wide
Span = tuple[int, int, str]  # start, end (offsets into the line), style name

SGR = {
    "bold": "1",
    "dim": "2",
    "red": "31",
    "green": "32",
    "yellow": "33",
    "blue": "34",
    "magenta": "35",
    "cyan": "36",
    "bold red": "1;31",
    "bold yellow": "1;33",
}


class Styled(str):
    """A line with styled spans and the indent its wrapped continuation lines get (``hang``,
    ``None``: the line's own indent plus four)."""

    spans: tuple[Span, ...]
    hang: int | None

    def __new__(cls, text: str, spans: Iterable[Span] = (), hang: int | None = None) -> Styled:
        made = super().__new__(cls, text)
        made.spans = tuple(spans)
        made.hang = hang
        return made


def styled(*pieces: str | tuple[str, str], hang: int | None = None) -> Styled:
    """Join ``pieces``; a ``(text, style)`` piece is drawn in ``style`` on a colour terminal."""
    text, spans = "", []
    for piece in pieces:
        if isinstance(piece, tuple):
            chunk, style = piece
            if chunk and style:
                spans.append((len(text), len(text) + len(chunk), style))
            text += chunk
        else:
            text += piece
    return Styled(text, spans, hang)


def _env_size(name: str) -> int | None:
    value = os.environ.get(name, "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def _size(stream: IO[Any] | None) -> os.terminal_size | None:
    stream = sys.stdout if stream is None else stream
    try:
        return os.get_terminal_size(stream.fileno()) if stream.isatty() else None
    except (AttributeError, OSError, ValueError):
        return None


def terminal_width(stream: IO[Any] | None = None) -> int:
    """``$COLUMNS`` when set (as click and ``shutil`` read it), else the terminal's width, else 80."""
    size = _size(stream)
    return _env_size("COLUMNS") or (size.columns if size and size.columns else DEFAULT_WIDTH)


def terminal_height(stream: IO[Any] | None = None) -> int:
    """``$LINES`` when set, else the terminal's height, else 24."""
    size = _size(stream)
    return _env_size("LINES") or (size.lines if size and size.lines else 24)


def is_terminal(stream: IO[Any]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def colour_on(stream: IO[Any]) -> bool:
    """Colour only on a terminal; ``NO_COLOR`` (any non-empty value) and ``TERM=dumb`` turn it off."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return is_terminal(stream)


def has_terminal() -> bool:
    """Both ends of a full-screen app: keys come from stdin, the screen goes to stdout."""
    return is_terminal(sys.stdin) and is_terminal(sys.stdout)


_WORD = re.compile(r"\S+")
_CELL = re.compile(r"\S+(?: \S+)*")  # words joined by single spaces; two or more part columns


def wrap_ranges(text: str, width: int, hang: int) -> list[tuple[int, int]]:
    """Where to cut ``text`` into lines of at most ``width`` (continuations indented ``hang``):
    source ranges, the first from 0 so the line's own indent and columns stay. A line breaks
    between columns (two spaces or more) where a whole column fits on the next line, else
    between words; a word longer than a line stays whole, where it is (a path stays copyable)."""
    if len(text) <= width:
        return [(0, len(text))]
    ranges: list[tuple[int, int]] = []
    start, end, limit = 0, -1, width

    def take(piece_start: int, piece_end: int) -> None:
        nonlocal start, end, limit
        # a piece too long for any line stays where it is: moving it would only add a line
        if end < 0 or piece_end - start <= limit or piece_end - piece_start > width - hang:
            end = piece_end
        else:
            ranges.append((start, end))
            start, end, limit = piece_start, piece_end, width - hang

    for cell in _CELL.finditer(text):
        if cell.end() - start <= limit or (end >= 0 and cell.end() - cell.start() <= width - hang):
            take(cell.start(), cell.end())
        else:
            for word in _WORD.finditer(text, cell.start(), cell.end()):
                take(word.start(), word.end())
    ranges.append((start, max(end, start)))
    return ranges


def wrap_line(line: str, width: int) -> list[tuple[str, tuple[Span, ...]]]:
    """``line`` as terminal lines, each with the styled spans that fall on it."""
    spans = line.spans if isinstance(line, Styled) else ()
    own = getattr(line, "hang", None)
    indent = len(line) - len(line.lstrip(" "))
    width = max(width, MIN_WIDTH)
    hang = min(indent + 4 if own is None else own, width // 2)
    out = []
    for number, (start, end) in enumerate(wrap_ranges(str(line), width, hang)):
        prefix = "" if number == 0 else " " * hang
        shift = len(prefix) - start
        here = tuple(
            (max(a, start) + shift, min(b, end) + shift, style) for a, b, style in spans if a < end and b > start
        )
        out.append((prefix + line[start:end], here))
    return out


def paint(text: str, spans: Sequence[Span]) -> str:
    """``text`` with SGR codes around ``spans`` (in order, not overlapping)."""
    painted, at = [], 0
    for start, end, style in sorted(spans):
        code = SGR.get(style)
        if code is None or start < at:
            continue
        painted += [text[at:start], f"\x1b[{code}m", text[start:end], "\x1b[0m"]
        at = end
    painted.append(text[at:])
    return "".join(painted)


def terminal_lines(lines: Iterable[str], *, err: bool = False) -> tuple[str, bool]:
    """``lines`` made ready for stdout (``err``: stderr): sanitised, wrapped, coloured if that
    stream is a colour terminal. Returns the text and whether it holds colour."""
    from inspector.core.text import printable

    stream = sys.stderr if err else sys.stdout
    width, colour = terminal_width(stream), colour_on(stream)
    out = []
    for line in lines:
        safe = printable(line)
        # a line printable changed, or one holding several, loses its styles: plain text then
        rows = [line] if safe == line and "\n" not in line else safe.split("\n")
        for row in rows:
            for text, spans in wrap_line(row, width):
                out.append(paint(text, spans) if colour else text)
    return "\n".join(out), colour


def write_lines(lines: Iterable[str], *, err: bool = False) -> None:
    text, colour = terminal_lines(lines, err=err)
    click.echo(text, err=err, color=colour)


def write_long(text: str, *, pager: bool, colour: bool = False) -> None:
    """``text`` to stdout, through ``$PAGER`` (click's choice: ``less``, ``more``) when stdout is
    a terminal, paging is wanted, and it is taller than the screen; ``less`` gets ``LESS=FRX``
    (quit if one screen, keep colour, no screen clear) unless the user set ``LESS``."""
    if pager and is_terminal(sys.stdout) and text.count("\n") + 1 >= terminal_height():
        os.environ.setdefault("LESS", "FRX")
        click.echo_via_pager(text if text.endswith("\n") else text + "\n", color=colour or None)
        return
    click.echo(text, nl=not text.endswith("\n"), color=colour or None)


_JOINED_HYPHEN = re.compile(r"(?<=\w)-(?=\w)")
_NO_BREAK_HYPHEN = "\u2011"  # not a break point for click's wrapper; put back once wrapped


class HelpFormatter(click.HelpFormatter):
    """click's help, never broken inside a hyphenated word (``--reject-`` / ``waiting-after``)."""

    def write_text(self, text: str) -> None:
        start = len(self.buffer)
        super().write_text(_JOINED_HYPHEN.sub(_NO_BREAK_HYPHEN, text))
        self._restore(start)

    def write_dl(self, rows: Iterable[tuple[str, str]], col_max: int = 30, col_spacing: int = 2) -> None:
        start = len(self.buffer)
        super().write_dl([(a, _JOINED_HYPHEN.sub(_NO_BREAK_HYPHEN, b)) for a, b in rows], col_max, col_spacing)
        self._restore(start)

    def _restore(self, start: int) -> None:
        self.buffer[start:] = [chunk.replace(_NO_BREAK_HYPHEN, "-") for chunk in self.buffer[start:]]


def help_block(entries: Sequence[tuple[str, str]], width: int) -> str:
    """A help section of ``(label, text)`` rows, ``text`` wrapped beside its label (``label``
    ``""``: a paragraph of its own), for an epilog click must not rewrap (it starts with ``\\b``)."""
    label_width = max((len(label) for label, _ in entries if label), default=0)
    out = []
    for label, text in entries:
        if not label:
            out += [row for row, _ in wrap_line(Styled(text, hang=0), width)] if text else [""]
            continue
        head = f"  {label:<{label_width}}  "
        out += [row for row, _ in wrap_line(Styled(head + text, hang=len(head)), width)]
    return "\n".join(out)
