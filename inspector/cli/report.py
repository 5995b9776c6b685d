"""``ocinspect report``: one session as a report to paste into an OpenCode bug report."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from inspector import __version__
from inspector.cli.app import cli
from inspector.cli.echo import say, warn, warn_journal_problems
from inspector.cli.errors import Failure
from inspector.cli.params import no_pager_option
from inspector.cli.settings import Settings, pass_settings
from inspector.output import write_long

if TYPE_CHECKING:
    from inspector.core.repair.journal import JournalProblem


@cli.command()
@click.argument("session_id")
@click.option(
    "-o",
    "--output",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Write the report to FILE (default: stdout).",
)
@click.option("--json", "as_json", is_flag=True, help="The report as JSON (the same fields).")
@click.option(
    "--include-content",
    is_flag=True,
    help="Include prompts, tool inputs and outputs, titles and paths (redacted by default).",
)
@no_pager_option
@pass_settings
def report(
    settings: Settings, session_id: str, output: str | None, as_json: bool, include_content: bool, no_pager: bool
) -> None:
    """Write a report on SESSION_ID to paste into an OpenCode bug report (Markdown).

    OpenCode versions and schema of the database, the verdict and pattern, the stuck turn step
    by step, the subagent chain, what ocinspect repaired (from its journal) and the platform.
    Redacted by default: prompts, tool inputs and outputs, titles and paths are replaced by
    their shape (<bash command, 42 chars>, ~/src/<project>), secret-looking text is removed,
    and no environment, host or user name is included.
    """
    from inspector.core.report.build import build_report
    from inspector.core.report.markdown import render
    from inspector.core.report.output import check_output, write_report
    from inspector.core.text import printable, safe_json

    if include_content:
        warn(
            "--include-content: the report holds prompts, tool inputs and outputs "
            "and paths of this session; read it before sharing it"
        )
    store = settings.store()
    problems: list[JournalProblem] = []
    try:
        if output is not None:
            check_output(output, store.path)
        doc = build_report(
            store, session_id, include_content=include_content, tool_version=__version__, problems=problems
        )
    finally:
        store.dispose()
        warn_journal_problems(problems)
    text = safe_json(doc, indent=2) + "\n" if as_json else printable(render(doc))
    if output is None:
        write_long(text, pager=not no_pager)
        return
    try:
        write_report(output, text, private=include_content)
    except OSError as exc:
        raise Failure(f"cannot write {output}: {exc.strerror or exc}") from None
    say(f"ocinspect: report written to {output}", err=True)
