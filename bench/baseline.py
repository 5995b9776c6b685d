"""The reference: plain SQL that lists everything stuck, run by the bare ``sqlite3`` CLI.

Each variant prints ``kind|id`` rows: ``part|prt_…`` (tool part ``pending``/``running``, in any
message), ``message|msg_…`` (assistant message without ``$.time.completed``) and
``session|ses_…`` (``time_compacting`` set). All variants must return the same rows; ``run.py``
times them all on the benchmark database and uses the fastest correct one as the baseline.

Why the prefilters are exact (no false negatives) on the benchmark database: OpenCode stores
``JSON.stringify`` output, compact, so a stuck part's text always contains ``"status":"running"``
(or ``pending``), hence ``:"running"``; an assistant message always contains
``"role":"assistant"``. A prefilter hit is then decided by ``json_extract`` (todo lists, for
instance, carry ``"status":"pending"`` items inside completed ``todowrite`` parts). Rows written
by another JSON writer (``"status": "running"``) would evade the compact-only variants; only
``json_extract``/``arrow``/``json_multi`` and ``glob_any_spacing`` are correct for any spacing,
and the core uses the latter's prefilter. The reference stays the fastest variant that is correct
on OpenCode's own files, so the ratio charges the core for its robustness.
"""

from __future__ import annotations

_SESSIONS = "SELECT 'session', id FROM session WHERE time_compacting IS NOT NULL"

_PART_EXACT = "json_extract(data, '$.state.status') IN ('pending', 'running') AND json_extract(data, '$.type') = 'tool'"
_MESSAGE_EXACT = "json_extract(data, '$.role') = 'assistant' AND json_extract(data, '$.time.completed') IS NULL"


def _query(part_where: str, message_where: str) -> str:
    return (
        f"SELECT 'part', id FROM part WHERE {part_where}\n"
        f"UNION ALL SELECT 'message', id FROM message WHERE {message_where}\n"
        f"UNION ALL {_SESSIONS};"
    )


VARIANTS: dict[str, str] = {
    # json_extract on every row (what most people write first)
    "json_extract": _query(_PART_EXACT, _MESSAGE_EXACT),
    # the same with the ->> operator (SQLite ≥ 3.38)
    "arrow": _query(
        "data ->> '$.state.status' IN ('pending', 'running') AND data ->> '$.type' = 'tool'",
        "data ->> '$.role' = 'assistant' AND data ->> '$.time.completed' IS NULL",
    ),
    # one parse for both paths
    "json_multi": _query(
        "json_extract(data, '$.type', '$.state.status') IN ('[\"tool\",\"running\"]', '[\"tool\",\"pending\"]')",
        "json_extract(data, '$.role', '$.time.completed') = '[\"assistant\",null]'",
    ),
    # instr prefilters (what inspector/core/db/v1/sql.py uses)
    "instr": _query(
        '(instr(data, \'"status":"running"\') > 0 OR instr(data, \'"status":"pending"\') > 0) AND ' + _PART_EXACT,
        'instr(data, \'"role":"assistant"\') > 0 AND ' + _MESSAGE_EXACT,
    ),
    # LIKE prefilters
    "like": _query(
        '(data LIKE \'%"status":"running"%\' OR data LIKE \'%"status":"pending"%\') AND ' + _PART_EXACT,
        'data LIKE \'%"role":"assistant"%\' AND ' + _MESSAGE_EXACT,
    ),
    # GLOB prefilters, one pass per status
    "glob2": _query(
        '(data GLOB \'*"status":"running"*\' OR data GLOB \'*"status":"pending"*\') AND ' + _PART_EXACT,
        'data GLOB \'*"role":"assistant"*\' AND ' + _MESSAGE_EXACT,
    ),
    # GLOB, a single pass for both statuses; the pattern starts with ':' (rarer than '"'), which
    # SQLite skips to with strcspn(): this is the cheapest full pass over part.data we found.
    "glob1": _query(
        "data GLOB '*:\"[rp][ue]n[nd]ing\"*' AND " + _PART_EXACT,
        'data GLOB \'*"role":"assistant"*\' AND ' + _MESSAGE_EXACT,
    ),
    # what inspector/core/db/v1/sql.py runs: correct for ANY JSON spacing (``"status": "running"``,
    # newlines, tabs), not only OpenCode's compact text, hence no colon; ``??n`` rejects a quote
    # sooner than a class. Slower than glob1, so glob1 stays the baseline (see README).
    "glob_any_spacing": _query(
        "data GLOB '*\"??n[nd]ing\"*' AND " + _PART_EXACT,
        "data GLOB '*\"assistant\"*' AND " + _MESSAGE_EXACT,
    ),
}

#: The quick tier's findings alone (unfinished assistant messages, compaction marks): what
#: ``scan --quick`` and ``ocinspect run`` answer, as one ``sqlite3`` pass over ``message``.
QUICK_SQL = (
    f"SELECT 'message', id FROM message WHERE data GLOB '*\"role\":\"assistant\"*' AND {_MESSAGE_EXACT}\n"
    f"UNION ALL {_SESSIONS};"
)

#: The variant measured fastest on the default benchmark DB (see README); run.py re-measures.
BASELINE = "glob1"
BASELINE_SQL = VARIANTS[BASELINE]


def parse_rows(text: str) -> dict[str, set[str]]:
    """``kind|id`` lines (CLI output or joined tuples) → {"part": {...}, "message": {...}, "session": {...}}."""
    found: dict[str, set[str]] = {"part": set(), "message": set(), "session": set()}
    for line in text.splitlines():
        kind, _, ident = line.strip().partition("|")
        if kind in found and ident:
            found[kind].add(ident)
    return found


def expected_from_manifest(manifest: dict) -> dict[str, set[str]]:
    """What every variant must find, from a make_db.py manifest."""
    return {
        "part": set(manifest["stuck_parts"]),
        "message": set(manifest["unfinished_messages"]),
        "session": set(manifest["compacting_sessions"]),
    }
