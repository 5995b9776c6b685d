"""What of a session may leave the machine in a bug report: shapes instead of content.

By default every free text (prompts, tool inputs and outputs, titles, reasoning, error
messages) becomes its shape (``<bash command, 42 chars>``), paths keep only the home marker and
a few generic folder names (``~/src/<project>``), and names from the database (tools, agents,
models) pass only when they are known or plainly shaped and look like no secret. A last pass
(``scrub``) replaces anything secret-looking that got through anyway. ``include_content``
turns the shapes off (the person asked for the content); the scrub pass is then not run either.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from inspector.core.model import PendingRequest, ServerStatus

# Folder names that say nothing about a person or a project.
GENERIC_DIRS = frozenset(
    {
        "src",
        "source",
        "code",
        "Code",
        "dev",
        "Developer",
        "projects",
        "Projects",
        "repos",
        "repo",
        "git",
        "github",
        "gitlab",
        "work",
        "workspace",
        "workspaces",
        "ws",
        "tmp",
        "var",
        "opt",
        "srv",
        "mnt",
        "Documents",
        "Desktop",
        "go",
        "sandbox",
        "build",
    }
)
# OpenCode's built-in tools, agents and finish reasons (anything else is shown as its shape).
KNOWN_TOOLS = frozenset(
    {
        "bash",
        "read",
        "write",
        "edit",
        "multiedit",
        "patch",
        "apply_patch",
        "glob",
        "grep",
        "list",
        "ls",
        "task",
        "webfetch",
        "websearch",
        "codesearch",
        "todowrite",
        "todoread",
        "question",
        "skill",
        "lsp",
        "batch",
        "invalid",
        "plan_enter",
        "plan_exit",
    }
)
KNOWN_AGENTS = frozenset({"build", "plan", "general", "explore", "title", "summary", "compaction"})
KNOWN_FINISH = frozenset({"stop", "tool-calls", "length", "error", "content-filter", "other", "unknown"})
TOOL_STATUSES = frozenset({"pending", "running", "completed", "error"})
# What OpenCode asks permission for: its tools' names and its own checks.
KNOWN_PERMISSIONS = KNOWN_TOOLS | {"external_directory", "doom_loop"}

_ID = re.compile(r"^(ses|msg|prt)_[0-9a-f]{12}[0-9A-Za-z]{14}$")
_VERSION = re.compile(r"^\d{1,4}\.\d{1,4}\.\d{1,4}(-[0-9A-Za-z.]{1,20})?$")
_MIGRATION = re.compile(r"^\d{14}_[a-z0-9_]{1,80}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@+-]{0,80}(/[A-Za-z0-9][A-Za-z0-9._:@+-]{0,80})?$")
_ERROR_NAME = re.compile(r"^[A-Z][A-Za-z0-9]{0,60}Error$")
_RUN_ID = re.compile(r"^\d{8}T\d{9}Z-[0-9a-f]{1,16}$")

# Secret-looking text (the last pass): the families of gitleaks' default rules and detect-secrets'
# plugins (keys and tokens by their well-known prefixes, JWTs, private keys, keyword assignments
# and flags, auth headers, URLs with a password, long hex or mixed-case random runs) and what
# points at a machine or a person (IP addresses, internal host names, e-mail addresses).
_KEYWORD = (
    r"(?:passw(?:or)?d|passwd|pwd|secret|token|api[_\-]?key|access[_\-]?key|account[_\-]?key|"
    r"auth[_\-]?key|credentials?|private[_\-]?key|client[_\-]?secret)"
)
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_HEX4 = r"[0-9A-Fa-f]{1,4}"
SECRET_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(
        r"-----BEGIN [A-Z ]*PRIVATE KEY(?: BLOCK)?-----.*?(?:-----END [A-Z ]*PRIVATE KEY(?: BLOCK)?-----|$)", re.DOTALL
    ),
    re.compile(r"sk-[A-Za-z0-9_\-]{8,}"),
    re.compile(r"\b[rsp]k_(?:live|test)_[0-9A-Za-z]{10,}"),
    re.compile(r"\b(?:gh[pousr]_|github_pat_)[A-Za-z0-9_]{16,}"),
    re.compile(r"\bgl(?:pat|dt|rt|ptt|cbt|oas|soat)-[0-9A-Za-z_\-]{12,}"),
    re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|A3T[A-Z0-9])[A-Z0-9]{12,}"),
    re.compile(r"\beyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{4,}(?:\.[A-Za-z0-9_\-]*)?"),
    re.compile(r"\bxox[abposr]-[A-Za-z0-9\-]{8,}"),
    re.compile(r"\bxapp-\d-[A-Za-z0-9\-]{8,}"),
    re.compile(r"https?://hooks\.slack\.com/\S+"),
    re.compile(r"\bAIza[0-9A-Za-z_\-]{20,}"),
    re.compile(r"\bya29\.[0-9A-Za-z_\-]{20,}"),
    re.compile(r"\bSG\.[\w\-]{16,}\.[\w\-]{16,}"),
    re.compile(r"\bnpm_[A-Za-z0-9]{30,}"),
    re.compile(r"\bhf_[A-Za-z0-9]{30,}"),
    # headers and flags: everything after the name is the credential
    re.compile(r"(?i)\bauthorization\s*[:=]\s*(?:(?:bearer|basic|token|digest)\s+)?[^\s,;\"'`]+"),
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/\-]{8,}=*"),
    re.compile(r"(?i)(?<![\w\-])--?" + _KEYWORD + r"(?:=|\s+)[^\s\"'`]+"),
    re.compile(r"(?i)\b(?:mysql|mysqldump|mysqladmin|mariadb)\b[^\n]*?\s-p(?!\s)[^\s\"'`]+"),
    # NAME=value, NAME: value, "name": "value" where NAME says it holds a secret (DB_PASSWORD,
    # PGPASSWORD, x-api-key, SECRET_KEY, client_secret…)
    re.compile(r"(?i)[A-Za-z0-9_.\-]*" + _KEYWORD + r"[A-Za-z0-9_\-]*[\"']?\s*[:=]\s*[\"']?[^\s\"'`,;&]{3,}"),
    re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}"),
    re.compile(r"[a-z][a-z0-9+.\-]*://[^\s/:@]+:[^\s/@]+@"),
    re.compile(r"(?<![\w.])" + _OCTET + r"(?:\." + _OCTET + r"){3}(?!\w|\.\d)"),
    re.compile(
        r"(?<![\w:.])(?:(?:"
        + _HEX4
        + r":){7}"
        + _HEX4
        + r"|(?:"
        + _HEX4
        + r":){1,7}:(?:"
        + _HEX4
        + r"(?::"
        + _HEX4
        + r"){0,6})?|::"
        + _HEX4
        + r"(?::"
        + _HEX4
        + r"){0,6})(?![\w:])"
    ),
    re.compile(
        r"(?i)\b(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+"
        r"(?:internal|local|localdomain|lan|corp|intranet|intra|private|home\.arpa)\b"
    ),
    re.compile(r"(?<![A-Za-z0-9])[0-9a-fA-F]{32,}(?![A-Za-z0-9])"),
    re.compile(r"(?<![A-Za-z0-9])(?=[A-Za-z0-9]*[a-z])(?=[A-Za-z0-9]*[0-9])[A-Za-z0-9]{32,}(?![A-Za-z0-9])"),
    re.compile(
        r"(?<![A-Za-z0-9])(?=[A-Za-z0-9+/_\-]*[A-Z])(?=[A-Za-z0-9+/_\-]*[a-z])"
        r"(?=[A-Za-z0-9+/_\-]*[0-9])[A-Za-z0-9+/_\-]{32,}={0,2}"
    ),
)
# Home directories of any user on any system (the database may come from another machine).
_HOME = re.compile(r"(?:/home/[^/\s\"'<>]+|/Users/[^/\s\"'<>]+|/root(?=/|\b)|[A-Za-z]:\\Users\\[^\\\s\"'<>]+)")
REDACTED_SECRET = "<redacted>"


def looks_secret(value: str) -> bool:
    return any(p.search(value) for p in SECRET_PATTERNS) or bool(_HOME.search(value))


def scrub(value: str) -> str:
    """``value`` with every secret-looking run and home directory replaced (the last pass)."""
    for pattern in SECRET_PATTERNS:
        value = pattern.sub(REDACTED_SECRET, value)
    return _HOME.sub("~", value)


def scrub_tree(value: Any) -> Any:
    """``scrub`` every string (keys too) of a JSON-shaped value."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {scrub_tree(k): scrub_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_tree(v) for v in value]
    return value


