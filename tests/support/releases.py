"""Every OpenCode release we test against, its real fixtures, and exactly what each one holds.

``tests/fixtures/opencode-<version>-<scenario>.db`` were written by the real binary of that
release (``tests/e2e/capture.py --opencode-version <version>``); the expectations below were
read from the files by hand (see tests/fixtures/README.md) and are what a scan must report:
every stuck session, its patterns and warnings, its unfinished assistant messages and its stuck
tool parts, nothing more.

Reuse: ``CASES`` lists every (release, scenario); ``fixture_file`` names the original (never
write it: the ``release_fixture`` fixture in conftest.py hands out private copies).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

FIXTURES = Path(__file__).parents[1] / "fixtures"
DDL_1_18_33 = Path(__file__).parents[2] / "inspector" / "core" / "synth" / "sql" / "opencode-1.18.33.sql"

NOW_1_18_33 = 1795540000000  # 2026-11-24T17:06:40Z, a little after those fixtures were captured
NOW_MATRIX = 1796090000000  # 2026-12-01T02:33:20Z, a little after the older releases' captures


@dataclass(frozen=True)
class StuckPart:
    id: str
    message_id: str
    tool: str
    status: str
    started: int | None
    child: str | None = None
    child_inferred: bool = False


@dataclass(frozen=True)
class StuckSession:
    id: str
    patterns: tuple[str, ...]
    unfinished: tuple[str, ...] = ()
    parts: tuple[StuckPart, ...] = ()
    parent_id: str | None = None
    children: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Release:
    """One OpenCode release: how it stores sessions, and its fixtures' stuck sessions."""

    version: str
    now: int  # the clock the tests use for its fixtures
    schema: Path  # its DDL (``sqlite3 <fresh db> .schema``)
    tables: int
    writes_event_log: bool  # OpenCode fills ``event``/``event_sequence`` for every change
    has_event_tables: bool
    task_names_child: bool  # a running task part carries ``state.metadata.sessionId``
    fixtures: dict[str, tuple[StuckSession, ...]] = field(default_factory=dict)

    @property
    def version_tuple(self) -> tuple[int, ...]:
        return tuple(int(x) for x in self.version.split("."))


def _bash(sid: str, msg: str, part: str, started: int) -> tuple[StuckSession, ...]:
    return (StuckSession(sid, ("crash-orphan",), (msg,), (StuckPart(part, msg, "bash", "running", started),)),)


def _pending(sid: str, msg: str, part: str) -> tuple[StuckSession, ...]:
    return (StuckSession(sid, ("pending-placeholder",), (msg,), (StuckPart(part, msg, "bash", "pending", None),)),)


def _task(
    parent: str,
    parent_msg: str,
    task: str,
    task_start: int,
    child: str,
    child_msg: str,
    bash: str,
    bash_start: int,
    *,
    inferred: bool = False,
) -> tuple[StuckSession, ...]:
    chain = ("crash-orphan", "subagent-chain")
    return (
        StuckSession(
            parent,
            chain,
            (parent_msg,),
            (StuckPart(task, parent_msg, "task", "running", task_start, child, inferred),),
            children=(child,),
        ),
        StuckSession(
            child, chain, (child_msg,), (StuckPart(bash, child_msg, "bash", "running", bash_start),), parent_id=parent
        ),
    )


RISK = ("id-wrap-risk",)

