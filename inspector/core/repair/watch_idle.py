"""The watch's one kept diagnosis of each idle session, read by the findings and the metrics alike.

An *idle* session has an unfinished turn that no server lists busy (stale, unknown,
unfixable). The watchdog diagnoses only its busy candidates each look (it acts on those); an
idle one is read once, by id through the quick tier's indexes, and kept until something it was
read from moves. One rule, correct for both readers, drops a kept diagnosis when what decides
an idle session's verdict moved:

- the session stops being idle (a server lists it busy, or its turns all closed);
- its set of open turns changes (the candidates' own incremental pass names them);
- the liveness answer changed in a way that moves an idle verdict (OpenCode started or
  stopped, a directory could not be asked);
- the candidates started over (the file replaced, the schema changed: the tracker's rule);

and marks it *moved* when a row it was read from moved inside its turns: its open turns' and
their tools' versions (``time_updated``, which OpenCode and ocinspect bump on every write),
compared by id at each look where the file changed, or a new prompt appended to it. A moved
diagnosis still holds its verdict (the findings use it as is, as a finding is a verdict), not
its patterns: a reader that counts them (the metrics) has it read again, once for both.

The watchdog's periodic full pass of the candidates re-reads none of them: it finds turns,
and a turn that changed is named by the rules above. A look where the file did not change
reads nothing here; one where it did costs one by-id version query over the idle sessions' open
turns and tools (no content), never a pass over the database. Not followed: a session row or
a 2.x hold (claim, inbox) changed in place on an idle session, until one of its turns moves.
The findings may ask for a kept diagnosis afresh (``again``: their second look at a ``stale``
beside a running OpenCode); the metrics then read that fresh one too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace

from inspector.core.db.reads import Reads
from inspector.core.db.store import Store
from inspector.core.diagnose.options import ScanOptions
from inspector.core.diagnose.scan import scan
from inspector.core.errors import InspectorError, SessionNotFound
from inspector.core.model import Diagnosis, LiveStatus

Context = tuple[bool | None, frozenset[str]]
Versions = frozenset[tuple[str, int]]  # (row id, version) of a session's open turns and their tools


@dataclass(frozen=True)
class Kept:
    diagnosis: Diagnosis | None  # None: read, nothing stuck in its rows
    turns: frozenset[str]
    versions: Versions
    moved: bool = False  # a row inside its turns changed since: the verdict holds, the patterns may not


@dataclass
class IdleSessions:
    """Session id -> its kept diagnosis; ``scans``/``read_count`` say what was read (tests, bench;
    the count of a session that is not idle any more is dropped with it)."""

    kept: dict[str, Kept] = field(default_factory=dict)
    turns: dict[str, frozenset[str]] = field(default_factory=dict)  # this look's idle sessions' open turns
    context: Context | None = None
    scans: int = 0
    read_count: Counter[str] = field(default_factory=Counter)

    def moved(self, store: Store, *, started_over: bool, appended: Mapping[str, int] | None) -> None:
        """After the candidates' pass of a look where the file changed: mark what moved.

        ``started_over``: the candidates were read afresh because the file is not the one they
        followed; ``appended``: the ``message`` rows appended since the last look (a span)."""
        if started_over:
            self.kept.clear()
            return
        still = {sid: k.turns for sid, k in self.kept.items() if not k.moved}
        if not still:
            return
        try:
            with store.reading() as reads:
                touched = reads.sessions_with_new_turns(appended) if appended is not None else set()
                now = versions_of(reads, still)
        except InspectorError:  # busy: this change is not looked at again, so none is trusted to be still
            touched, now = set(still), {}
        for sid in [s for s in still if s in touched or now.get(s) != self.kept[s].versions]:
            self.kept[sid] = replace(self.kept[sid], moved=True)

    def settle(self, idle: Mapping[str, frozenset[str]], live: LiveStatus) -> None:
        """This look's idle sessions (id -> open turns) and liveness: drop what they invalidate."""
        context = (live.running, live.unknown_directories)
        if context != self.context:
            self.kept.clear()
        self.kept = {sid: k for sid, k in self.kept.items() if idle.get(sid) == k.turns}
        for sid in [s for s in self.read_count if s not in idle]:
            del self.read_count[sid]
        self.turns, self.context = dict(idle), context

    def forget(self) -> None:
        """No candidate at all (nothing is idle)."""
        self.kept.clear()
        self.read_count.clear()
        self.turns = {}

    def diagnoses(
        self,
        store: Store,
        wanted: Iterable[str],
        live: LiveStatus,
        now: int,
        *,
        again: Collection[str] = (),
        patterns: bool = True,
    ) -> dict[str, Diagnosis | None]:
        """The diagnoses of ``wanted`` (idle sessions of this look; None: nothing stuck), reading
        only those not kept, those moved when ``patterns`` are wanted (not only the verdict), and
        ``again`` (read afresh whatever is kept). Raises the scan's ``InspectorError`` (the
        database busy); a session deleted meanwhile leaves the ones not kept out until the next look."""
        wanted = {sid for sid in wanted if sid in self.turns}
        todo = sorted(
            sid for sid in wanted if (k := self.kept.get(sid)) is None or sid in again or (patterns and k.moved)
        )
        if todo:
            turns = {sid: self.turns[sid] for sid in todo}
            with store.reading() as reads:  # before the scan: a write meanwhile is a difference next time
                versions = versions_of(reads, turns)
            try:
                result = scan(store, ScanOptions(session_ids=todo, quick=True, live=live, now=now, hung_after_ms=None))
            except SessionNotFound:
                pass
            else:
                self.scans += 1
                self.read_count.update(todo)
                found = {d.id: d for d in result.sessions}
                for sid in todo:
                    self.kept[sid] = Kept(found.get(sid), turns[sid], versions.get(sid, frozenset()))
        return self.kept_of(wanted)

    def kept_of(self, wanted: Iterable[str]) -> dict[str, Diagnosis | None]:
        """What is kept of ``wanted``, reading nothing."""
        return {sid: self.kept[sid].diagnosis for sid in wanted if sid in self.kept}


def versions_of(reads: Reads, turns: Mapping[str, frozenset[str]]) -> dict[str, Versions]:
    """Per session, the versions of its open turns and of their tools (one by-id statement)."""
    rows = reads.versions_of_turns(set().union(*turns.values()) if turns else ())
    return {sid: frozenset(pair for mid in mine for pair in rows.get(mid, {}).items()) for sid, mine in turns.items()}
