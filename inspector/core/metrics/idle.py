"""The diagnoses of the watched sessions no server works on (stale, unknown, unfixable).

The watchdog diagnoses only the busy candidates (it acts on those). The others are written by
nobody, so their patterns do not change while they stay what they are: each is read once, by
id through the quick tier's indexes, when it becomes idle or its set of open turns changes,
and all of them again when the watchdog's periodic full pass ran (``Candidates.synced_at``) or
the liveness answer changed in a way that moves their verdict (OpenCode started or stopped, a
directory could not be asked). A look where none of that happened reads nothing here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from inspector.core.diagnose.options import ScanOptions
from inspector.core.diagnose.scan import scan
from inspector.core.errors import InspectorError
from inspector.core.model import Diagnosis, LiveStatus
from inspector.core.repair.watchdog import Watchdog

Context = tuple[bool | None, frozenset[str], int | None]


@dataclass
class IdleDiagnoses:
    known: dict[str, Diagnosis | None] = field(default_factory=dict)  # None: read, nothing stuck
    turns: dict[str, frozenset[str]] = field(default_factory=dict)
    context: Context | None = None
    reads: int = 0  # scans made (for tests and the bench)

    def update(self, dog: Watchdog, live: LiveStatus, now: int) -> list[Diagnosis]:
        """The idle candidates' diagnoses after this look, reading only the changed ones."""
        turns: dict[str, set[str]] = {}
        for message, session in dog.candidates.messages.items():
            if session not in live.busy:
                turns.setdefault(session, set()).add(message)
        context = (live.running, live.unknown_directories, dog.candidates.synced_at)
        if context != self.context:
            self.known.clear()
        fresh = {sid: frozenset(ids) for sid, ids in turns.items()}
        stale_keys = [sid for sid in self.known if fresh.get(sid) != self.turns.get(sid)]
        for sid in stale_keys:
            self.known.pop(sid, None)
        wanted = sorted(sid for sid in fresh if sid not in self.known)
        if wanted:
            try:
                result = scan(dog.store, ScanOptions(session_ids=wanted, quick=True, live=live, now=now))
            except InspectorError:  # busy, or a session deleted meanwhile: the next look reads again
                return [d for sid, d in self.known.items() if d is not None and sid in fresh]
            self.reads += 1
            found = {d.id: d for d in result.sessions}
            self.known.update((sid, found.get(sid)) for sid in wanted)
        self.known = {sid: d for sid, d in self.known.items() if sid in fresh}
        self.turns, self.context = fresh, context
        return [d for d in self.known.values() if d is not None]
