"""Issue 20 §3: ``ocinspect report`` — what a person can paste into an OpenCode bug report.

The redaction proof: ``secret_db`` plants six secret-looking strings in every field of a real
1.18.33 database (ids, directory, title, prompts, tool names, inputs, outputs, errors, models,
agents, versions, numbers…); none of them, nor any fragment of one, reaches the default report,
Markdown or JSON, before or after a recovery; ``--include-content`` does show the content.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from inspector.cli import cli
from inspector.core.db.store import open_store
from inspector.core.opencode.live import OFFLINE
from inspector.core.report.build import build_report
from inspector.core.report.markdown import render
from inspector.core.report.redact import Redactor, scrub
from tests.support.cli import invoke as run
from tests.support.releases import NOW, SESSIONS
from tests.support.secret_db import SecretIds, build_secret_db

BASH = SESSIONS["stuck-bash"][0]


def fragments(secret: str) -> list[str]:
    """The secret and the parts of it that would still identify it (random runs, names)."""
    pieces = [secret, *re.findall(r"[A-Za-z0-9]{10,}", secret)]
    return [p for p in pieces if p not in ("eyJhbGciOiJIUzI1NiJ9",)]  # the JWT header is public


def leaks(text: str, planted: list[str]) -> list[str]:
    found = [f for s in planted for f in fragments(s) if f in text]
    found += [w for w in ("alice", "example.com", "/home/", "id_rsa") if w in text.lower()]
    return found


@pytest.fixture
def secret_db(tmp_path: Path) -> tuple[Path, SecretIds]:
    path = tmp_path / "opencode.db"
    return path, build_secret_db(path)


def test_the_planted_database_is_really_stuck_and_full(secret_db: tuple[Path, SecretIds]) -> None:
    path, ids = secret_db
    planted = ids.planter.all
    assert len(ids.planter.planted) == 146 and len(planted) == 6 * len(ids.planter.planted)
    dump = "\n".join(
        str(row)
        for table in ("session", "message", "part", "project")
        for row in sqlite3.connect(path).execute(f"SELECT * FROM {table}")
    )
    assert all(s in dump or json.dumps(s)[1:-1] in dump for s in planted)
    done = run("--db", str(path), "scan", "--json")
    stuck = {s["id"]: s for s in json.loads(done.output)["sessions"]}
    assert {ids.parent, ids.child} <= set(stuck) and stuck[ids.parent]["verdict"] == "stale"


@pytest.mark.parametrize("as_json", [False, True], ids=["markdown", "json"])
def test_no_planted_string_reaches_the_default_report(secret_db: tuple[Path, SecretIds], as_json: bool) -> None:
    path, ids = secret_db
    planted = ids.planter.all
    for session in (ids.parent, ids.child):
        done = run("--db", str(path), "report", session, *(["--json"] if as_json else []))
        assert done.exit_code == 0, done.output
        assert leaks(done.output, planted) == []
        assert "Crash orphan" in done.output and "<bash command," in done.output
    # after a recovery too: the journal holds every before-image, the report reads the journal
    assert run("--db", str(path), "recover", "--all", "--yes", "--direct").exit_code == 0
    done = run("--db", str(path), "report", ids.parent, *(["--json"] if as_json else []))
    assert done.exit_code == 0
    assert leaks(done.output, planted) == []
    assert "Tool execution aborted" in done.output  # OpenCode's own words stay
    if as_json:
        (repair,) = json.loads(done.output)["repairs"]
        assert repair["parts_aborted"] == 2 and repair["turns_closed"] == 2 and repair["committed"]


def test_structural_redaction_holds_without_the_scrub_pass(
    secret_db: tuple[Path, SecretIds], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shapes alone keep every planted string out; the scrub pass is only a second net."""
    import inspector.core.report.build as build

    monkeypatch.setattr(build, "scrub_tree", lambda doc: doc)
    path, ids = secret_db
    store = open_store(path)
    try:
        for session in (ids.parent, ids.child):
            doc = build.build_report(store, session, live=OFFLINE, journal_directory=path.parent / "none")
            text = json.dumps(doc, ensure_ascii=False) + render(doc)
            assert leaks(text, ids.planter.all) == []
    finally:
        store.dispose()


def test_the_timeline_fields_are_shaped(secret_db: tuple[Path, SecretIds]) -> None:
    """Titles, retries, subtasks, agents, files: what the timeline carries comes as its shape."""
    path, ids = secret_db
    doc = json.loads(run("--db", str(path), "report", ids.parent, "--json").output)
    turn = doc["chain"][0]["turn"]
    by_kind = {s["kind"]: s for s in turn}
    assert {"retry", "subtask", "agent", "file", "patch", "compaction", "reasoning", "step-finish"} <= set(by_kind)
    assert by_kind["retry"]["attempt"] == 2 and by_kind["retry"]["error"].startswith("<retry error, ")
    assert by_kind["subtask"]["text"].startswith("<subtask name, ")
    assert by_kind["agent"]["text"].startswith("<agent name, ")
    assert by_kind["file"]["text"].startswith("<file name, ")
    assert by_kind["patch"]["text"] == "1 file(s)"
    tools = {s["tool"]: s for s in turn if s["kind"] == "tool"}
    assert tools["read"]["title"].startswith("<title, ") and tools["task"]["title"].startswith("<title, ")
    assert tools["task"]["stopped_here"] and tools["task"]["child_session"] == doc["chain"][1]["id"]
    assistant = by_kind["assistant"]
    assert assistant["provider"].startswith("<provider, ") and assistant["stuck"]
    assert sum(1 for s in turn if s["stopped_here"]) == 1


