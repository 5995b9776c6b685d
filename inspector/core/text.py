"""Small text helpers shared by the CLI and the TUI: safe display, durations, input summaries."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from typing import Any

# What must never reach a terminal as it is: C0 controls but tab and newline (ESC starts CSI/OSC
# sequences: colours, the window title, OSC 52 clipboard writes), DEL, C1 controls (0x9b is CSI,
# 0x9d OSC on terminals that read 8-bit controls), the bidi controls that reorder what is shown
# (U+202A-U+202E, U+2066-U+2069, U+200E/U+200F, U+061C: "Trojan Source") and the line/paragraph
# separators U+2028/U+2029. Joiners (U+200C/U+200D) stay: scripts and emoji need them.
UNSAFE_CHARS = r"\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_UNSAFE_RE = re.compile(f"[{UNSAFE_CHARS}]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(value: object, *, single_line: bool = False) -> str:
    """Text from the database, made safe to print: the one sanitiser of every text output (CLI
    and TUI). Control and bidi characters become visible ``\\x1b``/``\\u202e`` escapes;
    ``single_line`` also turns tabs and newlines into spaces and ``⏎``."""
    text = "" if value is None else str(value)
    text = _UNSAFE_RE.sub(_escape, text)
    if single_line:
        text = text.replace("\t", " ").replace("\n", " ⏎ ")
    return text


def safe_json(value: Any, *, indent: int | None = None) -> str:
    """JSON for a terminal: ``json.dumps`` (UTF-8 kept), with every character ``printable``
    escapes written as a ``\\uXXXX`` escape, so ``json.loads`` gives back the exact value and no
    control or bidi character reaches the screen raw (json.dumps already escapes C0 inside
    strings; the newlines of ``indent`` stay). Not for rows written to the database
    (``compact_json`` writes those as OpenCode does)."""
    text = json.dumps(value, ensure_ascii=False, indent=indent)
    return _UNSAFE_RE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def now_ms() -> int:
    """Wall-clock milliseconds, OpenCode's unit for every ``time_*`` column."""
    return int(time.time() * 1000)


def compact_json(value: Any) -> str:
    """JSON exactly as OpenCode's ``JSON.stringify`` writes it: no spaces, UTF-8 kept."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def humanize_ms(ms: int | None) -> str:
    """``3d 4h``, ``12m``, ``40s``: two units at most; ``-`` when unknown."""
    if ms is None:
        return "-"
    seconds = max(0, int(ms // 1000))
    units = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
    parts: list[str] = []
    for suffix, size in units:
        if seconds >= size or (suffix == "s" and not parts):
            amount, seconds = divmod(seconds, size)
            parts.append(f"{amount}{suffix}")
        if len(parts) == 2:
            break
    return " ".join(parts)


def iso(ms: int | None) -> str | None:
    """ISO-8601 UTC for JSON output."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")


def local_time(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


_SUMMARY_KEYS = ("command", "filePath", "file_path", "path", "pattern", "url", "description", "query")


def input_summary(tool: str, tool_input: Any, width: int = 120) -> str:
    """One line that says what the tool was doing: bash command, file path, task description…"""
    if not isinstance(tool_input, dict) or not tool_input:
        return ""
    if tool == "question":
        questions = tool_input.get("questions")
        if isinstance(questions, list) and questions and isinstance(questions[0], dict):
            return shorten(printable(questions[0].get("question", ""), single_line=True), width)
    for key in _SUMMARY_KEYS:
        value = tool_input.get(key)
        if isinstance(value, str) and value:
            return shorten(printable(value, single_line=True), width)
    raw = json.dumps(tool_input, ensure_ascii=False, separators=(",", ":"))
    return shorten(printable(raw, single_line=True), width)


def humanize_bytes(size: int) -> str:
    """``512 B``, ``4.0 KiB``, ``1.5 GiB``: a file's size for a person."""
    amount = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if amount < 1024:
            return f"{int(amount)} B" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} TiB"
