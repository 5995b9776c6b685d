"""Who a process is, for a person reading why the database is locked: pid, name, command line.

The name and command line are the process's own text (data, never markup); a process the
kernel would not name (another pid namespace) or psutil may not read is an unknown process.
"""

from __future__ import annotations

from dataclasses import dataclass

from inspector.core.opencode.processes import looks_like_opencode

MAX_ARGS = 64  # a command line is shown, not stored whole: a bound on what one holder carries
MAX_ARG_CHARS = 4096


@dataclass(frozen=True)
class Holder:
    """A process seen on the database; ``pid`` 0 and ``name`` "" when it cannot be told."""

    pid: int
    name: str = ""
    cmdline: tuple[str, ...] = ()
    started: float = 0.0  # its start time (with the pid, tells a reused pid apart)
    opencode: bool = False

    @property
    def known(self) -> bool:
        return bool(self.pid and self.name)


def describe(pid: int) -> Holder:
    """The process ``pid`` as psutil shows it; only the pid when it may not be read."""
    if pid <= 0:
        return Holder(pid=0)
    import psutil

    try:
        proc = psutil.Process(pid)
        with proc.oneshot():
            name = proc.name()
            started = proc.create_time()
            try:
                cmdline = [arg[:MAX_ARG_CHARS] for arg in proc.cmdline()[:MAX_ARGS]]
            except (psutil.AccessDenied, psutil.ZombieProcess):
                cmdline = []
    except (psutil.Error, OSError):
        return Holder(pid=pid)
    return Holder(pid, name, tuple(cmdline), started, looks_like_opencode(name, cmdline))


def words(holder: Holder, *, width: int = 100) -> str:
    """``pid 4242 opencode (opencode serve --port 4096)``, or ``an unknown process``: one line,
    the command line cut to ``width`` (the front end makes it printable)."""
    if not holder.pid:
        return "an unknown process"
    if not holder.name:
        return f"pid {holder.pid} (an unknown process: ocinspect may not look into it)"
    command = " ".join(holder.cmdline)
    if len(command) > width:
        command = command[: width - 1] + "…"
    return f"pid {holder.pid} {holder.name}" + (f" ({command})" if command else "")
