"""server_api: one loopback OpenCode client (auth from env, timeouts, typed errors, SSE).

Against a real local HTTP server (``tests/support/standin.py``); the real binary is in tests/e2e.
"""

from __future__ import annotations

import base64
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from inspector.core.errors import EXIT_ERROR, InspectorError
from inspector.core.opencode.client import (
    Credentials,
    ServerAnswerTooLarge,
    ServerAuthRequired,
    ServerBadResponse,
    ServerClient,
    ServerHTTPError,
    ServerUnreachable,
)
from tests.support.narrow import present
from tests.support.standin import StandIn


@pytest.fixture
def server() -> Iterator[StandIn]:
    with StandIn() as standin:
        yield standin


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_credentials_come_from_opencodes_own_variables() -> None:
    assert Credentials.from_env({}) is None
    assert Credentials.from_env({"OPENCODE_SERVER_USERNAME": "me"}) is None  # no password: no auth
    creds = present(Credentials.from_env({"OPENCODE_SERVER_PASSWORD": "pw"}))
    assert (creds.username, creds.password) == ("opencode", "pw")
    creds = present(Credentials.from_env({"OPENCODE_SERVER_PASSWORD": "pw", "OPENCODE_SERVER_USERNAME": "me"}))
    assert creds.header() == "Basic " + base64.b64encode(b"me:pw").decode()
    assert "pw" not in repr(creds)


def test_client_reads_the_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENCODE_SERVER_PASSWORD", "from-env")
    assert ServerClient(4096).credentials == Credentials("opencode", "from-env")
    assert ServerClient(4096, credentials=None).credentials is None


