"""The report document (``build.build_report``) as Markdown to paste into an OpenCode issue.

Plain text, no terminal styling. Anything that came from the database, a server or the machine
(a verdict's reason quotes what OpenCode asks) is put in code spans or in the fenced timeline
block (fences longer than any backtick run inside), so its Markdown or HTML is never interpreted
by the issue tracker; only ocinspect's own words (pattern titles, labels) are plain Markdown.
"""

from __future__ import annotations

import re
from typing import Any

from inspector.core.text import humanize_ms

REDACTED_NOTE = (
    "Redacted by ocinspect: prompts, tool inputs and outputs, titles and file paths are "
    "replaced by their shape; no environment, host or user name is included."
)
CONTENT_NOTE = "Includes session content (prompts, tool inputs and outputs, paths): review before sharing."


def code(value: Any) -> str:
    """``value`` as an inline code span that no backtick or pipe inside can end."""
    text = str(value).replace("\r\n", "\n").replace("\r", "\n").replace("\n", " ⏎ ").replace("|", "\\|")
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _time(value: str | None) -> str:
    return value[11:23] if value else "?"


def _tokens(tokens: dict[str, Any] | None, cost: Any) -> str:
    bits = [f"{k.replace('_', ' ')} {v}" for k, v in (tokens or {}).items()]
    if cost is not None:
        bits.append(f"cost {cost}")
    return ", ".join(bits)


def step_line(step: dict[str, Any]) -> str:  # noqa: C901
    kind = step["kind"]
    bits: list[str] = []
    if kind == "assistant":
        model = "/".join(str(x) for x in (step.get("provider"), step.get("model")) if x)
        bits += [model or "?", str(step.get("agent") or "?")]
        bits.append(f"completed {_time(step.get('completed'))}" if step.get("completed") else "unfinished")
        if step.get("finish"):
            bits.append(f"finish {step['finish']}")
        if step.get("error_name"):
            bits.append(f"error {step['error_name']}" + (f": {step['error']}" if step.get("error") else ""))
        if t := _tokens(step.get("tokens"), step.get("cost")):
            bits.append(t)
        if step.get("summary"):
            bits.append("(compaction summary)")
    elif kind == "tool":
        bits += [str(step.get("tool")), str(step.get("status"))]
        if step.get("title") is not None:
            bits.append(f"title {step['title']}")
        if step.get("started"):
            bits.append(f"started {_time(step['started'])}")
        if step.get("duration_ms") is not None:
            bits.append(f"took {humanize_ms(step['duration_ms'])}")
        for key in ("input", "output", "error"):
            if step.get(key) is not None:
                bits.append(f"{key} {step[key]}")
        if step.get("child_session"):
            bits.append(f"subagent {step['child_session']}" + (" (inferred)" if step.get("child_inferred") else ""))
        if step.get("interrupted"):
            bits.append("[interrupted]")
    elif kind == "step-finish":
        bits += [x for x in (step.get("finish"), _tokens(step.get("tokens"), step.get("cost"))) if x]
    elif kind == "retry":
        bits += [
            f"attempt {step.get('attempt') if step.get('attempt') is not None else '?'}",
            *([f"error {step['error']}"] if step.get("error") is not None else []),
        ]
    elif step.get("text") is not None:
        bits.append(str(step["text"]))
    if step.get("stuck") and kind in ("tool", "assistant"):
        bits.append("[STUCK]")
    if step.get("corrupt"):
        bits.append("[corrupt JSON]")
    line = f"{_time(step.get('time'))}  {kind:<11} " + "  ".join(bits)
    return line.replace("\r", " ").replace("\n", " ⏎ ").rstrip()


