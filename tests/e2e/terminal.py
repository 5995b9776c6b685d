"""A TUI on a pseudo-terminal, for the e2e tests that type into OpenCode's own TUI (``open``).

One copy for both generations: the read loop answers the terminal queries a TUI may wait on,
``wait_for`` reads until something is drawn (a fixed wait raced the TUI's boot on a loaded
machine, and keys typed before the session view was up were lost), and ``close`` kills what
was forked (its helpers carry the sandbox's marker)."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import termios
import time
from collections.abc import Mapping, Sequence

ESCAPES = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]")


class Terminal:
    """The pseudo-terminal a forked process draws on (120 × 40), read until something is drawn."""

    def __init__(self, pid: int, fd: int) -> None:
        self.pid, self.fd, self.screen = pid, fd, b""

    @classmethod
    def spawn(cls, argv: Sequence[str], env: Mapping[str, str], cwd: str | os.PathLike[str]) -> Terminal:
        """``argv`` exec'd in ``cwd`` on a new pseudo-terminal of 120 × 40 columns and lines."""
        pid, fd = pty.fork()
        if pid == 0:  # the child
            try:
                fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
                os.chdir(cwd)
                os.execvpe(argv[0], list(argv), {**env, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"})
            finally:
                os._exit(127)
        return cls(pid, fd)

    def read_for(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.fd], [], [], 0.2)
            if not ready:
                continue
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                return
            self.screen += chunk
            if b"\x1b[6n" in chunk:  # a TUI may wait on the cursor position or device attributes
                os.write(self.fd, b"\x1b[1;1R")
            if b"\x1b[c" in chunk or b"\x1b[0c" in chunk:
                os.write(self.fd, b"\x1b[?62;22c")

    def shown(self) -> bytes:
        return ESCAPES.sub(b"", self.screen)

    def wait_for(self, needle: bytes, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.shown():
            alive = os.waitpid(self.pid, os.WNOHANG) == (0, 0)
            assert time.monotonic() < deadline and alive, (needle, self.shown()[-3000:])
            self.read_for(0.5)

    def type_prompt(self, prompt: str) -> None:
        """Typed key by key, then sent once the input box shows its last word."""
        for ch in prompt:
            os.write(self.fd, ch.encode())
            time.sleep(0.02)
        self.wait_for(prompt.split()[-1].encode(), 30)
        os.write(self.fd, b"\r")

    def close(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)  # the process we forked (now OpenCode)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(self.fd)
