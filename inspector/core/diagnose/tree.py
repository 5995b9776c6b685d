"""Subagent trees: which stuck sessions form one chain, tree order, and indentation depth."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import replace

from inspector.core.model import Diagnosis, ScanResult

# A chain waiting for a person waits as a whole (the parent's task waits on the child's prompt).
_VERDICT_RANK = {"waiting": 4, "hung": 3, "live": 3, "unknown": 2, "stale": 1, "unfixable": 1, "ok": 0}


def chain_of(session_id: str, diagnoses: dict[str, Diagnosis]) -> list[str]:
    """The stuck sessions linked to ``session_id`` through parent/child (a subagent chain)."""
    seen: set[str] = set()
    todo = [session_id]
    while todo:
        sid = todo.pop()
        if sid in seen or sid not in diagnoses or not diagnoses[sid].is_stuck:
            continue
        seen.add(sid)
        diag = diagnoses[sid]
        todo.extend(diag.children)
        if diag.session.parent_id:
            todo.append(diag.session.parent_id)
    return sorted(seen, key=lambda s: (diagnoses[s].session.parent_id is not None, s))


def chain_lookup(diagnoses: dict[str, Diagnosis]) -> Callable[[str], list[str]]:
    """:func:`chain_of` for many sessions: a chain is walked once and shared by its members, so
    asking every member of a chain thousands deep stays linear."""
    known: dict[str, list[str]] = {}

    def lookup(session_id: str) -> list[str]:
        if session_id not in known:
            chain = chain_of(session_id, diagnoses)
            for member in chain:
                known.setdefault(member, chain)
            if session_id not in known:
                return chain
        return known[session_id]

    return lookup


def spread_chain_verdicts(diagnoses: dict[str, Diagnosis]) -> dict[str, Diagnosis]:
    """A chain is one unit: if any member waits for a person, is live (or unknown), so is the whole
    chain (the first member, in ``diagnoses`` order, of the highest rank speaks for it)."""
    result = dict(diagnoses)
    order = {sid: i for i, sid in enumerate(diagnoses)}
    lookup = chain_lookup(diagnoses)
    done: set[str] = set()
    for sid, diag in diagnoses.items():
        if sid in done or not diag.is_stuck or diag.verdict in ("stale", "unfixable"):
            continue
        chain = lookup(sid)
        done.update(chain)
        speakers = sorted(
            (m for m in chain if diagnoses[m].verdict not in ("stale", "unfixable")), key=order.__getitem__
        )
        best = max(speakers, key=lambda m: _VERDICT_RANK[diagnoses[m].verdict], default=sid)
        top = diagnoses[best]
        for other in chain:
            current = result[other]
            if _VERDICT_RANK[top.verdict] > _VERDICT_RANK[current.verdict]:
                result[other] = replace(
                    current,
                    verdict=top.verdict,
                    live_reason=f"{top.live_reason} (via {best})",
                    waiting_on=top.waiting_on if top.verdict == "waiting" else current.waiting_on,
                )
    return result


def tree_order(diagnoses: dict[str, Diagnosis]) -> Iterator[Diagnosis]:
    """Stuck roots first, newest activity first, each followed by its children (a tree walk)."""

    def key(d: Diagnosis) -> tuple[int, int, str]:
        return (0 if d.is_stuck else 1, -(d.last_activity or d.session.time_updated), d.id)

    children: dict[str, list[Diagnosis]] = defaultdict(list)
    roots: list[Diagnosis] = []
    for diag in diagnoses.values():
        parent = diag.session.parent_id
        if parent and parent in diagnoses:
            children[parent].append(diag)
        else:
            roots.append(diag)
    emitted: set[str] = set()

    def walk(top: Diagnosis) -> Iterator[Diagnosis]:
        # A stack, not recursion: a subagent chain can be thousands of sessions deep.
        stack = [iter((top,))]
        while stack:
            diag = next(stack[-1], None)
            if diag is None:
                stack.pop()
            elif diag.id not in emitted:
                emitted.add(diag.id)
                yield diag
                stack.append(iter(sorted(children[diag.id], key=key)))

    for root in sorted(roots, key=key):
        yield from walk(root)
    for diag in sorted(diagnoses.values(), key=key):  # cycles, if a database ever has one
        yield from walk(diag)


def depth_of(diag: Diagnosis, result: ScanResult) -> int:
    """How many ancestors of ``diag`` are in ``result`` (for indenting trees)."""
    if diag.id in result.depths:
        return result.depths[diag.id]
    parent = diag.session.parent_id
    return result.depths[parent] + 1 if parent and parent in result.depths else 0
