"""Every committed snapshot SVG belongs to a snapshot test that exists.

syrupy fails a serial run on unused snapshots, but skips that check under pytest-xdist (each
worker sees only its share), and ``.ci/run`` uses xdist: this test keeps the check. A snapshot
``__snapshots__/<module>/<Class>.<test>[<param>].svg`` belongs to ``def <test>(…, snap_compare, …)``
in class ``<Class>`` of ``tests/tui/<module>.py``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

HERE = Path(__file__).parent
SNAPSHOTS = HERE / "__snapshots__"


def snapshot_tests(module: Path) -> set[str]:
    """``Class.test`` (or ``test``) of every test function that takes ``snap_compare``."""
    tree = ast.parse(module.read_text())
    found: set[str] = set()

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            elif (
                isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
                and child.name.startswith("test")
                and any(arg.arg == "snap_compare" for arg in child.args.args)
            ):
                found.add(prefix + child.name)

    visit(tree, "")
    return found


def unused_snapshots(snapshots: Path = SNAPSHOTS, tests: Path = HERE) -> list[str]:
    unused = []
    for svg in sorted(snapshots.glob("*/*.svg")):
        module = tests / f"{svg.parent.name}.py"
        name = re.sub(r"\[.*\]$", "", svg.stem)
        if not module.is_file() or name not in snapshot_tests(module):
            unused.append(str(svg.relative_to(snapshots)))
    return unused


def test_every_snapshot_has_its_test() -> None:
    assert list(SNAPSHOTS.glob("*/*.svg")), "no snapshots found: has the layout changed?"
    unused = unused_snapshots()
    assert not unused, (
        f"snapshots without a test (delete them, or run tests/tui without -n and --snapshot-update): {unused}"
    )


def test_a_snapshot_without_its_test_is_found(tmp_path: Path) -> None:
    (tmp_path / "test_mod.py").write_text(
        "class TestA:\n    def test_kept(self, snap_compare):\n        pass\n    def test_plain(self):\n        pass\n"
    )
    shots = tmp_path / "__snapshots__" / "test_mod"
    shots.mkdir(parents=True)
    for name in ("TestA.test_kept", "TestA.test_kept[wide]", "TestA.test_gone", "TestA.test_plain"):
        (shots / f"{name}.svg").write_text("<svg/>")
    (tmp_path / "__snapshots__" / "test_nomodule").mkdir()
    (tmp_path / "__snapshots__" / "test_nomodule" / "TestB.test_x.svg").write_text("<svg/>")
    assert unused_snapshots(tmp_path / "__snapshots__", tmp_path) == [
        "test_mod/TestA.test_gone.svg",
        "test_mod/TestA.test_plain.svg",
        "test_nomodule/TestB.test_x.svg",
    ]
