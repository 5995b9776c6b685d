"""How a run ends when something stands in the way: one ``ocinspect: error:`` line on stderr and
the documented exit code (``EXIT CODES`` in ``--help``), never a traceback.

Core errors carry their own code (``InspectorError.exit_code``); what the CLI refuses by itself
(no terminal to ask on, a command that cannot be started) is a ``Failure``. Either is raised
wherever it happens and said once, by ``Group.invoke`` through ``say_error``.
"""

from __future__ import annotations

from typing import IO, Any

import click

from inspector.core.errors import EXIT_ERROR, InspectorError

EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for Ctrl-C
EXIT_CANNOT_START = 127  # run/open: the command (or opencode) cannot be started, as a shell says

# How the CLI says what would get past a refusal (the core names no flag; the TUI names keys).
CLI_HINTS = {
    "force": "use --force to override",
    "abort-hung": "add --abort-hung to stop it through OpenCode (the running tool is killed)",
    "reject-waiting": "add --reject-waiting to reject it through OpenCode",
    "trust-directory": "add --trust-directory if you trust it",
    "force-moved-on": "use --force to put the old rows back anyway",
}


class Failure(Exception):
    """What the CLI itself refuses: ``str(failure)`` is the line, ``exit_code`` the code."""

    def __init__(self, message: str, exit_code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def error_line(message: str) -> str:
    from inspector.core.text import printable

    # Messages can quote database text (ids, SQLite's own "could not decode" text): one line,
    # no control characters reaching the terminal.
    return f"ocinspect: error: {printable(message, single_line=True)}"


def hinted(error: InspectorError) -> str:
    """The error's line, with what would get past it in the CLI's words (``--force``...)."""
    hint = CLI_HINTS.get(error.hint or "")
    return f"{error} ({hint})" if hint else str(error)


def say_error(error: Exception | KeyboardInterrupt) -> int:
    """Say ``error`` as one line on stderr; the exit code the run ends with."""
    if isinstance(error, KeyboardInterrupt):
        click.echo("ocinspect: interrupted", err=True)
        return EXIT_INTERRUPTED
    if isinstance(error, InspectorError):
        message, code = hinted(error), error.exit_code
    elif isinstance(error, Failure):
        message, code = str(error), error.exit_code
    else:  # the promise is "never a traceback"
        message, code = f"unexpected {type(error).__name__}: {error} (set OCINSPECT_DEBUG=1 for details)", EXIT_ERROR
    click.echo(error_line(message), err=True)
    return code


class UsageLine(click.UsageError):
    """A usage error shown as the one ``ocinspect: error:`` line the README promises (exit 2),
    where click would print its usage block; ``--help`` still prints click's full help."""

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(error_line(self.message), err=True)


def usage_line(exc: click.UsageError) -> UsageLine:
    """``exc`` as one line ending with where to read more: ``(see 'ocinspect scan --help')``."""
    ctx = exc.ctx
    message = exc.format_message().rstrip(".")
    if isinstance(exc, click.NoSuchOption) and ctx is not None and ctx.parent is not None:
        root = ctx.find_root().command
        for param in root.params:
            if isinstance(param, click.Option) and exc.option_name in param.opts:
                value = "" if param.is_flag else f" {param.metavar or 'VALUE'}"
                message = (
                    f"{exc.option_name} is a global option: put global options before the command "
                    f"(ocinspect {exc.option_name}{value} {ctx.info_name} ...)"
                )
    words = ctx.command_path.split()[1:] if ctx is not None else []
    where = " ".join(["ocinspect", *words])
    return UsageLine(f"{message} (see '{where} --help')", ctx)
