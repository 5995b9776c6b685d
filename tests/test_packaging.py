"""Packaging: the sdist and wheel build without a warning, under the license the repository carries.

Built offline with the installed setuptools (a test extra, in the range ``[build-system]`` pins),
on a copy of the project's files in ``tmp_path``: the checkout gets no ``build/`` or ``*.egg-info``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())

BUILD = """
import sys, warnings
warnings.simplefilter("always")
from setuptools import build_meta
out = sys.argv[1]
print("built", build_meta.build_sdist(out), build_meta.build_wheel(out))
"""


def backend_requirement() -> Requirement:
    (setuptools,) = [Requirement(r) for r in PYPROJECT["build-system"]["requires"] if r.startswith("setuptools")]
    return setuptools


def test_build_backend_is_pinned_to_a_range() -> None:
    spec = backend_requirement().specifier
    assert any(s.operator == ">=" for s in spec) and any(s.operator == "<" for s in spec), spec


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """(dist dir, everything the build printed) for a copy of the project."""
    installed = version("setuptools")
    if not backend_requirement().specifier.contains(installed):
        pytest.fail(
            f"setuptools {installed} is outside [build-system] {backend_requirement()}: "
            "install the test extras (.ci/run does)",
            pytrace=False,
        )
    src = tmp_path_factory.mktemp("project")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "inspector", src / "inspector", ignore=shutil.ignore_patterns("__pycache__"))
    dist = src / "dist"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # else: "byte-compiling is disabled"
    done = subprocess.run(
        [sys.executable, "-c", BUILD, str(dist)],
        cwd=src,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    return dist, output


def test_build_has_no_warning(built: tuple[Path, str]) -> None:
    _, output = built
    warnings = [line for line in output.splitlines() if re.search(r"warn|deprecat", line, re.IGNORECASE)]
    assert not warnings, "\n".join(warnings)


def test_wheel_and_sdist_carry_the_license(built: tuple[Path, str]) -> None:
    dist, _ = built
    (wheel,) = dist.glob("ocinspect-*.whl")
    (sdist,) = dist.glob("ocinspect-*.tar.gz")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        meta = zf.read(metadata).decode()
        assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), names
    assert "License-Expression: MIT" in meta.splitlines()
    assert "License-File: LICENSE" in meta.splitlines()
    with tarfile.open(sdist) as tf:
        assert any(n.endswith("/LICENSE") for n in tf.getnames())