RELEASES: dict[str, Release] = {
    r.version: r
    for r in (
        Release(
            "1.2.27",
            NOW_MATRIX,
            FIXTURES / "schema-1.2.27.sql",
            12,
            writes_event_log=False,
            has_event_tables=False,
            task_names_child=False,
            fixtures={
                "stuck-bash": _bash(
                    "ses_dd1440f5affeEKbkHFF0Lk2gXU",
                    "msg_22ebbf19d001AhcPjR7vbT7Wtr",
                    "prt_22ebbf22f001Ecn2mhsiFrkNdd",
                    1796080398897,
                ),
                "stuck-pending": _pending(
                    "ses_dd143fec4ffefkhVto3GbnFhiz", "msg_22ebc01da001OO3PrsYdBG5H0k", "prt_22ebc0236001LEGyfXIy5g6EQC"
                ),
                "stuck-task": _task(
                    "ses_dd144065fffe2Ka5AunX4MqesF",
                    "msg_22ebbfa160017liQmcSI5DJFTG",
                    "prt_22ebbfaa600205hIziNKyjcBKr",
                    1796080401063,
                    "ses_dd14405aeffe4GsQpzgWAaq636",
                    "msg_22ebbfa57001w4qryu2gGGS3NF",
                    "prt_22ebbfa99001rSB502VlsAPro3",
                    1796080401050,
                    inferred=True,
                ),
            },
        ),
        # 1.3.2: same schema (its DDL is byte-identical to 1.2.27's) and behaviour as 1.2.27; no
        # fixtures of its own, it runs end to end only.
        Release(
            "1.3.2",
            NOW_MATRIX,
            FIXTURES / "schema-1.2.27.sql",
            12,
            writes_event_log=False,
            has_event_tables=False,
            task_names_child=False,
        ),
        Release(
            "1.14.41",
            NOW_MATRIX,
            FIXTURES / "schema-1.14.41.sql",
            15,
            writes_event_log=False,
            has_event_tables=True,
            task_names_child=True,
            fixtures={
                "stuck-bash": _bash(
                    "ses_dd143f455ffetiVOinhSPFLCVl",
                    "msg_22ebc0c7f0014tyytMZTCAfmhJ",
                    "prt_22ebc0d38001kENuE9ZIS7PIlX",
                    1796080405943,
                ),
                "stuck-pending": _pending(
                    "ses_dd143e118ffeQOdPHRG4wg7UBR", "msg_22ebc2012001AKwa0VyH8UnFTq", "prt_22ebc219d001pfas0FQJNyNDgx"
                ),
                "stuck-task": _task(
                    "ses_dd143eb16ffeVpL7AtSJmgzgpT",
                    "msg_22ebc15d6001m5vSnYygtDrhPR",
                    "prt_22ebc1696001h3ac3tGn1hn1RV",
                    1796080408236,
                    "ses_dd143e961ffekcsUgKnB1vNhA7",
                    "msg_22ebc16b0001Q8tsu9mdJMRRo4",
                    "prt_22ebc16fa001G5GoxLxT0W1Frm",
                    1796080408380,
                ),
            },
        ),
        Release(
            "1.15.13",
            NOW_MATRIX,
            FIXTURES / "schema-1.15.13.sql",
            16,
            writes_event_log=False,
            has_event_tables=True,
            task_names_child=True,
            fixtures={
                "stuck-bash": _bash(
                    "ses_dd143d3f9ffefguul79tYBK7tL",
                    "msg_22ebc2d7b001nezUHaiwX938Wk",
                    "prt_22ebc2ebc0010iZQOZLpI7CLIx",
                    1796080414623,
                ),
                "stuck-pending": _pending(
                    "ses_dd143bc0bffe6hWbJJjLPqKVxp", "msg_22ebc4503001aM8OjZMY7Gk0ud", "prt_22ebc45b8001Sec25AKqMHLbfB"
                ),
                "stuck-task": _task(
                    "ses_dd143c70fffeeNLL9h8x4dDoSR",
                    "msg_22ebc3a60001SMwZ9ZH26dzRin",
                    "prt_22ebc3b310014Q9z7HdIW6BQYT",
                    1796080417625,
                    "ses_dd143c4c1ffegjDdT2w8c0tggO",
                    "msg_22ebc3b9e001lCZUteV9kwFirk",
                    "prt_22ebc3c04001ogTMJauUBpK0LS",
                    1796080417893,
                ),
            },
        ),
        Release(
            "1.18.14",
            NOW_MATRIX,
            FIXTURES / "schema-1.18.14.sql",
            20,
            writes_event_log=True,
            has_event_tables=True,
            task_names_child=True,
            fixtures={
                "stuck-bash": _bash(
                    "ses_dd143aa74ffeORVcizvZr97U5J",
                    "msg_22ebc57d0001XtEGC7gboHdmSM",
                    "prt_22ebc5ac8001TYeUb701Ryv86b",
                    1796080425782,
                ),
                "stuck-pending": _pending(
                    "ses_dd1438172ffeoKxBqHpvPyFQTG", "msg_22ebc81f80010wAWQQ5lsDd6jT", "prt_22ebc87070018NrSdIPvJ0hXNM"
                ),
                "stuck-task": _task(
                    "ses_dd14396cbffeUtJEzyHvtEAiUZ",
                    "msg_22ebc6b8d001MH856biR0N7iIJ",
                    "prt_22ebc6ee5001v7MRGcivK4hhi9",
                    1796080430834,
                    "ses_dd1439111ffeHDD3E5ES6l3Vfe",
                    "msg_22ebc6f12001pjiowSH7CdEB04",
                    "prt_22ebc6f79001A0aP4PKvEunq2Y",
                    1796080431150,
                ),
                # Sessions begun ~3 minutes before the 2026-08-14 id wrap (libfaketime): a finished
                # one (ses_000029fc5ffe…, not stuck, at risk too) and one stuck in bash.
                "id-wrap-stuck": (
                    StuckSession(
                        "ses_0000295fcffez3QaKvu0zlJ9vL",
                        ("crash-orphan",),
                        ("msg_ffffd6a1f001rQo5QcjAMUZWWn",),
                        (
                            StuckPart(
                                "prt_ffffd6b19001dkebu56Njpw3OM",
                                "msg_ffffd6a1f001rQo5QcjAMUZWWn",
                                "bash",
                                "running",
                                1786706225955,
                            ),
                        ),
                        warnings=RISK,
                    ),
                ),
                # The same two sessions after one new prompt each at today's clock: the finished
                # one's prompt was ignored; the stuck one's old prompt was answered 24+ times (the
                # loop), killed mid-reply.
                "id-wrap-loop": (
                    StuckSession(
                        "ses_0000292e4ffe379YQouS4GIuZo",
                        ("crash-orphan", "interrupted-turn", "ignores-prompts"),
                        ("msg_ffffd6d43001I5sRSKOrBoLrsZ", "msg_22ec181ed001flxyTElbY9Zu3X"),
                        (
                            StuckPart(
                                "prt_ffffd6dcb001bj3hEu05HezOrf",
                                "msg_ffffd6d43001I5sRSKOrBoLrsZ",
                                "bash",
                                "running",
                                1786706226643,
                            ),
                        ),
                        warnings=RISK,
                    ),
                    StuckSession("ses_000029fecffe29eo5zwQ22TefS", ("ignores-prompts",), warnings=RISK),
                ),
            },
        ),
        Release(
            "1.18.33",
            NOW_1_18_33,
            DDL_1_18_33,
            20,
            writes_event_log=True,
            has_event_tables=True,
            task_names_child=True,
            fixtures={
                "clean": (),
                "stuck-bash": _bash(
                    "ses_df18eeb6dffeePv0iTauMoOxIU",
                    "msg_20e711917001ax9SiMVHXTS6oC",
                    "prt_20e711e21001KxiM1bR4EMS3Yv",
                    1795538624041,
                ),
                "stuck-two": (  # in scan order (tree order: newest activity first)
                    _bash(
                        "ses_df18ebe7cffeXWNiRuh4af1Ynr",
                        "msg_20e71454f001BES4ha0OLoicri",
                        "prt_20e714b14001kktVI36s2MTHUG",
                        1795538635548,
                    )[0],
                    _bash(
                        "ses_df18ebf03ffecLn0zX09ai9ymn",
                        "msg_20e714548001hmRVDjVguoGPdS",
                        "prt_20e714af4001BB1L0VerrFlHOj",
                        1795538635521,
                    )[0],
                ),
                "stuck-pending": _pending(
                    "ses_df18e866fffeGD4m89iOLPHhqg", "msg_20e717c9a001Qyk02cVUyPHIqt", "prt_20e71806d001eBS22bHRq6Je40"
                ),
                "stuck-task": _task(
                    "ses_df18eab18ffeF8zm5QUo7WX29g",
                    "msg_20e7158520013jieWNCw05vdin",
                    "prt_20e715b7e0013ItAjTBII9fyp4",
                    1795538639756,
                    "ses_df18ea478ffedUk3exGgsWE7Dw",
                    "msg_20e715ba5001vyI5SLvLPPpJb4",
                    "prt_20e715bee001Lt7KnAQURNC9NP",
                    1795538639859,
                ),
            },
        ),
    )
}

LATEST = "1.18.33"
# The e2e matrix: every release users run that npm has for linux-x64 (1.17.20 has no
# opencode-linux-x64 package; <= 1.1.x keeps JSON files, which ocinspect only reports).
E2E_RELEASES = tuple(RELEASES)
FIXTURE_RELEASES = tuple(v for v, r in RELEASES.items() if r.fixtures)

CASES: list[tuple[str, str]] = [(v, s) for v, r in RELEASES.items() for s in r.fixtures]


def fixture_file(version: str, scenario: str) -> Path:
    return FIXTURES / f"opencode-{version}-{scenario}.db"


def sessions_of(version: str, scenario: str) -> list[str]:
    return [s.id for s in RELEASES[version].fixtures[scenario]]


NOW = NOW_1_18_33  # 2026-11-24T17:06:40Z, a little after the newest release's fixtures were captured

# Stuck sessions of the newest release's fixtures, by scenario.
SESSIONS = {name: sessions_of(LATEST, name) for name in RELEASES[LATEST].fixtures}


class FixtureCase(NamedTuple):
    """One real fixture of one OpenCode release, as a private copy (the ``release_fixture`` fixture)."""

    release: Release
    scenario: str
    path: Path

    @property
    def now(self) -> int:
        return self.release.now
