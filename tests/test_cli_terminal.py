"""What a new user meets at a terminal: the demo's temporary files, the TUI without a terminal,
text wrapped to the width and coloured on a terminal, the pager, ``paths``, shell completion.

Terminal cases run the real command (``python -m inspector``) on a pseudo-terminal, as a
person's shell would; the rest use click's runner (never a terminal: 80 columns, no colour).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from inspector.cli import cli
from inspector.core.synth.builder import DatabaseBuilder
from inspector.core.synth.demo import DemoSessions, build_demo_sessions
from tests.support.cli import ocinspect

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = ("scan", "show", "recover", "undo", "watch", "runs", "run", "report", "open", "paths")


def terminal_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The test's isolated environment, its own TMPDIR (to see what a run leaves), no width."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR", "PAGER", "LESS")}
    (tmp_path / "tmp").mkdir(exist_ok=True)
    return {**env, "TMPDIR": str(tmp_path / "tmp"), "TERM": "xterm-256color", **extra}


def in_terminal(
    args: list[str],
    env: dict[str, str],
    *,
    keys: bytes = b"",
    after: bytes = b"",
    send: int | None = None,
    rows: int = 24,
    columns: int = 80,
    timeout: float = 60,
) -> tuple[int, bytes]:
    """Run ``ocinspect ARGS`` with stdin, stdout and stderr on a pseudo-terminal of that size;
    type ``keys`` (or ``send`` that signal) once ``after`` has been drawn. Returns the exit code
    and all it wrote."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "inspector", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=ROOT,
        start_new_session=True,
    )
    os.close(slave)
    out = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: every end of the terminal is closed
                    break
                if not chunk:
                    break
                out += chunk
            if keys and after in out:
                os.write(master, keys)
                keys = b""
            if send is not None and after in out:
                proc.send_signal(send)
                send = None
            if not ready and proc.poll() is not None:
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"ocinspect {' '.join(args)} did not end; it wrote {bytes(out[-500:])!r}")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        os.close(master)
    return proc.returncode, bytes(out)


def demo_leftovers(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "tmp").glob("ocinspect-demo-*"))


@pytest.fixture
def demo_db(tmp_path: Path) -> tuple[Path, DemoSessions]:
    data = tmp_path / "demo"
    data.mkdir()
    return build_demo_sessions(data)


def plain(*args: str, env: dict[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False, env={"COLUMNS": None, **(env or {})})


# ---- the demo: removed on exit, a global option of every command that reads a database ----------


@pytest.mark.timeout(120)
def test_demo_directory_is_removed_when_the_tui_quits(tmp_path: Path) -> None:
    code, out = in_terminal(["--demo"], terminal_env(tmp_path), keys=b"q", after=b"demo database")
    assert code == 0, out[-800:]
    assert b"demo database at" in out
    assert demo_leftovers(tmp_path) == []


@pytest.mark.timeout(120)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_demo_directory_is_removed_when_the_tui_is_killed(tmp_path: Path, signum: int) -> None:
    """A kill or a closed terminal window ends the demo as its quit key does."""
    code, out = in_terminal(["--demo"], terminal_env(tmp_path), send=signum, after=b"Quit")
    assert code == 0, out[-800:]
    assert demo_leftovers(tmp_path) == []


@pytest.mark.timeout(120)
def test_demo_directory_is_removed_when_a_command_fails_or_ends(tmp_path: Path) -> None:
    env = terminal_env(tmp_path)
    scan = ocinspect("--demo", "scan", "--json", env=env)
    assert scan.returncode == 1, scan.stderr  # the demo's stale sessions
    assert len(json.loads(scan.stdout)["sessions"]) >= 9
    missing = ocinspect("--demo", "show", "ses_nope", env=env)
    assert missing.returncode == 2 and "no session ses_nope" in missing.stderr
    recovered = ocinspect("--demo", "recover", "--all", "--yes", env=env)
    assert recovered.returncode == 0, recovered.stderr
    assert "Recovered" in recovered.stdout
    assert demo_leftovers(tmp_path) == []
    user_state = Path(env["XDG_STATE_HOME"])
    assert not list(user_state.rglob("*.jsonl")) and not list(user_state.rglob("*.json"))  # no journal, no watermarks


def test_demo_applies_to_commands_and_says_so() -> None:
    result = plain("--demo", "scan", "--quick")
    assert result.exit_code == 1, result.output
    assert "stuck sessions" in result.stdout
    assert "(removed on exit)" in result.stderr
    assert "scan" in plain("--help").stdout.split("--demo", 1)[1].split("--read-only")[0]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--db", "x.db", "--demo", "scan"], "--demo and --db cannot be used together"),
        (["--demo", "--db", "x.db"], "--demo and --db cannot be used together"),
        (["--demo", "--channel", "beta", "scan"], "--demo and --channel cannot be used together"),
        (["--demo", "open", "ses_x"], "--demo does not apply to 'open'"),
        (["--demo", "run", "--", "true"], "--demo does not apply to 'run'"),
    ],
    ids=["db-then-demo", "demo-then-db-tui", "channel", "open", "run"],
)
def test_demo_with_an_option_naming_a_database_is_a_usage_error(tmp_path: Path, args: list[str], message: str) -> None:
    done = ocinspect(*args, env=terminal_env(tmp_path))
    assert done.returncode == 2 and done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith("ocinspect: error: ") and message in line, line
    assert demo_leftovers(tmp_path) == []


