"""``ocinspect report`` against what a live OpenCode says, and where the report is written.

End to end: ``python -m inspector report`` in a subprocess, a stand-in OpenCode *process*
(``tests/support/opencode_process.py``) answering for a database built from the real 1.18.33 DDL
(``tests/support/waiting_db.py``). What OpenCode says about a session (what a permission would run, a
question's text, why a model call is retried) is data like the database's fields: it must not
leak into a redacted report, and it must never be Markdown or HTML in it.
"""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from inspector.core.report.markdown import render
from inspector.core.report.redact import scrub, scrub_tree
from tests.support.cli import invoke, ocinspect
from tests.support.opencode_process import Serve, opencode_process
from tests.support.releases import SESSIONS
from tests.support.secret_corpus import CORPUS, survivors
from tests.support.waiting_db import DIR, AskingChain, build_asking_chain

LINES = [line for line, _ in CORPUS.values()]
BASH = SESSIONS["stuck-bash"][0]
INJECTION = "![x](https://evil.example/p.png) <img src=https://evil.example/q.png> [y](https://evil.example/l)"


def now_ms() -> int:
    return int(time.time() * 1000)


def asks(chain: AskingChain, *, commands: list[str], questions: list[str]) -> Serve:
    return Serve(
        DIR,
        busy=chain.busy,
        permissions=[
            (c.session, c.message, c.call, command) for c, command in zip(chain.permissions, commands, strict=True)
        ],
        questions=[(c.session, c.message, c.call, q) for c, q in zip(chain.questions, questions, strict=True)],
    )


def report(db: Path, session: str, *extra: str) -> str:
    done = ocinspect("--db", str(db), "report", session, *extra)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def asking(tmp_path: Path) -> Iterator[tuple[Path, AskingChain]]:
    """Every corpus line as a command waiting for permission and as a question, in one chain."""
    db = tmp_path / "opencode.db"
    chain = build_asking_chain(db, now_ms(), commands=LINES, questions=LINES)
    with opencode_process(db, asks(chain, commands=LINES, questions=LINES)):
        yield db, chain


@pytest.mark.parametrize("as_json", [False, True], ids=["markdown", "json"])
def test_what_opencode_asks_does_not_leak_into_the_redacted_report(
    asking: tuple[Path, AskingChain], as_json: bool
) -> None:
    db, chain = asking
    text = report(db, chain.parent, *(["--json"] if as_json else []))
    if as_json:
        members = json.loads(text)["chain"]
        assert len(members) == 1 + 2 * len(LINES)
        assert {m["verdict"] for m in members} == {"waiting"}  # the stand-in was seen as OpenCode
    assert survivors(text) == {}
    # the reason still says what kind of thing waits, as its shape
    assert all(bit in text for bit in ("bash wants to run", "<command, ", "question: ", "<question, "))


@pytest.mark.parametrize("as_json", [False, True], ids=["markdown", "json"])
def test_why_opencode_retries_does_not_leak_into_the_redacted_report(tmp_path: Path, as_json: bool) -> None:
    db = tmp_path / "opencode.db"
    chain = build_asking_chain(db, now_ms(), retries=len(LINES))
    serve = Serve(
        DIR,
        busy=chain.busy,
        statuses={
            sid: {"type": "retry", "attempt": 3, "message": line, "next": now_ms() + 16_000}
            for sid, line in zip(chain.retrying, LINES, strict=True)
        },
    )
    with opencode_process(db, serve):
        text = report(db, chain.parent, *(["--json"] if as_json else []))
    if as_json:
        members = json.loads(text)["chain"]
        assert {m["verdict"] for m in members} == {"live"}
    assert survivors(text) == {}
    assert "retrying, attempt 3: <retry error, " in text


def html_of(markdown: str) -> str:
    """The report as an issue tracker would show it (CommonMark with tables, raw HTML allowed)."""
    return str(MarkdownIt("commonmark").enable("table").render(markdown))


@pytest.mark.parametrize("content", [False, True], ids=["redacted", "include-content"])
def test_a_question_is_never_markdown_or_html_in_the_report(tmp_path: Path, content: bool) -> None:
    db = tmp_path / "opencode.db"
    command = "curl `x` https://evil.example/a " + INJECTION
    chain = build_asking_chain(db, now_ms(), commands=[command], questions=[INJECTION])
    with opencode_process(db, asks(chain, commands=[command], questions=[INJECTION])):
        for session in (chain.parent, chain.questions[0].session, chain.permissions[0].session):
            markdown = report(db, session, *(["--include-content"] if content else []))
            html = html_of(markdown)
            assert "<img" not in html and "href=" not in html, html
            if content:  # the text is there, shown as text
                assert "![x](https://evil.example/p.png)" in markdown


