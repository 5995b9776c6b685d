"""The watch's metrics: a registry of its own (never the process-wide one), fed after each look.

Everything a scrape returns is read from one state under one lock, so a scrape never mixes two
looks. The counts come from what the look already computed (``Watchdog.live``, ``.result``,
``.candidates``, ``.signature``) plus the watchdog's kept diagnoses of the idle sessions
(``Watchdog.idle``, which its findings read too): a look reads for the metrics only the idle
sessions the findings left unread (``unknown`` ones), each once. See docs/guide/prometheus.md for the
list and what each one means.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from inspector import __version__
from inspector.core.diagnose.tree import spread_chain_verdicts
from inspector.core.errors import InspectorError
from inspector.core.metrics.tally import PATTERN_NAMES, PROBLEMS, VERDICTS, Tally, tally
from inspector.core.metrics.threadio import thread_read_bytes
from inspector.core.model import Diagnosis
from inspector.core.repair.watchdog import Look, Watchdog, WatchEvent

# Look durations: a look that read nothing takes well under a millisecond, one that scanned a
# few busy chains tens of milliseconds, a look beside a slow server seconds.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
ACTIONS = ("abort", "answer")
OUTCOMES = ("performed", "failed", "refused")


@dataclass
class State:
    tally: Tally = field(default_factory=Tally)
    looks: dict[str, int] = field(default_factory=lambda: {"ok": 0, "busy": 0})
    last_ok: float | None = None
    buckets: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))
    seconds_sum: float = 0.0
    read_bytes: int = 0
    database_bytes: int = 0
    wal_bytes: int = 0
    actions: dict[tuple[str, str], int] = field(default_factory=lambda: {(a, o): 0 for a in ACTIONS for o in OUTCOMES})
    resolved: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PROBLEMS, 0))
    streams: int = 0
    lag_s: float = 0.0
    events: int = 0


class WatchMetrics(Collector):
    """A ``Watchdog`` observer (``LookObserver``) and a Prometheus collector in one."""

    def __init__(self) -> None:
        self.schema = ""  # the watched database's generation and its hung threshold: known at the first look
        self.hung_after_ms = 0
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)
        self._state = State()
        self._lock = threading.Lock()
        self._closers: list[Callable[[], None]] = []
        self._thread: int | None = None
        self._read_mark: int | None = None

    # the observer ------------------------------------------------------------------------
    def looked(self, dog: Watchdog, look: Look) -> None:
        self.schema, self.hung_after_ms = dog.store.schema, dog.hung_after_ms
        started = time.monotonic()
        counted = self._count(dog, look) if look.ok else None
        seconds = look.seconds + (time.monotonic() - started)  # the idle sessions read for the metrics too
        read = self._bytes_read()
        open_sessions = set(dog.candidates.messages.values())
        with self._lock:
            state = self._state
            state.looks["ok" if look.ok else "busy"] += 1
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    state.buckets[i] += 1
            state.seconds_sum += seconds
            state.read_bytes += read
            for event in look.events:
                key = action_of(event)
                if key is not None:
                    state.actions[key] += 1
            if counted is not None:
                for sid, verdict in state.tally.verdicts.items():
                    if verdict in PROBLEMS and sid not in open_sessions:
                        state.resolved[verdict] += 1  # its turn closed (it left the candidates)
                state.tally = counted
                state.last_ok = look.time / 1000
            signature = dog.signature
            if signature is not None:
                state.database_bytes = signature[0][1] if signature[0] else 0
                state.wal_bytes = signature[1][1] if signature[1] else 0
            if dog.signals is not None:
                state.streams = len(dog.signals.following)
                silence = dog.signals.silence_s()
                state.lag_s = 0.0 if silence is None else silence
                state.events = dog.signals.events_seen

    def close(self) -> None:
        for closer in reversed(self._closers):
            closer()
        self._closers.clear()

    def on_close(self, closer: Callable[[], None]) -> None:
        self._closers.append(closer)

    def _count(self, dog: Watchdog, look: Look) -> Tally:
        """This look's diagnoses: the busy ones the watchdog scanned, the idle ones kept."""
        live = dog.live
        if live is None:  # no candidate at all
            return tally((), look.time)
        diagnoses: dict[str, Diagnosis] = {}
        if dog.result is not None:
            diagnoses.update((d.id, d) for d in dog.result.sessions)
        try:
            idle = dog.idle.diagnoses(dog.store, dog.idle.turns, live, look.time)
        except InspectorError:  # busy, or a session deleted meanwhile: the next look reads again
            idle = dog.idle.kept_of(dog.idle.turns)
        for diag in idle.values():
            if diag is not None:
                diagnoses.setdefault(diag.id, diag)
        # a chain is judged as one, as ``scan`` does across busy and idle members
        return tally(spread_chain_verdicts(diagnoses).values(), look.time)

    def _bytes_read(self) -> int:
        """What this thread read since the previous look (0 on the first, or in another thread)."""
        mark, thread = thread_read_bytes(), threading.get_ident()
        read = mark - self._read_mark if mark is not None and self._read_mark is not None else 0
        if thread != self._thread:
            read = 0
        self._thread, self._read_mark = thread, mark
        return max(0, read)

    # the collector ------------------------------------------------------------------------
    def collect(self) -> Iterator[Metric]:
        with self._lock:
            state = self._state
            counted = state.tally
            yield labelled(
                GaugeMetricFamily,
                "ocinspect_sessions",
                "Sessions with an unfinished turn, by verdict",
                ["verdict"],
                counted.sessions,
            )
            yield labelled(
                GaugeMetricFamily,
                "ocinspect_sessions_by_pattern",
                "Sessions with an unfinished turn, by verdict and stuck pattern (a session counts once per pattern)",
                ["verdict", "pattern"],
                {(v, p): counted.by_pattern.get((v, p), 0) for v in VERDICTS for p in PATTERN_NAMES},
            )
            yield labelled(
                GaugeMetricFamily, "ocinspect_hung_sessions", "Hung sessions by how they hang", ["kind"], counted.hung
            )
            yield labelled(
                GaugeMetricFamily,
                "ocinspect_waiting_sessions",
                "Sessions waiting for a person, by what is asked",
                ["kind"],
                counted.waiting,
            )
            yield labelled(
                GaugeMetricFamily,
                "ocinspect_oldest_stuck_seconds",
                "Age of the oldest unfinished turn, by verdict (0: none)",
                ["verdict"],
                counted.oldest_s,
            )
            yield labelled(
                CounterMetricFamily,
                "ocinspect_actions",
                "What watch did through OpenCode: aborts of hung chains, answers to prompts; "
                "failed: sent, not settled; refused: nothing could be sent",
                ["action", "outcome"],
                state.actions,
            )
            yield labelled(
                CounterMetricFamily,
                "ocinspect_stuck_sessions_resolved",
                "Stuck sessions whose unfinished turn closed (recovered, aborted, finished), by their last verdict",
                ["verdict"],
                state.resolved,
            )
            yield labelled(
                CounterMetricFamily,
                "ocinspect_looks",
                "Looks at the database; result busy: it was locked, nothing was decided",
                ["result"],
                state.looks,
            )
            buckets = [(repr(bound), n) for bound, n in zip(BUCKETS, state.buckets, strict=True)]  # cumulative
            buckets.append(("+Inf", sum(state.looks.values())))
            yield HistogramMetricFamily(
                "ocinspect_look_duration_seconds",
                "How long each look took (stat, read what changed, ask OpenCode, act)",
                buckets=buckets,
                sum_value=state.seconds_sum,
            )
            yield CounterMetricFamily(
                "ocinspect_look_read_bytes",
                "Bytes the looks read: the database, its WAL, /proc and the servers' answers",
                value=state.read_bytes,
            )
            yield GaugeMetricFamily(
                "ocinspect_last_look_timestamp_seconds",
                "When the last look that could read the database ended (Unix time)",
                value=math.nan if state.last_ok is None else state.last_ok,
            )
            yield GaugeMetricFamily("ocinspect_database_bytes", "Size of the database file", value=state.database_bytes)
            yield GaugeMetricFamily(
                "ocinspect_wal_bytes", "Size of its write-ahead log (-wal file)", value=state.wal_bytes
            )
            yield GaugeMetricFamily("ocinspect_event_streams", "OpenCode event streams followed", value=state.streams)
            yield GaugeMetricFamily(
                "ocinspect_event_stream_lag_seconds",
                "How long the quietest followed event stream has sent nothing (0: none followed)",
                value=state.lag_s,
            )
            yield CounterMetricFamily("ocinspect_events", "Events received on the followed streams", value=state.events)
        yield GaugeMetricFamily(
            "ocinspect_hung_after_seconds",
            "How long nothing of a busy session must move before it counts as hung",
            value=self.hung_after_ms / 1000,
        )
        yield labelled(
            GaugeMetricFamily,
            "ocinspect_watch_info",
            "The watching ocinspect",
            ["version", "schema"],
            {(__version__, self.schema): 1},
        )


def labelled(
    kind: type[GaugeMetricFamily] | type[CounterMetricFamily],
    name: str,
    documentation: str,
    labels: list[str],
    values: Mapping[str, float] | Mapping[tuple[str, str], float],
) -> Metric:
    """One family with a sample per key (a label value, or a tuple of them in ``labels`` order)."""
    family = kind(name, documentation, labels=labels)
    for key, n in values.items():
        family.add_metric(list(key) if isinstance(key, tuple) else [key], n)
    return family


def action_of(event: WatchEvent) -> tuple[str, str] | None:
    """(action, outcome) of one watch event; None for a notice."""
    if event.kind == "aborted":
        return ("abort", "performed")
    if event.kind == "not-stopped":
        sent = event.outcome is not None and bool(event.outcome.aborted)
        return ("abort", "failed" if sent else "refused")
    if event.kind == "rejected":
        return ("answer", "performed")
    if event.kind == "not-rejected":
        return ("answer", "failed" if event.answer is not None and event.answer.sent else "refused")
    return None