# ---- the TUI needs a terminal -------------------------------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize("args", [[], ["--demo"]], ids=["own-db", "demo"])
def test_tui_without_a_terminal_exits_2_at_once(
    tmp_path: Path, demo_db: tuple[Path, DemoSessions], args: list[str]
) -> None:
    env = terminal_env(tmp_path, OPENCODE_DB=str(demo_db[0])) if not args else terminal_env(tmp_path)
    done = ocinspect(*args, env=env)  # stdin /dev/null, stdout a pipe
    assert done.returncode == 2, done.stderr
    assert done.stdout == "" and "\x1b" not in done.stderr
    assert done.stderr.splitlines()[-1] == (
        "ocinspect: error: the TUI needs a terminal; use 'ocinspect scan' (or --help for the commands)"
    )
    assert demo_leftovers(tmp_path) == []


# ---- width and colour ---------------------------------------------------------------------------


# Each ``--help`` as ``python -m inspector COMMAND --help`` prints it (the same ``cli`` with the
# same program name, off a terminal, the width the process's), all of them from one process: a
# help is printed from the command's definition and the environment alone, nothing carries over.
EVERY_HELP = """
import sys
from inspector.cli import cli
for command in sys.argv[1:]:
    try:
        cli([*command.split(), "--help"], prog_name="ocinspect")
    except SystemExit as stop:
        assert stop.code in (0, None), (command, stop.code)
    sys.stdout.write("\\0")
    sys.stdout.flush()
"""


