"""Subagent trees: which stuck sessions form one chain, tree order, and indentation depth."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
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


def spread_chain_verdicts(diagnoses: dict[str, Diagnosis]) -> dict[str, Diagnosis]:
    """A chain is one unit: if any member waits for a person, is live (or unknown), so is the whole chain."""
    result = dict(diagnoses)
    for sid, diag in diagnoses.items():
        if not diag.is_stuck or diag.verdict in ("stale", "unfixable"):
            continue
        for other in chain_of(sid, diagnoses):
            current = result[other]
            if _VERDICT_RANK[diag.verdict] > _VERDICT_RANK[current.verdict]:
                result[other] = replace(
                    current, verdict=diag.verdict, live_reason=f"{diag.live_reason} (via {sid})",
                    waiting_on=diag.waiting_on if diag.verdict == "waiting" else current.waiting_on,
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

    def walk(diag: Diagnosis) -> Iterator[Diagnosis]:
        if diag.id in emitted:
            return
        emitted.add(diag.id)
        yield diag
        for child in sorted(children[diag.id], key=key):
            yield from walk(child)

    for root in sorted(roots, key=key):
        yield from walk(root)
    for diag in sorted(diagnoses.values(), key=key):  # cycles, if a database ever has one
        yield from walk(diag)


def depth_of(diag: Diagnosis, result: ScanResult) -> int:
    """How many ancestors of ``diag`` are in ``result`` (for indenting trees)."""
    depth = 0
    parent = diag.session.parent_id
    seen: set[str] = set()
    while parent and parent not in seen:
        seen.add(parent)
        found = result.get(parent)
        if found is None:
            break
        depth += 1
        parent = found.session.parent_id
    return depth