def test_the_reasons_are_shapes_without_the_scrub_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each reason is said again from shapes: the last scrub pass is only a second net."""
    import inspector.core.report.build as build
    from inspector.core.db.store import open_store

    monkeypatch.setattr(build, "scrub_tree", lambda doc: doc)
    db = tmp_path / "opencode.db"
    now = now_ms()
    chain = build_asking_chain(db, now, commands=LINES, questions=LINES)
    store = open_store(db)
    try:
        doc = build.build_report(store, chain.parent, live=chain.live(), now=now, journal_directory=tmp_path / "none")
    finally:
        store.dispose()
    reasons = [m["reason"] for m in doc["chain"]]
    assert len(reasons) == 1 + 2 * len(LINES) and all("<command, " in r or "<question, " in r for r in reasons)
    assert survivors(json.dumps(doc, ensure_ascii=False) + render(doc)) == {}
    assert scrub_tree(doc) == doc  # and the scrub pass finds nothing left to take


def test_the_scrub_pass_alone_catches_every_format_of_the_corpus() -> None:
    """The second net, measured on its own: every planted format, one line at a time."""
    assert survivors("\n".join(scrub(line) for line in LINES)) == {}


@pytest.mark.parametrize("scenario", ["stuck-bash", "stuck-two", "stuck-pending", "stuck-task"])
def test_the_scrub_pass_leaves_ocinspect_s_own_words_alone(fixture_db: Callable[..., Path], scenario: str) -> None:
    """No false positive on what a redacted report holds anyway (labels, shapes, versions, times)."""
    import inspector.core.report.build as build
    from inspector.core.db.store import open_store
    from inspector.core.opencode.live import OFFLINE

    db = fixture_db(scenario)
    store = open_store(db)
    try:
        doc = build.build_report(store, SESSIONS[scenario][0], live=OFFLINE, journal_directory=db.parent / "none")
    finally:
        store.dispose()
    assert scrub_tree(doc) == doc


# -- where the report is written -------------------------------------------------------------


def snapshot(paths: list[Path]) -> dict[str, bytes | None]:
    return {p.name: p.read_bytes() if p.exists() else None for p in paths}


@pytest.fixture
def live_wal_db(fixture_db: Callable[..., Path]) -> Iterator[Path]:
    """The real 1.18.33 stuck-bash database, held open in WAL mode (its -wal and -shm exist)."""
    import sqlite3

    db = fixture_db("stuck-bash")
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TEMP TABLE keep (x)")
    conn.execute("SELECT count(*) FROM session").fetchone()
    assert Path(f"{db}-wal").exists() and Path(f"{db}-shm").exists()
    yield db
    conn.close()


def refused_by(real_process: bool, *args: str) -> tuple[int, str]:
    """Exit code and stderr of ``ocinspect ARGS``: the real process (what a user's shell runs: one
    line, exit 2, no traceback) for the first name of a file, click's runner in-process for the
    file's other names, which take the same refusal in core (an exception fails the test)."""
    if real_process:
        done = ocinspect(*args)
        return done.returncode, done.stderr
    result = invoke(*args)
    return result.exit_code, result.stderr


def own_journal_file(db: Path) -> Path:
    """Recover the fixture, so ocinspect's journal holds a run file; that file."""
    done = ocinspect("--db", str(db), "recover", "--all", "--yes", "--direct")
    assert done.returncode == 0, done.stderr
    (run,) = [p for p in (Path(os.environ["XDG_STATE_HOME"]) / "ocinspect" / "runs").rglob("*") if p.is_file()]
    return run


@pytest.mark.parametrize("content", [False, True], ids=["redacted", "include-content"])
def test_report_never_writes_over_the_database_or_its_side_files(
    live_wal_db: Path, tmp_path: Path, content: bool
) -> None:
    db = live_wal_db
    family = [db, *(Path(f"{db}{s}") for s in ("-wal", "-shm", "-journal"))]
    symlink, hardlink = tmp_path / "report-link.md", tmp_path / "report-hard.md"
    symlink.symlink_to(db)
    os.link(db, hardlink)
    before = snapshot(family)
    for target in [*family, symlink, hardlink, tmp_path / "." / db.name]:
        args = ("--db", str(db), "report", BASH, "-o", str(target), *(["--include-content"] if content else []))
        code, stderr = refused_by(target == db, *args)
        assert code == 2, (target, stderr)
        last = stderr.strip().splitlines()[-1]
        assert last.startswith(f"ocinspect: error: will not write the report to {target}: it is "), last
        assert "Traceback" not in stderr
        assert snapshot(family) == before, target
    assert not Path(f"{db}-journal").exists()


def test_report_never_writes_over_ocinspect_s_own_journal(fixture_db: Callable[..., Path], tmp_path: Path) -> None:
    db = fixture_db("stuck-bash")
    run = own_journal_file(db)
    hardlink = tmp_path / "report.md"
    os.link(run, hardlink)
    kept = run.read_bytes()
    for target in (run, hardlink, run.parent / "new-report.md"):
        code, stderr = refused_by(target == run, "--db", str(db), "report", BASH, "-o", str(target))
        assert code == 2, (target, stderr)
        assert stderr.startswith(f"ocinspect: error: will not write the report to {target}: it is ")
        assert run.read_bytes() == kept
    assert not (run.parent / "new-report.md").exists()
    assert ocinspect("--db", str(db), "undo").returncode == 0  # the journal still works


@pytest.mark.parametrize("exists", [True, False], ids=["existing-0644", "new"])
def test_a_content_report_is_0600_even_over_an_existing_file(
    fixture_db: Callable[..., Path], tmp_path: Path, exists: bool
) -> None:
    db = fixture_db("stuck-bash")
    out = tmp_path / "report.md"
    if exists:
        out.write_text("an older report\n")
        out.chmod(0o644)
    done = ocinspect("--db", str(db), "report", BASH, "--include-content", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert out.read_text().startswith("# ocinspect report") and "an older report" not in out.read_text()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".report.md")] == []  # no temporary left


def test_a_redacted_report_keeps_the_mode_of_the_file_it_replaces(
    fixture_db: Callable[..., Path], tmp_path: Path
) -> None:
    db = fixture_db("stuck-bash")
    out = tmp_path / "report.md"
    out.write_text("old\n")
    out.chmod(0o640)
    done = ocinspect("--db", str(db), "report", BASH, "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o640 and out.read_text().startswith("# ocinspect report")