def every_help(commands: list[str], env: dict[str, str]) -> dict[str, str]:
    done = subprocess.run(
        [sys.executable, "-c", EVERY_HELP, *commands],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    texts = done.stdout.split("\0")
    assert texts[-1] == "" and len(texts) == len(commands) + 1, done.stdout
    return dict(zip(commands, texts, strict=False))


def demo_outputs(demo_db: tuple[Path, DemoSessions], tmp_path: Path, columns: str | None) -> dict[str, str]:
    path, ids = demo_db
    db = ["--db", str(path)]
    env = {"COLUMNS": columns}
    # --help through the real command: click's runner forces its help to 80 columns
    help_env = terminal_env(tmp_path, **({"COLUMNS": columns} if columns else {}))
    commands = [c for c in COMMANDS if not (columns and c == "open")]  # open's examples: a verbatim block of 66 columns
    helps = every_help(["", *commands], env=help_env)
    outputs = {"scan": plain(*db, "scan", env=env).stdout, "help": helps[""]}
    outputs.update({f"{command} --help": helps[command] for command in commands})
    for session in (*ids.stuck, *ids.clean):
        outputs[f"show {session}"] = plain(*db, "show", session, env=env).stdout
        outputs[f"timeline {session}"] = plain(*db, "show", session, "--timeline", env=env).stdout
    outputs["paths"] = plain(*db, "paths", env=env).stdout
    return outputs


@pytest.mark.parametrize("columns", [None, "60"], ids=["not-a-terminal", "COLUMNS=60"])
def test_text_is_wrapped_to_the_width(demo_db: tuple[Path, DemoSessions], tmp_path: Path, columns: str | None) -> None:
    width = int(columns or 80)
    outputs = demo_outputs(demo_db, tmp_path, columns)
    assert all(outputs.values())
    # only a line holding a word too long for any line (this test's temporary paths) may be wider
    long = {
        name: row
        for name, out in outputs.items()
        for row in out.splitlines()
        if len(row) > width and not any(len(word) > width // 2 for word in row.split())
    }
    assert long == {}
    assert "\x1b" not in "".join(outputs.values())  # not a terminal: no colour


def test_wrapped_lines_keep_ids_whole_and_columns(demo_db: tuple[Path, DemoSessions]) -> None:
    path, ids = demo_db
    out = plain("--db", str(path), "scan").stdout
    for session in ids.stuck:
        (row,) = [r for r in out.splitlines() if session in r]
        assert re.match(r"^ +ses_\S+  (stale|unfixable) ", row), row  # id then verdict, on one line
    show = plain("--db", str(path), "show", ids.crash_orphan).stdout.splitlines()
    why = show.index(next(r for r in show if r.startswith("  Why:      ")))
    assert show[why + 1].startswith(" " * 12) and show[why + 1][12] != " "  # under the text, not the label


def test_help_never_breaks_an_option_name() -> None:
    for command in COMMANDS:
        out = plain(command, "--help").stdout
        assert not re.search(r"--[a-z]+(-[a-z]+)*-\n", out), (command, out)


def test_watch_help_reads_as_sentences() -> None:
    out = " ".join(plain("watch", "--help").stdout.split())
    assert "for progress rows do not show" not in out
    assert "Each server's event stream is followed too: it shows progress the database rows do not show yet." in out
    assert "give one or both" in out


@pytest.mark.timeout(60)
def test_colour_on_a_terminal_never_with_no_color(tmp_path: Path, demo_db: tuple[Path, DemoSessions]) -> None:
    args = ["--db", str(demo_db[0]), "scan"]
    code, coloured = in_terminal(args, terminal_env(tmp_path))
    assert code == 1 and b"\x1b[" in coloured and b"stale" in coloured
    for value in ("1", "true"):
        code, out = in_terminal(args, terminal_env(tmp_path, NO_COLOR=value))
        assert code == 1 and b"\x1b" not in out and b"stale" in out
    code, out = in_terminal(args, terminal_env(tmp_path, TERM="dumb"))
    assert b"\x1b" not in out


@pytest.mark.timeout(60)
def test_database_text_stays_data_in_colour(tmp_path: Path) -> None:
    db = tmp_path / "evil.db"
    with DatabaseBuilder(db) as b:
        project = b.project("/p", created=1)
        sid = b.session(
            project_id=project, title="[bold]x[/bold] \x1b[31mred", directory="/p[link=x]", created=1795530000000
        )
        user = b.user_message(sid, "hi", created=1795530000100)
        msg = b.assistant_message(sid, user, created=1795530000200)
        b.tool_part(
            msg, sid, tool="bash", status="running", tool_input={"command": "echo [red]hi"}, created=1795530000300
        )
    env = terminal_env(tmp_path)
    for args in (["scan"], ["show", sid], ["show", sid, "--timeline"]):
        code, out = in_terminal(["--db", str(db), *args], env, columns=200)
        text = out.decode()
        assert "\x1b[" in text, args  # coloured ...
        assert "[bold]x[/bold] \\x1b[31mred" in text and "\x1b[31m" not in text, (args, text)  # ... the title as data
        assert "/p[link=x]" in text or args[-1] == "--timeline", args


# ---- the pager ----------------------------------------------------------------------------------


@pytest.fixture
def pager(tmp_path: Path) -> tuple[Path, Path]:
    """A ``$PAGER`` that keeps what it was given in a file."""
    script, kept = tmp_path / "pager.sh", tmp_path / "paged.txt"
    script.write_text(f"#!/bin/sh\ncat > {kept}\n")
    script.chmod(0o755)
    return script, kept


@pytest.mark.timeout(120)
@pytest.mark.parametrize("command", [["show", "{sid}", "--timeline"], ["report", "{sid}"]], ids=["timeline", "report"])
def test_long_output_on_a_terminal_goes_through_the_pager(
    tmp_path: Path, demo_db: tuple[Path, DemoSessions], pager: tuple[Path, Path], command: list[str]
) -> None:
    script, kept = pager
    path, ids = demo_db
    args = ["--db", str(path), *[a.format(sid=ids.subagent_parent) for a in command]]
    env = terminal_env(tmp_path, PAGER=str(script))
    code, out = in_terminal(args, env, rows=10)
    assert code == 0, out
    assert kept.is_file() and ids.subagent_parent in kept.read_text(), out
    kept.unlink()
    code, out = in_terminal([*args, "--no-pager"], env, rows=10)
    assert code == 0 and not kept.exists() and ids.subagent_parent.encode() in out
    code, out = in_terminal(args, env, rows=200)  # it fits: no pager
    assert code == 0 and not kept.exists() and ids.subagent_parent.encode() in out
    done = ocinspect(*args, env=env)  # not a terminal: never paged
    assert done.returncode == 0 and not kept.exists() and ids.subagent_parent in done.stdout


# ---- where ocinspect keeps its files --------------------------------------------------------------


def test_paths_prints_every_place_and_the_database(tmp_path: Path, demo_db: tuple[Path, DemoSessions]) -> None:
    env = terminal_env(tmp_path)
    done = ocinspect("--db", str(demo_db[0]), "paths", "--json", env=env)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    config, state = Path(env["XDG_CONFIG_HOME"]) / "ocinspect", Path(env["XDG_STATE_HOME"]) / "ocinspect"
    assert found == {
        "config": str(config),
        "settings": str(config / "settings.toml"),
        "keymap": str(config / "keymap.toml"),
        "state": str(state),
        "journal": str(state / "runs"),
        "watermarks": str(state / "watermarks"),
        "database": str(demo_db[0]),
        "database_problem": None,
    }
    # the same command's other forms in-process (the same environment); the refusal below is a real process
    in_env: dict[str, str | None] = dict(env)
    assert plain("paths", "journal", env=in_env).stdout == f"{state / 'runs'}\n"
    text = plain("--db", str(demo_db[0]), "paths", env=in_env).stdout
    assert f"keymap      {config / 'keymap.toml'}" in text.splitlines()
    # what `runs` reads is what `paths` says; no database: said, exit 2 only when asked for it
    assert str(state / "runs") in plain("runs", env=in_env).stdout
    missing = plain("paths", "--json", env=in_env)
    assert missing.exit_code == 0 and json.loads(missing.stdout)["database"] is None
    alone = ocinspect("paths", "database", env=env)
    assert alone.returncode == 2 and alone.stderr.startswith("ocinspect: error: no OpenCode database found")
    assert not config.exists() and not state.exists()  # nothing created


def test_the_journal_and_settings_follow_one_rule_for_relative_xdg_values(tmp_path: Path) -> None:
    from inspector.core.diagnose.incremental.state import state_dir
    from inspector.core.repair.journal import journal_dir
    from inspector.tui.settings import config_dir

    env = {"HOME": str(tmp_path), "XDG_STATE_HOME": "relative", "XDG_CONFIG_HOME": "relative"}
    assert journal_dir(env) == tmp_path / ".local" / "state" / "ocinspect" / "runs"
    assert state_dir(env) == tmp_path / ".local" / "state" / "ocinspect" / "watermarks"
    assert config_dir(env) == tmp_path / ".config" / "ocinspect"


# ---- shell completion, as the docs document it --------------------------------------------------


def test_the_readme_completion_lines_work(tmp_path: Path) -> None:
    readme = (ROOT / "docs" / "reference" / "configuration.md").read_text(encoding="utf-8")
    shells = dict(re.findall(r"_OCINSPECT_COMPLETE=((bash|zsh|fish)_source) ocinspect", readme))
    assert set(shells.values()) == {"bash", "zsh", "fish"}, "docs: a completion line per shell"
    for instruction in shells:
        done = ocinspect(env={**terminal_env(tmp_path), "_OCINSPECT_COMPLETE": instruction})
        assert done.returncode == 0 and "_OCINSPECT_COMPLETE" in done.stdout, (instruction, done.stderr)
    words = ocinspect(
        env={
            **terminal_env(tmp_path),
            "_OCINSPECT_COMPLETE": "bash_complete",
            "COMP_WORDS": "ocinspect pa",
            "COMP_CWORD": "1",
        }
    )
    assert words.stdout.split() == ["plain,paths"]
