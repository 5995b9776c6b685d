"""Which stuck sessions a watch has not reported yet: each is reported once, when it becomes stuck.

A *finding* is a session with an unfinished turn whose verdict is ``stale``, ``hung`` or
``waiting``. It is new when the watch has not reported that session with that verdict since
the session last stopped being stuck: a session seen again on the next look is not new; one
that finished and got stuck again later is. ``unknown`` (liveness could not be told) neither
reports nor forgets: the watch's notice says why, and the next clear answer decides.

Costs stay those of the watch: busy sessions come from the diagnosis the watch made anyway;
idle ones from the watchdog's kept diagnoses (``watch_idle``, which the metrics read too): an
idle session is read when it turns idle or what it was read from moves, not on every look.
Beside a running OpenCode a session called ``stale`` is reported only when the next look
still calls it so: a turn that fails is reported idle a few milliseconds before its rows are
finished (``docs/design/records.md``), and a notification must not fire on that gap.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from inspector.core.db.store import Store
from inspector.core.model import Diagnosis, LiveStatus, ScanResult, Verdict
from inspector.core.repair.watch_idle import IdleSessions

FINDING_VERDICTS: frozenset[Verdict] = frozenset({"stale", "hung", "waiting"})


@dataclass
class Findings:
    """What a watch reported (session id -> verdict), kept across looks."""

    reported: dict[str, Verdict] = field(default_factory=dict)
    maybe_stale: set[str] = field(default_factory=set)  # stale once beside a running OpenCode

    def look(
        self,
        store: Store,
        candidates: dict[str, str],
        live: LiveStatus | None,
        busy_result: ScanResult | None,
        now: int,
        idle: IdleSessions,
    ) -> list[Diagnosis]:
        """The findings new since the last look, in a stable order (oldest stuck first).

        ``candidates``: session id -> directory of every session with an unfinished turn;
        ``live``: this look's liveness (None: not asked, nothing open); ``busy_result``: the
        watch's diagnosis of the busy ones (None when it made none); ``idle``: the kept
        diagnoses of the idle ones, settled for this look."""
        for gone in set(self.reported) - set(candidates):
            del self.reported[gone]
        self.maybe_stale &= set(candidates)
        if live is None:
            return []
        diagnoses: dict[str, Diagnosis] = {}
        if busy_result is not None:
            diagnoses.update((d.id, d) for d in busy_result.sessions if d.id in candidates and d.id in live.busy)
            for sid in live.busy & set(candidates):
                if sid not in diagnoses:
                    self._settle(sid)  # not stuck at all (nothing open in its rows)
        # idle: ``unknown`` ones are left for a clearer look; a ``stale`` one beside a running
        # OpenCode is read again on the next look (its rows may have been finishing); a finding
        # is a verdict: a kept diagnosis whose patterns moved still says it
        todo = [sid for sid, d in candidates.items() if sid not in live.busy and live.verdict(sid, d)[0] != "unknown"]
        found = idle.diagnoses(store, todo, live, now, again=self.maybe_stale, patterns=False)
        for sid, diag in found.items():
            if diag is None:
                self._settle(sid)
            else:
                diagnoses[sid] = diag
        new = [d for sid, d in diagnoses.items() if self._is_new(d, live)]
        return sorted(new, key=lambda d: (d.stuck_since or now, d.id))

    def _is_new(self, diag: Diagnosis, live: LiveStatus) -> bool:
        sid, verdict = diag.id, diag.verdict
        if verdict == "unknown":
            return False
        if verdict not in FINDING_VERDICTS:
            self._settle(sid)
            return False
        if self.reported.get(sid) == verdict:
            return False
        if verdict == "stale" and live.running is True and sid not in self.maybe_stale:
            self.maybe_stale.add(sid)  # said again on the next look, then reported
            return False
        self.maybe_stale.discard(sid)
        self.reported[sid] = verdict
        return True

    def _settle(self, sid: str) -> None:
        """Not stuck (or not any more): a later stuck verdict is new again."""
        self.reported.pop(sid, None)
        self.maybe_stale.discard(sid)
