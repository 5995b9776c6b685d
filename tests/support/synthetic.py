"""Small synthetic databases for patterns the real fixtures do not cover, built from real DDL."""

from __future__ import annotations

from pathlib import Path

from inspector.core.synth.builder import DatabaseBuilder, JsonStyle

T0 = 1795530000000
DIR = "/home/dev/src/api"


def every_pattern(path: Path, json_style: JsonStyle = "compact") -> dict[str, str]:
    """One session per pattern; returns pattern -> session id."""
    ids: dict[str, str] = {}
    with DatabaseBuilder(path, seed=7, json_style=json_style) as b:
        project = b.project(DIR, created=T0)

        def turn(title: str, offset: int, **session_kw: object) -> tuple[str, str, int]:
            t = T0 + offset
            sid = b.session(project_id=project, title=title, directory=DIR, created=t, **session_kw)  # type: ignore[arg-type]
            user = b.user_message(sid, f"prompt for {title}", created=t + 100)
            return sid, user, t

        sid, user, t = turn("finished fine", 0)
        msg = b.assistant_message(sid, user, created=t + 200, completed=t + 900, finish="stop")
        b.tool_part(
            msg, sid, tool="bash", status="completed", tool_input={"command": "ls"}, created=t + 300, output="a\nb"
        )
        ids["ok"] = sid

        sid, user, t = turn("question left open", 10_000)
        msg = b.assistant_message(sid, user, created=t + 200)
        b.tool_part(
            msg,
            sid,
            tool="question",
            status="running",
            created=t + 300,
            tool_input={"questions": [{"question": "Deploy to prod?", "options": []}]},
        )
        ids["question-wait"] = sid

        sid, user, t = turn("leftover in finished turn", 20_000)
        msg = b.assistant_message(sid, user, created=t + 200, completed=t + 5000, finish="stop")
        b.tool_part(msg, sid, tool="read", status="running", tool_input={"filePath": "/etc/hosts"}, created=t + 300)
        ids["parts-in-finished-turn"] = sid

        sid, user, t = turn("compacting forever", 30_000, time_compacting=T0 + 30_500)
        msg = b.assistant_message(sid, user, created=t + 600, summary=True)
        ids["compaction"] = sid

        sid, user, t = turn("model stopped talking", 40_000)
        msg = b.assistant_message(sid, user, created=t + 200)
        b.part(msg, sid, {"type": "text", "text": "Let me think"}, created=t + 300)
        ids["interrupted-turn"] = sid

        sid, _, t = turn("wrapped ids", 50_000, version="1.18.10")
        # An assistant reply whose id sorts *after* a newer user prompt (the id clock wrapped).
        late_user = b.new_id("msg", 1)  # tiny time prefix: sorts first
        reply = b.new_id("msg", T0 + 99_999_999)
        b.raw(
            "INSERT INTO message (id, session_id, time_created, time_updated, data) VALUES (:id, :sid, :t, :t, :data)",
            id=reply,
            sid=sid,
            t=t + 200,
            data=b.dumps({"role": "assistant", "time": {"created": t + 200, "completed": t + 300}, "finish": "stop"}),
        )
        b.raw(
            "INSERT INTO message (id, session_id, time_created, time_updated, data) VALUES (:id, :sid, :t, :t, :data)",
            id=late_user,
            sid=sid,
            t=t + 5000,
            data=b.dumps({"role": "user", "time": {"created": t + 5000}}),
        )
        ids["ignores-prompts"] = sid
    return ids