@pytest.mark.parametrize("host", ["example.com", "10.0.0.1", "0.0.0.0", "192.168.1.2"])
def test_only_loopback_hosts(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        ServerClient(4096, host=host)


@pytest.mark.parametrize("port", [0, 70000, -1])
def test_rejects_impossible_ports(port: int) -> None:
    with pytest.raises(ValueError):
        ServerClient(port)


def test_get_sends_directory_as_query_parameter(server: StandIn) -> None:
    directory = "/home/dév/my project & co?"
    answer = ServerClient(server.port, credentials=None).get("/echo", directory=directory, query={"limit": 5})
    assert answer["method"] == "GET"
    assert answer["query"] == {"directory": [directory], "limit": ["5"]}
    assert answer["authorization"] is None


def test_post_and_patch_send_json(server: StandIn) -> None:
    client = ServerClient(server.port, credentials=None)
    for method in ("post", "patch"):
        answer = getattr(client, method)("/echo", {"part": {"id": "prt_1", "text": "ü"}})
        assert answer["method"] == method.upper()
        assert answer["body"] == {"part": {"id": "prt_1", "text": "ü"}}
        assert answer["content_type"] == "application/json"


def test_session_status_and_abort(server: StandIn) -> None:
    server.busy = {"ses_a", "ses_b"}
    client = ServerClient(server.port, credentials=None)
    assert client.session_status("/home/dev/src/webapp") == {"ses_a": "busy", "ses_b": "busy"}
    assert client.session_status("/elsewhere") == {}  # per-directory instances
    assert client.abort("ses_a", "/home/dev/src/webapp") is True
    assert server.paths("POST") == ["/session/ses_a/abort"]
    assert server.requests[-1][2] == {"directory": ["/home/dev/src/webapp"]}


def test_401_without_password_says_the_server_needs_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENCODE_SERVER_PASSWORD", raising=False)
    with StandIn(password="s3cret") as server, pytest.raises(ServerAuthRequired) as caught:
        ServerClient(server.port).get("/session/status")
    assert caught.value.password_sent is False
    assert "needs its password" in str(caught.value) and "OPENCODE_SERVER_PASSWORD" in str(caught.value)
    assert isinstance(caught.value, InspectorError) and caught.value.exit_code == EXIT_ERROR


def test_401_with_a_wrong_password_says_it_was_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENCODE_SERVER_PASSWORD", "wrong")
    with StandIn(password="s3cret") as server, pytest.raises(ServerAuthRequired) as caught:
        ServerClient(server.port).get("/session/status")
    assert caught.value.password_sent is True
    assert "refused the password" in str(caught.value)
    assert "wrong" not in str(caught.value)  # never print the password


def test_right_password_and_custom_username(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENCODE_SERVER_PASSWORD", "s3cret")
    with StandIn(password="s3cret") as server:
        server.busy = {"ses_x"}
        assert ServerClient(server.port).session_status("/home/dev/src/webapp") == {"ses_x": "busy"}
        monkeypatch.setenv("OPENCODE_SERVER_USERNAME", "someone")
        with pytest.raises(ServerAuthRequired):
            ServerClient(server.port).get("/session/status")


def test_refused_connection_is_unreachable() -> None:
    port = closed_port()
    started = time.monotonic()
    with pytest.raises(ServerUnreachable, match="connection refused") as caught:
        ServerClient(port, credentials=None).get("/session/status")
    assert caught.value.port == port and caught.value.method == "GET"
    assert time.monotonic() - started < 2


def test_silent_server_times_out(server: StandIn) -> None:
    started = time.monotonic()
    with pytest.raises(ServerUnreachable, match="timed out"):
        ServerClient(server.port, credentials=None, timeout=0.3).get("/slow")
    assert time.monotonic() - started < 2


def test_server_that_accepts_but_never_answers_times_out() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        with pytest.raises(ServerUnreachable, match="timed out"):
            ServerClient(port, credentials=None, timeout=0.3).get("/session/status")


def test_http_error_keeps_status_and_body(server: StandIn) -> None:
    with pytest.raises(ServerHTTPError) as caught:
        ServerClient(server.port, credentials=None).get("/boom")
    assert caught.value.status == 500 and "UnknownError" in caught.value.body
    with pytest.raises(ServerHTTPError) as caught:
        ServerClient(server.port, credentials=None).get("/nowhere")
    assert caught.value.status == 404


def test_non_json_answer_is_a_bad_response(server: StandIn) -> None:
    with pytest.raises(ServerBadResponse, match="not JSON"):
        ServerClient(server.port, credentials=None).get("/text")


def test_proxy_variables_are_ignored(server: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    dead = f"http://127.0.0.1:{closed_port()}"
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, dead)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    assert ServerClient(server.port, credentials=None).get("/echo")["method"] == "GET"


def test_path_must_be_absolute() -> None:
    with pytest.raises(ValueError):
        ServerClient(4096).target("session/status")


def test_event_stream(server: StandIn) -> None:
    server.events = [
        ": keep-alive comment\n\n",
        'data: {"type":"server.connected","properties":{}}\n\n',
        "event: custom\nid: 7\ndata: line one\ndata: line two\n\n",
        'data: {"type":"message.part.updated",\r\ndata: "x":1}\r\n\r\n',
    ]
    events = list(ServerClient(server.port, credentials=None).events(directory="/d", read_timeout=2))
    assert [(e.event, e.id, e.data) for e in events] == [
        ("message", None, {"type": "server.connected", "properties": {}}),
        ("custom", "7", "line one\nline two"),
        ("message", "7", {"type": "message.part.updated", "x": 1}),  # the last id persists (SSE spec)
    ]
    assert server.requests[-1][2] == {"directory": ["/d"]}


def test_event_stream_read_timeout() -> None:
    """A stream that stops sending raises instead of blocking forever."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]

        def serve() -> None:
            conn, _ = listener.accept()
            conn.recv(4096)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: 1\n\n")
            time.sleep(2)
            conn.close()

        threading.Thread(target=serve, daemon=True).start()
        stream = ServerClient(port, credentials=None).events(read_timeout=0.3)
        assert next(stream).data == 1
        with pytest.raises(ServerUnreachable, match="stopped"):
            next(stream)


def test_event_stream_401(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENCODE_SERVER_PASSWORD", raising=False)
    with StandIn(password="pw") as server, pytest.raises(ServerAuthRequired):
        next(ServerClient(server.port).events())


def test_a_trickled_answer_ends_at_the_deadline(server: StandIn) -> None:
    """One byte every 0.1 s never lets a socket read wait 0.5 s: the deadline is the exchange's."""
    server.trickle = {"/session/status": 0.1}
    with pytest.raises(ServerUnreachable, match=r"timed out: no whole answer within 0\.5 s") as caught:
        ServerClient(server.port, credentials=None, timeout=0.5).get("/session/status")
    assert caught.value.kind == "server-unreachable"


def test_a_budget_bounds_every_call_of_a_client(server: StandIn) -> None:
    server.trickle = {"/session/status": 0.1}
    client = ServerClient(server.port, credentials=None, timeout=30, budget=0.5)
    with pytest.raises(ServerUnreachable, match="the time left for this server"):
        client.get("/session/status")
    with pytest.raises(ServerUnreachable, match=r"used up the 0\.5 s allowed for it"):
        client.get("/echo")


def test_an_answer_over_the_cap_is_refused(server: StandIn) -> None:
    server.huge = {"/session/status": 5 << 20}
    client = ServerClient(server.port, credentials=None, max_bytes=1 << 20)
    with pytest.raises(ServerAnswerTooLarge, match="longer than 1 MiB: refused") as caught:
        client.get("/session/status")
    assert caught.value.kind == "server-too-large" and caught.value.limit == 1 << 20
    server.huge = {"/session/status": 1 << 19}
    assert client.get("/session/status")["pad"].startswith("aaa")  # under the cap: read whole


def one_shot_server(answer: list[tuple[bytes, float]]) -> int:
    """A loopback server that sends ``answer`` (bytes, then a pause) to its first client."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve() -> None:
        with listener:
            conn, _ = listener.accept()
            with conn:
                conn.recv(4096)
                try:
                    for data, pause in answer:
                        conn.sendall(data)
                        time.sleep(pause)
                except OSError:
                    pass

    threading.Thread(target=serve, daemon=True).start()
    return int(listener.getsockname()[1])


def test_a_declared_length_over_the_cap_is_refused_unread() -> None:
    port = one_shot_server([(b"HTTP/1.1 200 OK\r\nContent-Length: 999999999\r\n\r\n{", 5)])
    with pytest.raises(ServerAnswerTooLarge):
        ServerClient(port, credentials=None, max_bytes=1 << 20, timeout=3).get("/session/status")


def test_an_event_trickled_without_end_stops_the_stream() -> None:
    """Bytes keep coming, no event ends: the stream is given up after ``read_timeout``."""
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: 1\n\n"
    port = one_shot_server([(head, 0), *[(b"x", 0.1)] * 30, (b"\n\n", 0)])
    stream = ServerClient(port, credentials=None).events(read_timeout=0.5)
    assert next(stream).data == 1
    with pytest.raises(ServerUnreachable, match="stopped"):
        next(stream)


def test_an_event_over_the_cap_is_refused() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"
    port = one_shot_server([(head + b"data: " + b"y" * (2 << 20) + b"\n\n", 1)])
    stream = ServerClient(port, credentials=None, max_bytes=1 << 20).events(read_timeout=5)
    with pytest.raises(ServerAnswerTooLarge, match="an event"):
        next(stream)