def size(length: int | None, lines: int | None = None) -> str:
    if length is None:
        return "none"
    text = f"{length} char{'s' if length != 1 else ''}"
    return f"{lines} lines, {text}" if lines and lines > 1 else text


@dataclass(frozen=True)
class Redactor:
    """One report's policy: ``include_content`` False (the default) shows shapes only."""

    include_content: bool = False
    homes: tuple[str, ...] = ()

    @classmethod
    def for_this_machine(cls, include_content: bool) -> Redactor:
        home = os.path.expanduser("~")
        return cls(include_content=include_content, homes=(home,) if home not in ("", "/") else ())

    # free text -------------------------------------------------------------------------
    def text(self, kind: str, value: str | None, length: int | None = None) -> str | None:
        """A prompt, output, title…: the text itself only with ``include_content``."""
        if value is None and length is None:
            return None
        if self.include_content:
            if value == "":
                return "<empty>"
            return value if value is not None else f"<{kind}, {size(length)}>"
        lines = value.count("\n") + 1 if value else None
        return f"<{kind}, {size(length if length is not None else len(value or ''), lines)}>"

    # names -------------------------------------------------------------------------------
    def name(self, kind: str, value: Any, known: Iterable[str] = (), *, pattern: re.Pattern[str] = _NAME) -> str | None:
        """A tool, agent, model…: shown when known, or plainly shaped and not secret-looking."""
        if value is None:
            return None
        if not isinstance(value, str):
            return f"<{kind}, not text>" if not self.include_content else str(value)
        if self.include_content or value in set(known):
            return value
        if known and pattern is _NAME:  # a closed set: anything else may be private (an MCP tool's name)
            return f"<other {kind}, {size(len(value))}>"
        if pattern.match(value) and not looks_secret(value):
            return value
        return f"<{kind}, {size(len(value))}>"

    def open_name(self, kind: str, value: Any) -> str | None:
        """A name with no closed set (a model or provider id): shown when plainly shaped."""
        return self.name(kind, value)

    def ident(self, value: Any) -> str | None:
        """An OpenCode id (``ses_…``): itself when it has OpenCode's shape."""
        return self.name("id", value, pattern=_ID)

    def version(self, value: Any) -> str | None:
        return self.name("version", value, pattern=_VERSION)

    def migration(self, value: Any) -> str | None:
        return self.name("migration", value, pattern=_MIGRATION)

    def error_name(self, value: Any) -> str | None:
        return self.name("error name", value, pattern=_ERROR_NAME)

    def run_id(self, value: Any) -> str | None:
        return self.name("run id", value, pattern=_RUN_ID)

    # what a live OpenCode says --------------------------------------------------------------
    def request(self, value: PendingRequest) -> PendingRequest:
        """A pending permission or question with every text OpenCode sent as its shape (what
        it would run, what it asks), so the words built from it carry no content."""
        if self.include_content:
            return value
        return replace(
            value,
            id=self.name("request id", value.id) or "",
            session_id=self.ident(value.session_id) or "",
            directory=self.path(value.directory) or "",
            permission=self.name("permission", value.permission, KNOWN_PERMISSIONS) or "",
            patterns=tuple(self.text("pattern", p) or "" for p in value.patterns),
            command=self.text("command", value.command or None) or "",
            question=self.text("question", value.question or None) or "",
            message_id=self.ident(value.message_id) or "",
            call_id="",
            raw="",
        )

    def status(self, value: ServerStatus) -> ServerStatus:
        """OpenCode's status of a busy session with its retry message as a shape."""
        if self.include_content:
            return value
        return replace(
            value,
            type=self.name("status", value.type, ("busy", "retry", "idle")) or "",
            message=self.text("retry error", value.message or None) or "",
            raw="",
        )

    # paths -------------------------------------------------------------------------------
    def path(self, value: str | None, *, project: bool = True) -> str | None:
        """``/home/alice/src/webapp`` -> ``~/src/<project>``: home as ``~``, generic folder names
        kept, every other component ``<dir>`` (the last one ``<project>`` when ``project``)."""
        if value is None or self.include_content:
            return value
        rest, prefix = value, ""
        for home in self.homes:
            if rest == home or rest.startswith(home.rstrip("/") + "/"):
                rest, prefix = rest[len(home.rstrip("/")) :], "~"
                break
        else:
            match = _HOME.match(rest)
            if match:
                rest, prefix = rest[match.end() :], "~"
        sep = "\\" if "\\" in rest and "/" not in rest else "/"
        parts = [p for p in rest.split(sep) if p]
        if not prefix and not value.startswith(("/", "\\")) and not re.match(r"^[A-Za-z]:", value):
            prefix = "<relative>"
        shaped = [p if p in GENERIC_DIRS else "<dir>" for p in parts]
        if project and parts and parts[-1] not in GENERIC_DIRS:
            shaped[-1] = "<project>"
        if not prefix:
            return sep + sep.join(shaped)
        return sep.join([prefix, *shaped])


def number(value: Any) -> float | int | None:
    """A JSON number from the database (booleans and text are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value