def test_include_content_shows_the_content_with_a_warning(secret_db: tuple[Path, SecretIds]) -> None:
    path, ids = secret_db
    planter = ids.planter
    done = CliRunner().invoke(
        cli, ["--db", str(path), "report", ids.parent, "--include-content", "--json"], catch_exceptions=False
    )
    assert done.exit_code == 0
    assert done.stderr.startswith("ocinspect: warning: --include-content")
    doc = json.loads(done.stdout)
    text = json.dumps(doc)
    shown = [
        "session.title",
        "session.directory",
        "user message.prompt",
        "task.description",
        "assistant.modelID",
        "custom tool.name",
        "custom tool.error",
        "reasoning.text",
        "answer.text",
        "child session.id",
        "session.version",
        "bash.command",
        "bash.output",
        "child assistant.error.message",
        # read through the timeline (diagnose/timeline.py) since the report uses it
        "read.title",
        "task.title",
        "bash.title",
        "file.filename",
        "assistant.providerID",
        "retry.error.message",
        "subtask.description",
        "agent.name",
        "assistant.error.message",
    ]
    for name in shown:
        value = " ".join(planter.planted[name])
        assert value in text or json.dumps(value)[1:-1] in text, name
    assert doc["redacted"] is False


def test_report_to_a_file(secret_db: tuple[Path, SecretIds], tmp_path: Path) -> None:
    path, ids = secret_db
    out = tmp_path / "report.md"
    done = run("--db", str(path), "report", ids.child, "-o", str(out))
    assert done.exit_code == 0
    text = out.read_text()
    assert text.startswith("# ocinspect report") and "^^^ stopped here" in text
    assert leaks(text, ids.planter.all) == []


def test_report_on_a_real_fixture(fixture_db: Callable[..., Path]) -> None:
    """The 1.18.33 bash crash: version, schema, pattern, the timeline to the stuck bash, platform."""
    db = fixture_db("stuck-bash")
    store = open_store(db)
    try:
        doc = build_report(
            store, BASH, live=OFFLINE, now=NOW, tool_version="0.1.0", journal_directory=db.parent / "no-journal"
        )
    finally:
        store.dispose()
    assert doc["database"]["schema"] == "v1"
    assert [v["version"] for v in doc["database"]["opencode_versions"]] == ["1.18.33"]
    (member,) = doc["chain"]
    assert member["verdict"] == "stale" and [p["name"] for p in member["patterns"]] == ["crash-orphan"]
    assert member["directory"] == "~/src/<project>"
    kinds = [s["kind"] for s in member["turn"]]
    assert kinds[:2] == ["user", "prompt"] and "tool" in kinds
    last = next(s for s in member["turn"] if s["stopped_here"])
    assert last["kind"] == "tool" and last["tool"] == "bash" and last["status"] == "running"
    assert last["input"].startswith("<bash command, ")
    assert set(doc["platform"]) == {"os", "os_release", "machine", "python", "sqlite", "ocinspect"}
    text = render(doc)
    assert "## Environment" in text and "`1.18.33`" in text and "^^^ stopped here" in text


def test_unknown_session_is_one_line_and_2(fixture_db: Callable[..., Path]) -> None:
    done = run("--db", str(fixture_db("stuck-bash")), "report", "ses_nope")
    assert done.exit_code == 2 and done.output.startswith("ocinspect: error: no session ses_nope")


@pytest.mark.parametrize(
    ("path", "shape"),
    [
        ("/home/alice/src/webapp", "~/src/<project>"),
        ("/Users/bob/code/secret-client/api", "~/code/<dir>/<project>"),
        ("/home/alice", "~"),
        ("/srv/build/acme", "/srv/build/<project>"),
        ("C:\\Users\\carol\\work\\thing", "~\\work\\<project>"),
    ],
)
def test_path_shapes(path: str, shape: str) -> None:
    assert Redactor().path(path) == shape


def test_scrub_catches_each_family() -> None:
    text = (
        "key sk-ant-api03-abcdefghijklmnop ghp_" + "a1" * 18 + " AKIAIOSFODNN7EXAMPLE "
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N "
        "bob@corp.example /home/bob/x https://u:pw@host/ Bearer abcdefghijklmnopqrstu"
    )
    cleaned = scrub(text)
    for bit in ("sk-ant", "ghp_", "AKIA", "eyJ", "bob", "pw@", "abcdefghijklmnopqrstu"):
        assert bit not in cleaned, bit


@pytest.mark.parametrize("content", [False, True], ids=["redacted", "include-content"])
def test_terminal_controls_from_the_database_stay_escaped(tmp_path: Path, content: bool) -> None:
    from tests.support.hostile_db import build_hostile, unsafe_characters

    db = tmp_path / "opencode.db"
    ids = build_hostile(db)
    for extra in ([], ["--json"]):
        done = run("--db", str(db), "report", ids.parent, *extra, *(["--include-content"] if content else []))
        assert done.exit_code == 0
        assert unsafe_characters(done.stdout) == []
