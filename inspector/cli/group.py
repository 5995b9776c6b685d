"""The click classes every command uses: help wrapped to the terminal with EXIT CODES under it,
and the one place a run's exit code is decided (``Group.invoke``)."""

from __future__ import annotations

import os
from typing import Any

import click

from inspector.cli.errors import Failure, UsageLine, say_error, usage_line
from inspector.core.errors import InspectorError
from inspector.output import HelpFormatter, help_block

# The --help epilog, wrapped to the help's width when shown (``Group.format_epilog``):
# ("code", text) rows under EXIT CODES, then paragraphs ("": a blank line).
EXIT_CODES = (
    (
        "0",
        "success (scan: nothing stale, hung or unknown, i.e. nothing recover can act on; live and "
        "waiting sessions (OpenCode works on them, or waits for a person's answer) exit 0; "
        "recover: every requested session repaired/stopped, or nothing to do; doctor: nothing in the "
        "database itself makes sessions hang, or --checkpoint emptied the WAL)",
    ),
    (
        "1",
        "scan: stale, hung or unknown sessions found; recover: some sessions changed under us and were "
        "skipped, a hung session did not stop or an answer did not settle; watch: the same, or an --exec hook "
        "failed; doctor: the "
        "write lock is held, lock contention was met, the WAL is starved or quick_check found damage "
        "(--checkpoint: another connection kept it from finishing)",
    ),
    (
        "2",
        "error: bad input, unsupported schema, locked or read-only database, unknown id, "
        "the TUI started without a terminal, doctor --checkpoint on a database not in WAL mode",
    ),
    (
        "3",
        "recover/undo refused: OpenCode is live on a session (or we cannot tell; see --force), "
        "a session is hung and --abort-hung was not given, or waits for an answer and "
        "--reject-waiting was not given; undo: a session got messages after the run (see --force); "
        "open: the project directory is another user's or writable by all (see --trust-directory); "
        "doctor --checkpoint: OpenCode or another process has the database open, or that cannot be told "
        "(no override)",
    ),
)
EPILOG_NOTES = (
    "'ocinspect run -- COMMAND' ends as COMMAND (same process), so its exit code is COMMAND's; "
    "2 if no COMMAND is given, 127 if COMMAND cannot be started.",
    "'ocinspect open SESSION_ID' ends as OpenCode (same process): 2 if the session or its "
    "project directory is gone, 127 if opencode is not on PATH.",
    "",
    "The database is found as OpenCode finds it: --db, then $OPENCODE_DB, then "
    "$XDG_DATA_HOME/opencode/opencode.db (default ~/.local/share/opencode/opencode.db). "
    "'ocinspect paths' prints it and where ocinspect keeps its settings, journal and state.",
    "",
    'Shell completion (see README): eval "$(_OCINSPECT_COMPLETE=bash_source ocinspect)" '
    "in ~/.bashrc (zsh_source for zsh; fish_source for fish).",
)


class Context(click.Context):
    """Help wrapped by ``output.HelpFormatter`` (no line break inside an option's name)."""

    formatter_class = HelpFormatter


class Command(click.Command):
    context_class = Context


class Group(click.Group):
    """Ends every run with its exit code: what the command returned (``scan`` 1 when something
    needs attention...), or one line on stderr for an ``InspectorError``, a ``Failure``, a usage
    error (and any surprise)."""

    context_class = Context
    command_class = Command

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """EXIT CODES and the notes, wrapped to the help's width (click would keep a ``\\b``
        block's long lines, or rewrap the table into one paragraph)."""
        if ctx.parent is not None:
            return
        width = formatter.width - formatter.current_indent - 2
        block = "\n".join(
            ["EXIT CODES", help_block(EXIT_CODES, width), "", help_block([("", note) for note in EPILOG_NOTES], width)]
        )
        formatter.write_paragraph()
        with formatter.indentation():
            for row in block.splitlines():
                formatter.write(f"{' ' * formatter.current_indent}{row}\n" if row else "\n")

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        try:  # the global options are parsed here, before ``invoke``
            return super().make_context(info_name, args, parent=parent, **extra)
        except UsageLine:
            raise
        except click.UsageError as exc:
            raise usage_line(exc) from None

    def invoke(self, ctx: click.Context) -> None:
        """Run the command; its return value (an exit code) or what it raised ends the run."""
        try:
            code = super().invoke(ctx)
        except UsageLine:
            raise
        except click.UsageError as exc:  # a subcommand's options, a missing argument, an unknown command
            raise usage_line(exc) from None
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except (InspectorError, Failure, KeyboardInterrupt) as exc:
            raise click.exceptions.Exit(say_error(exc)) from None
        except Exception as exc:
            if os.environ.get("OCINSPECT_DEBUG"):
                raise
            raise click.exceptions.Exit(say_error(exc)) from None
        if isinstance(code, int) and code:
            raise click.exceptions.Exit(code)
