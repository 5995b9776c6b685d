"""Where the command line decides how a run ends: commands return their exit code or raise a
typed error, and ``group.Group.invoke`` alone turns either into the process's exit code."""

from __future__ import annotations

import ast
from pathlib import Path

from click.testing import CliRunner

from inspector.cli import cli
from inspector.cli.errors import EXIT_CANNOT_START, Failure, say_error
from inspector.core.errors import EXIT_REFUSED, RepairRefused, SessionNotFound

CLI = Path(__file__).resolve().parents[1] / "inspector" / "cli"


def exits(path: Path) -> list[str]:
    """``sys.exit(...)``/``os._exit(...)``/``exit(...)`` calls in one module, as ``name:function``."""
    tree = ast.parse(path.read_text())
    found: list[str] = []
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef):
            continue
        for node in ast.walk(func):
            if isinstance(node, ast.Call):
                callee = ast.unparse(node.func)
                if callee in ("sys.exit", "os._exit", "exit", "quit"):
                    found.append(f"{path.name}:{func.name}:{callee}")
    return found


def test_no_command_or_helper_ends_the_process_itself() -> None:
    found = sorted(hit for module in CLI.glob("*.py") for hit in exits(module))
    # The one exit left: the console script's, after the output is flushed (see ``main``).
    assert found == ["__init__.py:main:os._exit"]


def test_typed_errors_are_one_line_and_their_own_code() -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["run", "--", "/nonexistent/program"])
    assert result.exit_code == EXIT_CANNOT_START
    assert result.output == "ocinspect: error: cannot start '/nonexistent/program': No such file or directory\n"


def test_say_error_maps_each_kind_to_its_code() -> None:
    assert say_error(Failure("no terminal")) == 2
    assert say_error(Failure("cannot start", EXIT_CANNOT_START)) == EXIT_CANNOT_START
    assert say_error(SessionNotFound("no such session")) == 2
    assert say_error(RepairRefused("OpenCode is live on it", hint="force")) == EXIT_REFUSED
    assert say_error(KeyboardInterrupt()) == 130
    assert say_error(ValueError("surprise")) == 2
