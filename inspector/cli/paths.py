"""``ocinspect paths``: where ocinspect keeps its files, and the database it would open."""

from __future__ import annotations

import click

from inspector.cli.app import cli
from inspector.cli.echo import echo_lines, emit_json, say
from inspector.cli.errors import Failure
from inspector.cli.settings import Settings, pass_settings
from inspector.core.errors import InspectorError
from inspector.output import Styled

PATH_NAMES = ("config", "settings", "keymap", "state", "journal", "watermarks", "database")  # `paths` NAME


@cli.command()
@click.argument("name", required=False, type=click.Choice(PATH_NAMES), metavar="[NAME]")
@click.option("--json", "as_json", is_flag=True, help="Every path as one JSON object.")
@pass_settings
def paths(settings: Settings, name: str | None, as_json: bool) -> None:
    """Print where ocinspect keeps its files, and the database it would open.

    \b
    ocinspect paths            # all of them, one a line
    ocinspect paths journal    # one, alone (for scripts)

    Nothing is created or opened. The database is the one the other commands would open with the
    same global options (--db, --channel, $OPENCODE_DB); exit 2 when NAME is database and there
    is none.
    """
    from inspector.core.paths import own_paths

    found: dict[str, str | None] = {key: str(path) for key, path in own_paths().items()}
    problem: str | None = None
    try:
        found["database"] = str(settings.path())
    except InspectorError as exc:
        found["database"], problem = None, str(exc)
    if name is not None:
        value = found[name]
        if value is None:
            raise Failure(problem or "no database")
        say(value)
    elif as_json:
        emit_json({**found, "database_problem": problem})
    else:
        shown = {key: value if value is not None else f"(none: {problem})" for key, value in found.items()}
        echo_lines([Styled(f"{key:<12}{value}", hang=12) for key, value in shown.items()])
