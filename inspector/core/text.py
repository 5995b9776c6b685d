"""Small text helpers shared by the CLI and the TUI: safe display, durations, input summaries."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from typing import Any

# C0/C1 control characters except tab and newline; shown escaped, never sent to the terminal.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(value: object, *, single_line: bool = False) -> str:
    """Text from the database, made safe to print: control characters become ``\\xNN``."""
    text = "" if value is None else str(value)
    text = _CONTROL_RE.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    if single_line:
        text = text.replace("\t", " ").replace("\n", " ⏎ ")
    return text


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
