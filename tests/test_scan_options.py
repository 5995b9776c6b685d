"""One frozen options value for every scan entry point (``core/diagnose/options.py``).

Its defaults are the ones a user gets (``core/defaults.py``), and the only option that talks to a
server, ``follow_signals``, is followed by every entry point when given and by none when not.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from inspector.core.db.store import Store, open_store
from inspector.core.defaults import DEFAULT_HUNG_AFTER_MS
from inspector.core.diagnose.incremental import refresh as rf
from inspector.core.diagnose.incremental.resume import scan_resumed
from inspector.core.diagnose.options import DEFAULT_OPTIONS, ScanOptions
from inspector.core.diagnose.scan import scan, scan_related
from inspector.core.model import ScanResult
from inspector.core.opencode.signals import Signals
from tests.support.hung_db import DIR, SECOND, build_signals
from tests.support.releases import NOW

PORT = 4096


def test_the_options_are_frozen() -> None:
    options = ScanOptions()
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.quick = True  # type: ignore[misc]
    assert not hasattr(options, "__dict__")  # slots: no field can be added either


def test_session_ids_are_copied_so_the_callers_list_cannot_change_them() -> None:
    ids = ["ses_a"]
    options = ScanOptions(session_ids=ids)
    ids.append("ses_b")
    assert options.session_ids == ("ses_a",)


def test_the_defaults_are_the_shared_ones() -> None:
    from inspector.tui.config import AppConfig

    assert ScanOptions().hung_after_ms == DEFAULT_HUNG_AFTER_MS
    assert AppConfig.hung_after_ms == ScanOptions().hung_after_ms  # the TUI's default is the same
    assert DEFAULT_OPTIONS == ScanOptions()
    defaults = ScanOptions()
    assert (defaults.quick, defaults.full, defaults.all_sessions) == (False, False, False)
    assert (defaults.session_ids, defaults.live, defaults.follow_signals, defaults.now) == (None, None, None, None)
    for entry in (scan, scan_related, rf.full_scan, rf.refresh):  # one default value, not one per function
        assert inspect.signature(entry).parameters["options"].default is DEFAULT_OPTIONS


def _incremental(store: Store, options: ScanOptions, _: str) -> ScanResult:
    scan_resumed(store, replace(options, follow_signals=None))  # keeps the state the next one resumes
    result, how = scan_resumed(store, options)
    assert how.kind == "incremental"
    return result


def _refresh(store: Store, options: ScanOptions, _: str) -> ScanResult:
    watched = rf.full_scan(store, replace(options, follow_signals=None, full=True))
    return rf.refresh(store, watched, options).result


# each entry point, given a store, the options and one session of the database
ENTRY_POINTS: dict[str, Callable[[Store, ScanOptions, str], ScanResult]] = {
    "scan": lambda store, options, _: scan(store, options),
    "scan_related": lambda store, options, session_id: scan_related(store, [session_id], options),
    "scan_resumed (full pass)": lambda store, options, _: scan_resumed(store, replace(options, full=True))[0],
    "scan_resumed (incremental)": _incremental,
    "full_scan": lambda store, options, _: rf.full_scan(store, options).result,
    "refresh": _refresh,
}


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_servers_are_followed_only_when_the_options_say_so(
    entry: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = build_signals(tmp_path / "signals.db", NOW)
    followed: list[set[tuple[int, str]]] = []

    def follow(self: Signals, wanted: set[tuple[int, str]] | frozenset[tuple[int, str]]) -> None:
        followed.append(set(wanted))  # every subscription of any Signals, without opening a stream

    monkeypatch.setattr(Signals, "follow", follow)
    live = ids.live(port=PORT, servers=((DIR, PORT),))  # a running OpenCode that names its server
    store = open_store(tmp_path / "signals.db")
    try:
        plain = ENTRY_POINTS[entry](store, ScanOptions(live=live, now=NOW), ids.slow_reply)
        assert followed == []  # a one-shot scan subscribes to nothing
        assert plain.live is not None and plain.live.progress == ()

        signals = Signals()
        signals.record(ids.slow_reply, NOW - SECOND)  # what its event stream saw
        result = ENTRY_POINTS[entry](store, ScanOptions(live=live, now=NOW, follow_signals=signals), ids.slow_reply)
        assert followed and all(wanted == {(PORT, DIR)} for wanted in followed)
        assert result.live is not None and result.live.progress == ((ids.slow_reply, NOW - SECOND),)
    finally:
        store.dispose()
