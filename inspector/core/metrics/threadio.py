"""Bytes the calling thread has read (Linux ``/proc/thread-self/io``: ``rchar``).

A look runs in one thread and reads the database, its WAL, ``/proc`` (which processes use the
file) and the servers' answers; the difference between two looks is what the look read. Other
threads (the event streams, the metrics server) are not counted. None where there is no such file.
"""

from __future__ import annotations

_IO = "/proc/thread-self/io"


def thread_read_bytes() -> int | None:
    try:
        with open(_IO, "rb") as io:
            for line in io.read().splitlines():
                if line.startswith(b"rchar:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None
