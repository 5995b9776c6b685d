"""Issue 18, the TUI by hand: the real ``ocinspect`` TUI in a real terminal (tmux) beside a real
``opencode serve`` whose bash waits on a permission prompt. Keys are typed into the pane as a
person types them (``w``, then ``y``); the screen is read back with ``capture-pane``; OpenCode
then finishes the turn itself. Skipped where tmux is not installed.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from . import harness as h
from .probe_signals import configure
from .test_e2e import explain
from .test_hung import assert_closed_by_opencode, assert_rows_equal_newest_events
from .test_signals import start

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")]


class Pane:
    """One detached tmux session running a command at a fixed size."""

    def __init__(self, command: list[str], env: dict[str, str], cwd: Path, width: int = 120, height: int = 36) -> None:
        self.name = f"ocinspect-e2e-{uuid.uuid4().hex[:8]}"
        self.socket = f"ocinspect-e2e-{uuid.uuid4().hex[:8]}"
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        line = f"cd {shlex.quote(str(cwd))} && env -i {exports} {shlex.join(command)}; sleep 30"
        self.tmux("new-session", "-d", "-s", self.name, "-x", str(width), "-y", str(height), line)

    def tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL
        )
        if done.returncode != 0:
            raise h.HarnessError(f"tmux {' '.join(args)}: {done.stderr}")
        return done.stdout

    def keys(self, *keys: str) -> None:
        for key in keys:
            self.tmux("send-keys", "-t", self.name, key)
            time.sleep(0.4)

    def text(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.name)

    def wait_for(self, needle: str, timeout: float = 30.0) -> str:
        return h.wait_until(
            lambda: self.text() if needle in self.text() else None,
            timeout=timeout,
            interval=0.3,
            what=f"{needle!r} on screen",
            on_timeout=self.text,
        )

    def close(self) -> None:
        subprocess.run(
            ["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=20, stdin=subprocess.DEVNULL
        )


def test_the_tui_rejects_a_permission_prompt_in_a_real_terminal(sandbox: h.Sandbox, opencode_bin: Path) -> None:
    configure(sandbox, ask_bash=True)
    oc = sandbox.start_opencode(opencode_bin)
    sid = start(sandbox, oc, "QUICK check")
    h.wait_until(
        lambda: [p for p in oc.request("GET", f"/permission?directory={sandbox.project}") if p["sessionID"] == sid],
        timeout=20,
        what="the permission request",
    )
    env = {
        k: v
        for k, v in sandbox.ocinspect_env().items()
        if k
        in (
            "PATH",
            "HOME",
            "XDG_STATE_HOME",
            "XDG_DATA_HOME",
            "XDG_CONFIG_HOME",
            "XDG_CACHE_HOME",
            "TMPDIR",
            "LANG",
            "PYTHONPATH",
            h.MARKER_ENV,
        )
    }
    env.update(TERM="xterm-256color", COLORTERM="truecolor", PYTHONPATH=str(h.REPO_ROOT))
    pane = Pane([sys.executable, "-m", "inspector", "--db", str(sandbox.db_path)], env, h.REPO_ROOT)
    try:
        screen = pane.wait_for("waiting")
        assert "1 waiting" in screen or "waiting" in screen, screen
        pane.wait_for("w Answer")  # the highlighted (only) session waits: the key is offered
        pane.keys("w")
        screen = pane.wait_for("Reject (y)")
        assert "echo ok" in screen, screen
        assert oc.is_busy(sid), oc.describe(sid)  # nothing sent before the person confirms
        pane.keys("y")
        screen = pane.wait_for("Rejected", timeout=20)
        msgs = oc.wait_turn_complete(sid, timeout=30)
        (tool,) = [p for m in msgs for p in m["parts"] if p.get("type") == "tool"]
        assert tool["state"]["status"] == "error" and "rejected" in tool["state"]["error"], oc.describe(sid)
        assert_closed_by_opencode(oc, sid)
        assert_rows_equal_newest_events(sandbox.db_path, [sid])
        # the TUI refreshes: the session is no longer stuck
        pane.wait_for("No stuck sessions", timeout=20)
        print(pane.text())
        pane.keys("q")
    finally:
        pane.close()
    done = sandbox.ocinspect("scan", "--json")
    assert done.returncode == 0, explain(done)
    oc.kill()