def _fence(lines: list[str]) -> list[str]:
    longest = max((len(m) for line in lines for m in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}text", *lines, fence]


def render(doc: dict[str, Any]) -> str:  # noqa: C901
    """The whole report as Markdown text (ends with a newline)."""
    out: list[str] = ['# ocinspect report: OpenCode session stuck in "Thinking"', ""]
    out += [f"> {REDACTED_NOTE if doc['redacted'] else CONTENT_NOTE}", ""]
    chain = doc["chain"]
    asked = chain[0] if chain else None
    if asked is not None:
        out += ["## Summary", ""]
        out.append(
            f"- **Verdict:** {asked['verdict']} — {code(asked['reason'])}"
            if asked.get("reason")
            else f"- **Verdict:** {asked['verdict']}"
        )
        for p in asked["patterns"]:
            out.append(
                f"- **Pattern:** {p['title']} ({code(p['name'])}): {p['why']}"
                if p["title"]
                else f"- **Pattern:** {code(p['name'])}"
            )
        if not asked["patterns"]:
            out.append("- **Pattern:** none (nothing stuck was found in this session)")
        out.append(
            f"- **Session:** {code(asked['id'])}, written by OpenCode {code(asked.get('written_by'))}, "
            f"directory {code(asked.get('directory'))}, title {code(asked.get('title'))}"
        )
        out.append(
            f"- **Created:** {asked['created']}; **last activity:** {asked.get('last_activity') or '?'}; "
            f"**stuck since:** {asked.get('stuck_since') or '-'}"
        )
        for warning in asked.get("warnings", []):
            out.append(f"- **Warning:** {code(warning)}")
        out.append("")
    db, oc, plat = doc["database"], doc["opencode"], doc["platform"]
    versions = (
        "; ".join(
            f"{code(v['version'])} ({v['sessions']} session{'s' if v['sessions'] != 1 else ''}, "
            f"last update {v['last_updated']})"
            for v in db["opencode_versions"]
        )
        or "unknown"
    )
    running = {True: "yes", False: "no", None: "cannot tell"}[oc["running"]]
    if oc["versions"]:
        running += " (" + ", ".join(code(v) for v in oc["versions"]) + ")"
    out += [
        "## Environment",
        "",
        "| | |",
        "|---|---|",
        f"| OpenCode versions that wrote this database | {versions} |",
        f"| OpenCode running on it now | {running} |",
        f"| Database | {code(db['file'])}, schema {db['schema']}, newest migration "
        f"{code(db.get('newest_migration'))}, {db['event_log_words']} |",
        f"| ocinspect | {code(plat['ocinspect'])} |",
        f"| Python / SQLite | {code(plat['python'])} / {code(plat['sqlite'])} |",
        f"| OS | {code(plat['os'])} {code(plat['os_release'])} ({code(plat['machine'])}) |",
        "",
    ]
    if len(chain) > 1:
        out += ["## Subagent chain", ""]
        for member in chain:
            patterns = ", ".join(p["title"] or code(p["name"]) for p in member["patterns"]) or "nothing stuck"
            out.append(
                f"- {code(member['id'])} ({member['role']}"
                + (f", parent {code(member['parent'])}" if member.get("parent") else "")
                + f"): {member['verdict']}, {patterns}"
                + (f": {code(member['reason'])}" if member.get("reason") else "")
            )
        out.append("")
    for member in chain:
        out += [f"## Stuck turn of {code(member['id'])}", ""]
        if not member["turn"]:
            out += ["No messages.", ""]
            continue
        lines: list[str] = []
        for step in member["turn"]:
            lines.append(step_line(step))
            if step.get("stopped_here"):
                lines.append("^^^ stopped here")
        out += [*_fence(lines), ""]
    out += ["## What ocinspect repaired", ""]
    if not doc["repairs"]:
        out.append("Nothing: no ocinspect recovery run in this machine's journal touched these sessions.")
    for run in doc["repairs"]:
        state = "committed" if run["committed"] else "not (fully) committed"
        if run["undone"]:
            state += f", undone at {run['undone_at'] or '?'}"
        out.append(
            f"- Run {code(run['run_id'])} at {run['created']}: {run['parts_aborted']} tool part(s) "
            f"aborted, {run['turns_closed']} turn(s) closed"
            + (f", {run['sessions_uncompacted']} compaction mark(s) cleared" if run["sessions_uncompacted"] else "")
            + f" in {', '.join(code(s) for s in run['sessions'])} ({state})"
        )
    out += ["", f"_Generated {doc['generated']} by `ocinspect report`._", ""]
    return "\n".join(out)
