"""The `ssc` command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ssc_cli import __version__
from ssc_cli.cli.context import Context, configure_logging
from ssc_cli.cli.doctor import doctor_command
from ssc_cli.cli.graph import graph_app
from ssc_cli.cli.jobs import ingest_command, update_command
from ssc_cli.cli.licenses import classify_command, licenses_app
from ssc_cli.cli.quality import check_command, status_command
from ssc_cli.cli.queue import drain_queue_command, enqueue_command, queue_app
from ssc_cli.cli.rebuild import rebuild_command
from ssc_cli.cli.vulns import vulns_app
from ssc_cli.pipeline.stop import terminate_on_sigterm

try:  # typer 0.29's private converter hook; a typer without it converts as it always did
    from ssc_cli.cli.lazy_coercion import install as build_converters_lazily
except (ImportError, AttributeError):  # pragma: no cover (the pinned typer has it)

    def build_converters_lazily() -> None:
        """typer's own converters, built when typer builds them."""


# The end of every --help: what the exit code means and where the settings are (docs/cli.md).
EPILOG = (
    "Exit codes: 0 done; 1 finished, some packages failed (each recorded); 2 usage or settings; "
    "3 blocked by a quality gate; 4 a registry unreachable; 5 the graph or queue unreachable; "
    "70 internal error; 75 another run holds the lock; 130/143 stopped by SIGINT/SIGTERM; "
    "141 the reader of stdout went away.  "
    "Settings: SSC_* environment variables, ./.env or --env-file (docs/configuration.md); "
    "`ssc doctor` shows what is in force."
)

app = typer.Typer(
    name="ssc",
    help="Keep a software-supply-chain graph current from package registries.",
    epilog=EPILOG,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ssc {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    typer_ctx: typer.Context,
    env_file: Annotated[
        Path | None, typer.Option("--env-file", help="Read settings from this .env file.")
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print summaries as JSON on stdout.")
    ] = False,
    verbose: Annotated[
        int, typer.Option("-v", "--verbose", count=True, help="More logs (-vv: debug).")
    ] = 0,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Only errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    configure_logging(verbose, quiet)
    # main() hands in the Context it made before parsing (its start time, and what an error
    # escaping every command reports); a test invoking the app directly gets a new one.
    ctx = typer_ctx.obj if isinstance(typer_ctx.obj, Context) else Context()
    ctx.env_file, ctx.json_output, ctx.verbosity, ctx.quiet = env_file, json_output, verbose, quiet
    typer_ctx.obj = ctx


app.command("ingest")(ingest_command)
app.command("update")(update_command)
app.command("rebuild")(rebuild_command)
app.command("doctor")(doctor_command)
app.add_typer(graph_app, name="graph")
app.command("drain-queue")(drain_queue_command)
app.command("enqueue")(enqueue_command)
app.add_typer(queue_app, name="queue")
app.add_typer(licenses_app, name="licenses")
app.command("classify")(classify_command)
app.command("check")(check_command)
app.command("status")(status_command)
app.add_typer(vulns_app, name="vulns")


def _end_every_help_with_the_epilog(group: typer.Typer) -> None:
    for command in group.registered_commands:
        command.epilog = command.epilog or EPILOG
    for sub in group.registered_groups:
        sub.epilog = sub.epilog or EPILOG
        if sub.typer_instance is not None:
            _end_every_help_with_the_epilog(sub.typer_instance)


def _hide_flag_types() -> None:
    """A flag takes no value, so its help shows no type (typer 0.29 prints `<bool>` for one)."""
    from typer.core import TyperOption

    shown = TyperOption.display_type_rich

    def display_type_rich(self: TyperOption, ctx: Any) -> str | None:
        return None if self.is_flag or self.count else shown(self, ctx)

    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_end_every_help_with_the_epilog(app)
_hide_flag_types()
build_converters_lazily()  # no pydantic for options left out (`ssc graph --help`)

# Global options accepted after the command too (`ssc ingest pypi -q`), as cron lines are written.
_GLOBAL_FLAGS = frozenset({"-q", "--quiet", "--verbose", "--json"})


def hoist_global_options(args: list[str]) -> list[str]:
    """The arguments with -q, -v, --verbose, --json and --env-file moved before the command,
    where the callback reads them; nothing after a `--` is touched."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest += args[i:]
            break
        if arg in _GLOBAL_FLAGS or (len(arg) > 1 and arg[0] == "-" and set(arg[1:]) == {"v"}):
            front.append(arg)
        elif arg == "--env-file" and i + 1 < len(args):
            front += args[i : i + 2]
            i += 1
        elif arg.startswith("--env-file="):
            front.append(arg)
        else:
            rest.append(arg)
        i += 1
    return front + rest


def main() -> None:
    terminate_on_sigterm()  # before anything slow: as PID 1, an unhandled SIGTERM is ignored
    import sys

    run = Context()  # started_at: now, before parsing and the commands' imports
    try:
        app(args=hoist_global_options(sys.argv[1:]), prog_name="ssc", obj=run)
    except Exception as exc:  # escaped every errors_to_exit_codes: still one line and exit 70
        from ssc_cli.cli.context import (
            internal_error,
            quiet_exit_for_a_gone_reader,
            stdout_reader_gone,
        )

        if isinstance(exc, BrokenPipeError) and stdout_reader_gone():
            sys.exit(quiet_exit_for_a_gone_reader())

        # Maybe before the options were parsed, so also from the raw arguments (not the logger,
        # a process-wide state).
        args = sys.argv[1:]
        verbose = run.verbosity > 0 or any(
            a == "--verbose" or (a.startswith("-v") and set(a[1:]) == {"v"}) for a in args
        )
        json_output = run.json_output or "--json" in args
        sys.exit(internal_error(exc, run, verbose=verbose, json_output=json_output))
