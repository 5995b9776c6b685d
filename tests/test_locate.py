from __future__ import annotations

from pathlib import Path

import pytest

from inspector.core.db.locate import channel_databases, data_dir, locate, named_file
from inspector.core.errors import DatabaseNotFound


def test_xdg_default_and_home_fallback(tmp_path: Path) -> None:
    assert data_dir({"XDG_DATA_HOME": "/x"}) == Path("/x/opencode")
    assert data_dir({"HOME": "/home/u"}) == Path("/home/u/.local/share/opencode")


def test_order_db_flag_then_env_then_xdg(tmp_path: Path) -> None:
    (tmp_path / "data" / "opencode").mkdir(parents=True)
    xdg_db = tmp_path / "data" / "opencode" / "opencode.db"
    xdg_db.write_bytes(b"")
    env_db = tmp_path / "env.db"
    env_db.write_bytes(b"")
    flag_db = tmp_path / "flag.db"
    flag_db.write_bytes(b"")
    env = {"XDG_DATA_HOME": str(tmp_path / "data"), "OPENCODE_DB": str(env_db)}
    assert locate(flag_db, env=env) == flag_db
    assert locate(None, env=env) == env_db
    assert locate(None, env={"XDG_DATA_HOME": str(tmp_path / "data")}) == xdg_db


def test_channels_listed_and_chosen(tmp_path: Path) -> None:
    d = tmp_path / "opencode"
    d.mkdir()
    for name in ("opencode.db", "opencode-beta.db", "opencode-dev.db", "other.db"):
        (d / name).write_bytes(b"")
    assert set(channel_databases(d)) == {"stable", "beta", "dev"}
    assert locate(d).name == "opencode.db"
    assert locate(d, channel="beta").name == "opencode-beta.db"
    with pytest.raises(DatabaseNotFound, match="no 'nightly' channel"):
        locate(d, channel="nightly")
    (d / "opencode.db").unlink()
    with pytest.raises(DatabaseNotFound, match="pick one with --channel"):
        locate(d)


def test_missing_everywhere_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(DatabaseNotFound, match="opencode.db"):
        locate(None, env={"XDG_DATA_HOME": str(tmp_path)})
    with pytest.raises(DatabaseNotFound, match="OPENCODE_DB"):
        locate(None, env={"OPENCODE_DB": str(tmp_path / "nope.db")})


def test_named_file_is_what_opencode_must_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``run`` hands this to OpenCode as OPENCODE_DB: absolute, existing or about to be created."""
    monkeypatch.chdir(tmp_path)
    assert named_file("later.db") == tmp_path / "later.db"
    assert named_file(tmp_path) == tmp_path / "opencode.db"
    assert named_file(tmp_path, channel="beta") == tmp_path / "opencode-beta.db"
    (tmp_path / "opencode-beta.db").write_bytes(b"")
    assert named_file(tmp_path) == tmp_path / "opencode-beta.db"  # the one database there
    (tmp_path / "storage" / "session").mkdir(parents=True)
    (tmp_path / "opencode-beta.db").unlink()
    assert named_file(tmp_path) == tmp_path / "opencode.db"  # legacy JSON: OpenCode migrates into it
