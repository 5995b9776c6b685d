"""``SignalStop``: the watch's stop on Ctrl-C and SIGTERM, with no lock taken in the handler."""

from __future__ import annotations

import os
import signal
import threading
import time

from inspector.cli.stopping import SignalStop

HANG = 60.0  # seconds; only bounds a hang (a wait that missed its signal sleeps all of it)


def test_a_signal_during_the_wait_ends_it() -> None:
    with SignalStop((signal.SIGUSR1,)) as stop:
        assert not stop.wait(0)
        timer = threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGUSR1))
        timer.start()
        started = time.monotonic()
        assert stop.wait(HANG)
        assert time.monotonic() - started < HANG / 2, "the signal did not wake the wait"
        timer.join()


def test_a_signal_before_the_wait_is_not_lost() -> None:
    with SignalStop((signal.SIGUSR1,)) as stop:
        os.kill(os.getpid(), signal.SIGUSR1)
        started = time.monotonic()
        assert stop.wait(HANG) and stop.wait(HANG)  # stays stopped
        assert time.monotonic() - started < HANG / 2, "a stopped wait slept"


def test_close_puts_the_previous_handlers_back() -> None:
    before = signal.getsignal(signal.SIGUSR1)
    with SignalStop((signal.SIGUSR1,)):
        assert signal.getsignal(signal.SIGUSR1) is not before
    assert signal.getsignal(signal.SIGUSR1) is before
