"""``opencode.directory_trust``: which directories OpenCode may start in without running another
user's project config (the rules the README's ``open`` section states)."""

from __future__ import annotations

import os
from pathlib import Path

from inspector.core.opencode.directory_trust import distrust

NOBODY = 65534


def git_root(path: Path) -> Path:
    (path / ".git").mkdir(parents=True)
    return path


def test_ours_and_roots_directories_are_trusted_group_writable_too(tmp_path: Path) -> None:
    project = git_root(tmp_path / "p")
    assert distrust(str(project)) is None
    project.chmod(0o775)  # user-private groups: group-writable is common and accepted
    assert distrust(str(project)) is None
    # the same directory seen by another user: root's directories are trusted, ours are not theirs
    assert distrust(str(project), uid=NOBODY) is None  # owned by root (the tests run as root)
    os.chown(project, 1000, 1000)
    found = distrust(str(project), uid=NOBODY)
    assert found is not None and (found.path, found.owner_uid, found.reason) == (str(project), 1000, "owner")


def test_the_walk_stops_at_the_git_root_and_checks_it(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    inner = shared / "repo" / "src"
    inner.mkdir(parents=True)
    found = distrust(str(inner))
    assert found is not None and found.path == str(shared) and found.reason == "world-writable"
    git_root(shared / "repo")
    assert distrust(str(inner)) is None
    os.chown(shared / "repo", NOBODY, NOBODY)  # the git root itself is theirs
    found = distrust(str(inner))
    assert found is not None and found.path == str(shared / "repo") and found.reason == "owner"


def test_a_link_is_judged_by_both_the_way_it_is_named_and_where_it_leads(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # sticky: others still create opencode.json here
    target = shared / "proj"
    target.mkdir()
    link = git_root(tmp_path / "mine") / "proj"
    link.symlink_to(target)
    found = distrust(str(link))
    assert found is not None and found.path == str(shared)
    assert found.explain(str(link)).startswith(
        f"{shared}, above the session's project directory {link}, is writable by every user (mode 1777)"
    )
