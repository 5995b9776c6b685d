"""``core.ids``: OpenCode's real session ids pass, anything that could be read as an option,
a second word or a path does not."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from inspector.core.errors import InvalidSessionId
from inspector.core.ids import is_session_id, require_session_id
from tests.support.crafted_ids import CRAFTED

FIXTURES = Path(__file__).parent / "fixtures"
# Made by POST /session on the real 1.3.2 and 1.2.27 servers (tests/e2e harness, 2026-12-07):
# 1.3.2 has no fixture file of its own.
MEASURED = ("ses_daec1c7beffej4odnXz5ppcGzH", "ses_daec1c7a0ffem0Tc09MioJ09RZ", "ses_daec1b49cffe3ojXNp4sjim1SB")


def fixture_ids() -> list[str]:
    ids = []
    for db in sorted(FIXTURES.glob("opencode-*.db")):
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            ids += [row[0] for row in conn.execute("SELECT id FROM session")]
    return ids


def test_every_real_session_id_has_the_shape() -> None:
    ids = fixture_ids()
    assert len(ids) >= 27 and {i[:4] for i in ids} == {"ses_"}
    assert all(len(i) == 30 for i in ids)  # what OpenCode writes: ses_ + 26
    for session_id in (*ids, *MEASURED):
        assert is_session_id(session_id), session_id
        assert require_session_id(session_id) == session_id


@pytest.mark.parametrize(
    "value",
    [
        *CRAFTED,
        "",
        "ses_",
        "ses_" + "a" * 65,
        "msg_22ebbf19d001AhcPjR7vbT7Wtr",
        "ses_١٢٣",
        "ses_ａｂ",
        "ses_a-b",
        "ses_a_b",
        "ses_a\tb",
        " ses_ab",
        None,
        7,
    ],
    ids=repr,
)
def test_anything_else_is_refused(value: object) -> None:
    assert not is_session_id(value)
    if isinstance(value, str):
        with pytest.raises(InvalidSessionId) as refused:
            require_session_id(value)
        assert refused.value.kind == "invalid-id" and refused.value.exit_code == 2
        assert "\n" not in str(refused.value) and "\x00" not in str(refused.value)
