"""The turn's story (diagnose/timeline.py) on real fixtures of every release and built databases.

Also proves the two promises of issue 20 §1 on the statements actually run: every read of
``part``/``message`` goes through an index (EXPLAIN QUERY PLAN has no ``SCAN part``/``SCAN
message``), and no large ``data`` value (a big tool output, a big input) leaves SQLite whole.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from inspector.core.db.store import Store, open_store
from inspector.core.diagnose import timeline as tl
from inspector.core.errors import LegacyStorage, OpenCode2xSchema, SessionNotFound
from inspector.core.synth.builder import DatabaseBuilder
from tests.support.releases import RELEASES, FixtureCase, fixture_file

T0 = 1795500000000
BIG = 300_000  # characters of the large output / input below: far more than SMALL_ROW


@contextmanager
def statements(store: Store) -> Iterator[list[tuple[str, Any]]]:
    """Every SQL statement (and its parameters) run on ``store`` while the block runs."""
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        seen.append((sql, params))

    assert store.engine is not None
    event.listen(store.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", record)


def plans(path: Path, seen: list[tuple[str, Any]]) -> list[str]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [
            " | ".join(str(r[3]) for r in conn.execute("EXPLAIN QUERY PLAN " + sql, params))
            for sql, params in seen
            if sql.lstrip().upper().startswith(("SELECT", "WITH"))
        ]
    finally:
        conn.close()


FULL_SCAN = re.compile(r"\bSCAN (part|message)\b")


def test_every_fixture_story_stops_at_its_stuck_parts(release_fixture: FixtureCase) -> None:
    store = open_store(release_fixture.path)
    expected = RELEASES[release_fixture.release.version].fixtures[release_fixture.scenario]
    for stuck in expected:
        story = tl.read_timeline(store, stuck.id)
        main = story.main
        assert main.turns and main.turns[-1].messages, stuck.id
        if stuck.parts:
            assert main.stop is not None and main.stop.kind in ("tool", "message")
            assert set(main.stop.part_ids) >= {p.id for p in stuck.parts}
            for part in stuck.parts:
                entry = next(e for e in main.entries if e.id == part.id)
                assert (entry.tool, entry.status, entry.start, entry.stuck) == (
                    part.tool,
                    part.status,
                    part.started,
                    True,
                )
                if part.child:
                    assert (entry.child_session_id, entry.child_inferred) == (part.child, part.child_inferred)
        elif stuck.unfinished:
            assert main.stop is not None and main.stop.message_id in stuck.unfinished
        # the chain: the parent that waits on it first, then the subagents it waits on
        ids = [s.session.id for s in story.sessions]
        if stuck.parent_id:
            assert ids[0] == stuck.parent_id and story.sessions[1].depth == 1
            assert story.sessions[1].parent_part_id is not None
        for child in stuck.children:
            assert child in ids and story.get(child).depth == story.main.depth + 1  # type: ignore[union-attr]
        assert len(ids) == len(set(ids))
    store.dispose()


def test_clean_session_has_no_stop_and_records_steps(fixture_db: Any) -> None:
    story = tl.read_timeline(open_store(fixture_db("clean")), "ses_df18a9797ffeSTSvheGr94bTfm").main
    assert story.stop is None
    [turn] = story.turns
    assert turn.prompt is not None and turn.prompt.prompt_text == "QUICK run the quick tests"
    kinds = [e.kind for m in turn.replies for e in m.entries]
    assert kinds == ["step-start", "tool", "step-finish", "step-start", "text", "step-finish"]
    tool = next(e for e in story.entries if e.kind == "tool")
    assert (tool.status, tool.input_summary, tool.output_tail, tool.duration_ms, tool.title) == (
        "completed",
        "echo ok",
        "ok\n",
        94,
        "echo ok",
    )
    finish = next(e for e in story.entries if e.kind == "step-finish")
    assert finish.reason == "tool-calls" and finish.tokens == tl.Tokens() and finish.cost == 0.0
    assert [m.finish for m in turn.replies] == ["tool-calls", "stop"]


def build(path: Path, *, turns: int = 5) -> dict[str, str]:
    """A session of ``turns`` turns; the last one has reasoning, a huge completed output, a huge
    write input, a failed tool, a retry, a corrupt part, and a bash left running."""
    ids: dict[str, str] = {}
    with DatabaseBuilder(path) as b:
        project = b.project("/home/dev/src/webapp", created=T0)
        sid = ids["session"] = b.session(project_id=project, title="big", directory="/home/dev/src/webapp", created=T0)
        t = T0
        for n in range(turns):
            t += 10_000
            user = b.user_message(sid, f"prompt {n}\nsecond line", created=t)
            ids[f"prompt{n}"] = user
            last = n == turns - 1
            reply = b.assistant_message(
                sid, user, created=t + 100, completed=None if last else t + 900, finish=None if last else "stop"
            )
            if not last:
                b.part(reply, sid, {"type": "text", "text": f"answer {n}"}, created=t + 200)
                continue
            ids["reply"] = reply
            b.part(
                reply,
                sid,
                {"type": "reasoning", "text": "thinking hard\nabout it", "time": {"start": t + 150, "end": t + 160}},
                created=t + 150,
            )
            ids["big_out"] = b.tool_part(
                reply,
                sid,
                tool="bash",
                status="completed",
                created=t + 200,
                started=t + 201,
                ended=t + 5201,
                tool_input={"command": "cat big.log"},
                output="HEAD" + "x" * BIG + "THE-END",
            )
            ids["big_in"] = b.tool_part(
                reply,
                sid,
                tool="write",
                status="completed",
                created=t + 300,
                tool_input={"filePath": "src/big.py", "content": "y" * BIG},
                output="written",
            )
            ids["failed"] = b.part(
                reply,
                sid,
                {
                    "type": "tool",
                    "tool": "read",
                    "callID": "c1",
                    "state": {
                        "status": "error",
                        "input": {"filePath": "nope"},
                        "error": "File not found: nope",
                        "time": {"start": t + 400, "end": t + 410},
                    },
                },
                created=t + 400,
            )
            ids["retry"] = b.part(
                reply,
                sid,
                {
                    "type": "retry",
                    "attempt": 2,
                    "error": {"name": "APIError", "data": {"message": "503 overloaded"}},
                    "time": {"created": t + 450},
                },
                created=t + 450,
            )
            ids["corrupt"] = b.part(reply, sid, '{"type":"text","text":', created=t + 460)
            b.part(
                reply,
                sid,
                {
                    "type": "step-finish",
                    "reason": "tool-calls",
                    "cost": 0.0125,
                    "tokens": {"input": 1200, "output": 300, "reasoning": 50, "cache": {"read": 4000, "write": 10}},
                },
                created=t + 470,
            )
            ids["running"] = b.tool_part(
                reply,
                sid,
                tool="bash",
                status="running",
                created=t + 500,
                started=t + 501,
                tool_input={"command": "pytest -x"},
                output="collected 12 items\n" + "." * BIG + "\nFAILED",
            )
    return ids


def test_last_three_turns_in_order_with_tails_and_stop(tmp_path: Path) -> None:
    path = tmp_path / "big.db"
    ids = build(path)
    store = open_store(path)
    story = tl.read_timeline(store, ids["session"]).main
    assert [t.prompt.id for t in story.turns if t.prompt] == [ids["prompt2"], ids["prompt3"], ids["prompt4"]]
    assert story.turns[0].prompt is not None and story.turns[0].prompt.prompt_text.startswith("prompt 2\n")
    assert not story.truncated
    entries = {e.id: e for e in story.entries}
    out = entries[ids["big_out"]]
    assert out.output_tail.endswith("THE-END") and len(out.output_tail) == tl.OUTPUT_TAIL
    assert out.output_chars == BIG + len("HEADTHE-END") and out.output_truncated and out.duration_ms == 5000
    big_in = entries[ids["big_in"]]
    assert big_in.input_summary == "src/big.py" and big_in.input_chars > BIG
    assert entries[ids["failed"]].error == "File not found: nope" and entries[ids["failed"]].status == "error"
    assert (entries[ids["retry"]].attempt, entries[ids["retry"]].error) == (2, "503 overloaded")
    assert entries[ids["corrupt"]].kind == "corrupt"
    finish = next(e for e in story.entries if e.kind == "step-finish")
    assert finish.tokens == tl.Tokens(1200, 300, 50, 4000, 10) and finish.cost == 0.0125
    reasoning = next(e for e in story.entries if e.kind == "reasoning")
    assert reasoning.first_lines() == ["thinking hard", "about it"] and reasoning.duration_ms == 10
    running = entries[ids["running"]]
    assert running.stuck and running.output_tail.endswith("\nFAILED") and running.end is None
    assert story.stop == tl.Stop(
        kind="tool",
        message_id=ids["reply"],
        part_ids=(ids["running"],),
        since=running.start,
        reason="bash left running: no result was ever written",
    )
    assert [e.id for e in story.entries][-1] == ids["running"]  # the story ends where it stopped
    assert tl.read_timeline(store, ids["session"], turns=1).main.turns[0].prompt.id == ids["prompt4"]  # type: ignore[union-attr]
    assert len(tl.read_timeline(store, ids["session"], turns=10).main.turns) == 5


def test_reads_use_indexes_and_large_values_stay_in_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "big.db"
    ids = build(path)
    store = open_store(path)
    with statements(store) as seen:
        tl.read_timeline(store, ids["session"])
    found = plans(path, seen)
    assert len(found) >= 5
    assert not [p for p in found if FULL_SCAN.search(p)], found
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        longest = max(
            len(str(v))
            for sql, params in seen
            if sql.lstrip().upper().startswith(("SELECT", "WITH"))
            for row in conn.execute(sql, params)
            for v in row
        )
    finally:
        conn.close()
    assert longest <= tl.SMALL_ROW < BIG


@pytest.mark.parametrize("version", [v for v, r in RELEASES.items() if r.fixtures])
def test_query_plans_on_every_release_schema(version: str, tmp_path: Path) -> None:
    scenario = "stuck-task"
    path = fixture_file(version, scenario)
    store = open_store(path)
    with statements(store) as seen:
        for stuck in RELEASES[version].fixtures[scenario]:
            tl.read_timeline(store, stuck.id)
    found = plans(path, seen)
    message_or_part = [p for p in found if re.search(r"\b(part|message)\b", p)]
    assert message_or_part and not [p for p in found if FULL_SCAN.search(p)], found
    assert any("message_session_time_created_id_idx" in p for p in found)
    assert any("part_message_id_id_idx" in p for p in found)
    store.dispose()


def test_part_detail_is_whole_on_request(tmp_path: Path) -> None:
    path = tmp_path / "big.db"
    ids = build(path)
    store = open_store(path)
    detail = tl.part_detail(store, ids["big_out"])
    assert detail is not None and detail.output.startswith("HEAD") and detail.output.endswith("THE-END")
    assert detail.output_chars == len(detail.output) and '"command": "cat big.log"' in detail.input_json
    assert tl.part_detail(store, ids["corrupt"]).corrupt  # type: ignore[union-attr]
    assert tl.part_detail(store, "prt_gone") is None


def test_unknown_session_and_other_schemas(tmp_path: Path, fixture_db: Any) -> None:
    with pytest.raises(SessionNotFound):
        tl.read_timeline(open_store(fixture_db("clean")), "ses_nope")
    v2 = tmp_path / "v2.db"
    conn = sqlite3.connect(v2)
    conn.executescript("CREATE TABLE session_v2 (id TEXT PRIMARY KEY); CREATE TABLE event (id TEXT);")
    conn.close()
    with pytest.raises(OpenCode2xSchema):
        tl.read_timeline(open_store(v2), "ses_x")
    legacy = tmp_path / "data"
    (legacy / "storage" / "session").mkdir(parents=True)
    store = open_store(legacy)
    assert store.schema == "legacy"
    with pytest.raises(LegacyStorage):
        tl.read_timeline(store, "ses_x")
