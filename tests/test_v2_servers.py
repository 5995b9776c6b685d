"""OpenCode 2's ``service.json`` and process environment, read as hostile data (no server needed).

A ``service.json`` is written by whoever can write the state directory: ocinspect must never
follow its url off the machine, never hang on it, never hold a huge one, and never trust a pid
it names without checking that process. The real servers are in ``tests/e2e/v2/test_v2_live.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from inspector.core.opencode.live import find_processes
from inspector.core.opencode.v2_files import (
    MAX_ENVIRON_BYTES,
    MAX_SERVICE_FILE_BYTES,
    ServiceFileInvalid,
    database_of,
    parse_environ,
    parse_service,
    read_service,
    state_dir,
)
from inspector.core.opencode.v2_live import status_of
from inspector.core.opencode.v2_servers import V2Discovery, credentials_from, find_v2_servers, loopback_ports

GOOD = {"id": "c7", "version": "2.1.2", "url": "http://127.0.0.1:49374", "pid": 1234, "password": "s3cret"}


def raw(**change: object) -> bytes:
    return json.dumps({**GOOD, **change}).encode()


def test_a_real_service_file_is_read_whole() -> None:
    record = parse_service(raw())
    assert (record.host, record.port, record.pid, record.version) == ("127.0.0.1", 49374, 1234, "2.1.2")
    assert record.password == "s3cret"
    assert "s3cret" not in repr(record)


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1:49374",
        "http://evil.example:49374",
        "http://127.0.0.1.evil.example:49374",
        "http://[::2]:49374",
        "https://127.0.0.1:49374",
        "file:///etc/passwd",
        "http://user:pw@127.0.0.1:49374",
        "http://127.0.0.1",
        "http://127.0.0.1:99999",
        "http://127.0.0.1:0",
        "",
    ],
)
def test_a_url_off_loopback_or_odd_is_refused(url: str) -> None:
    with pytest.raises(ServiceFileInvalid, match="'url'"):
        parse_service(raw(url=url))


@pytest.mark.parametrize("url", ["http://localhost:1", "http://[::1]:2", "http://127.0.0.1:3/"])
def test_loopback_spellings_are_taken(url: str) -> None:
    record = parse_service(raw(url=url))
    assert record.host in {"127.0.0.1", "::1"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"pid": "1234"}, "pid"),
        ({"pid": True}, "pid"),
        ({"pid": -1}, "pid"),
        ({"pid": 1 << 40}, "pid"),
        ({"pid": 12.5}, "pid"),
        ({"url": 5}, "url"),
        ({"url": ["http://127.0.0.1:1"]}, "url"),
        ({"password": None}, "password"),
        ({"password": ""}, "password"),
        ({"password": "a\u0000b"}, "password"),
        ({"password": "a\nb"}, "password"),
        ({"password": "x" * 5000}, "password"),
        ({"version": {"v": 2}}, "version"),
        ({"id": "x" * 1000}, "id"),
    ],
)
def test_wrong_types_nul_and_oversized_fields_are_refused(change: dict[str, object], field: str) -> None:
    with pytest.raises(ServiceFileInvalid, match=f"'{field}'"):
        parse_service(raw(**change))


@pytest.mark.parametrize(
    "text",
    [
        b"",
        b"not json",
        b"[1, 2]",
        b'"a string"',
        b"\xff\xfe{}",
        b"[" * 100_000 + b"]" * 100_000,
        b"[" * 5000 + b"]" * 5000,
        b"{}",
    ],
)
def test_not_a_service_object_is_refused(text: bytes) -> None:
    with pytest.raises(ServiceFileInvalid):
        parse_service(text)


def test_a_huge_file_is_refused_after_reading_only_its_cap(tmp_path: Path) -> None:
    path = tmp_path / "service.json"
    padding = " " * (MAX_SERVICE_FILE_BYTES * 800)  # 50 MiB
    path.write_text(json.dumps(GOOD)[:-1] + padding + "}")
    with pytest.raises(ServiceFileInvalid, match="larger than"):
        read_service(path)


def test_a_fifo_in_its_place_is_refused_without_waiting(tmp_path: Path) -> None:
    path = tmp_path / "service.json"
    os.mkfifo(path)
    outcome: list[BaseException] = []

    def read() -> None:
        try:
            read_service(path)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(30)
    assert not reader.is_alive(), "reading a FIFO named service.json blocked"
    assert isinstance(outcome[0], ServiceFileInvalid)


def test_the_environment_is_split_on_nul_and_capped() -> None:
    env = parse_environ(b"HOME=/h\0OPENCODE_SERVER_PASSWORD=p=w\0junk\0=x\0")
    assert env == {"HOME": "/h", "OPENCODE_SERVER_PASSWORD": "p=w"}
    big = b"A=" + b"x" * (MAX_ENVIRON_BYTES + 10) + b"\0B=1\0"
    assert "A" not in parse_environ(b"C=2\0" + big)
    assert parse_environ(b"C=2\0" + big)["C"] == "2"


def test_dirs_come_from_the_process_environment_never_ours() -> None:
    assert state_dir({"XDG_STATE_HOME": "/s"}) == Path("/s/opencode")
    assert state_dir({"HOME": "/h"}) == Path("/h/.local/state/opencode")
    assert database_of({"XDG_DATA_HOME": "/d", "HOME": "/h"}) == Path("/d/opencode/opencode.db")
    assert database_of({"HOME": "/h"}) == Path("/h/.local/share/opencode/opencode.db")
    assert state_dir({}) is None and database_of({"XDG_DATA_HOME": "relative"}) is None


def test_credentials_from_an_environment() -> None:
    found = credentials_from({"OPENCODE_SERVER_PASSWORD": "pw"})
    assert found is not None and (found.username, found.password) == ("opencode", "pw")
    assert credentials_from({"OPENCODE_SERVER_PASSWORD": "pw", "OPENCODE_SERVER_USERNAME": "a:b"}) is None
    assert credentials_from({"OPENCODE_SERVER_PASSWORD": "\udcff"}) is None
    assert credentials_from({}) is None and credentials_from(None) is None


def test_only_loopback_listeners_are_asked() -> None:
    assert loopback_ports({("127.0.0.1", 5), ("0.0.0.0", 6), ("192.168.1.2", 7)}) == ("127.0.0.1", (5, 6))
    assert loopback_ports({("::1", 8)}) == ("::1", (8,))
    assert loopback_ports({("192.168.1.2", 7)}) == ("::1", ())


def test_no_server_is_offline_and_says_which_service_file_it_ignored() -> None:
    status = status_of(
        V2Discovery(ignored=("/s/service.json ignored: its pid 9 is not running",)), ["/p"], timeout=1, budget=1
    )
    assert status.running is False
    assert status.verdict("ses_a", "/p")[0] == "stale"
    assert "its pid 9 is not running" in status.detail


# --- service.json naming processes that are not our service -------------------------------------


def write_service(state: Path, **change: object) -> Path:
    path = state / "opencode" / "service.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw(**change))
    return path


def discover(tmp_path: Path) -> V2Discovery:
    env = {"XDG_STATE_HOME": str(tmp_path / "state"), "HOME": str(tmp_path)}
    return find_v2_servers(tmp_path / "opencode.db", env)


def test_a_dead_pid_is_ignored(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    path = write_service(tmp_path / "state", pid=gone.pid)
    found = discover(tmp_path)
    assert found.servers == ()
    assert found.ignored == (f"{path} ignored: its pid {gone.pid} is not running",)


def test_a_pid_that_is_not_opencode_is_ignored(tmp_path: Path) -> None:
    path = write_service(tmp_path / "state", pid=os.getpid())
    assert discover(tmp_path).ignored == (f"{path} ignored: its pid {os.getpid()} is not an opencode process",)


def test_a_non_loopback_url_is_ignored_before_any_process_is_looked_at(tmp_path: Path) -> None:
    path = write_service(tmp_path / "state", url="http://203.0.113.5:49374", pid=os.getpid())
    (reason,) = discover(tmp_path).ignored
    assert reason.startswith(f"{path} ignored: 'url' is not on a loopback host")


@pytest.fixture
def other_users_opencode() -> Iterator[int]:
    """A process named ``opencode`` running as ``nobody`` (needs root to start one)."""
    if os.geteuid() != 0:
        pytest.skip("starting another user's process needs root")
    home = Path(tempfile.mkdtemp(prefix="ocinspect-other-"))
    try:
        home.chmod(0o755)
        program = home / "opencode"
        shutil.copy(shutil.which("sleep") or "/bin/sleep", program)
        program.chmod(0o755)
        proc = subprocess.Popen([str(program), "60"], user=65534, group=65534)
        try:
            yield proc.pid
        finally:
            proc.kill()
            proc.wait()
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_another_users_opencode_is_ignored(tmp_path: Path, other_users_opencode: int) -> None:
    path = write_service(tmp_path / "state", pid=other_users_opencode)
    (reason,) = discover(tmp_path).ignored
    assert reason.startswith(f"{path} ignored: its pid {other_users_opencode} belongs to another user")


FORKING_SERVER = """
import os, sqlite3, sys, time
db = sqlite3.connect(sys.argv[2])
db.execute("select 1").fetchall()  # the database file stays open, as a server's does
if os.fork() == 0:  # a server about to exec a tool: the same command line, the same open files
    time.sleep(60)
    os._exit(0)
print("ready", flush=True)
time.sleep(60)
"""


def test_a_server_caught_between_fork_and_exec_is_one_server(tmp_path: Path) -> None:
    """A tool start forks the server before it execs; that child is the same server, not a second
    (under load the test of the real service once caught one: ``test_v2_live.py``)."""
    db = tmp_path / "opencode.db"
    sqlite3.connect(db).execute("create table t(x)").connection.close()
    program = tmp_path / "opencode"
    program.symlink_to(sys.executable)
    server = subprocess.Popen([str(program), "-c", FORKING_SERVER, "serve", str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None and server.stdout.readline() == "ready\n"
        (child,) = psutil.Process(server.pid).children()
        found = find_v2_servers(db, {"HOME": str(tmp_path)})
        assert [s.pid for s in found.servers] == [server.pid], child.pid
        assert [p.pid for p in find_processes(db)[0]] == [server.pid], child.pid  # 1.x liveness too
    finally:
        for proc in psutil.Process(server.pid).children():
            proc.kill()
        server.kill()
        server.wait()
