"""The docs: the README's links land, the site's strict build is live (a planted broken link fails it)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def build(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--site-dir", str(root / "site")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_every_relative_link_of_the_readme_lands() -> None:
    readme = (ROOT / "README.md").read_text()
    targets = [t for t in LINK.findall(readme) if not re.match(r"[a-z]+:", t)]
    assert targets, "the README links to the docs"
    for target in targets:
        assert (ROOT / target).exists(), target


def test_the_readme_stays_short() -> None:
    """The README says what it is, how to install, the two commands and the tasks; the rest is in docs/."""
    assert len((ROOT / "README.md").read_text().splitlines()) <= 200


@pytest.fixture
def site_copy(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    shutil.copytree(ROOT / "docs", tmp_path / "docs", symlinks=False)
    return tmp_path


def test_the_site_builds_strict_and_a_broken_link_fails_it(site_copy: Path) -> None:
    assert build(site_copy).returncode == 0
    page = site_copy / "docs" / "troubleshooting.md"
    page.write_text(page.read_text() + "\nSee [nowhere](no-such-page.md).\n")
    failed = build(site_copy)
    assert failed.returncode != 0 and "no-such-page.md" in failed.stderr
