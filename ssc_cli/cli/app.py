"""The `ssc` command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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

app = typer.Typer(
    name="ssc",
    help="Keep a software-supply-chain graph current from package registries.",
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


def main() -> None:
    terminate_on_sigterm()  # before anything slow: as PID 1, an unhandled SIGTERM is ignored
    run = Context()  # started_at: now, before parsing and the commands' imports
    try:
        app(obj=run)
    except Exception as exc:  # escaped every errors_to_exit_codes: still one line and exit 70
        import sys

        from ssc_cli.cli.context import internal_error

        # Maybe before the options were parsed, so also from the raw arguments (not the logger,
        # a process-wide state).
        args = sys.argv[1:]
        verbose = run.verbosity > 0 or any(
            a == "--verbose" or (a.startswith("-v") and set(a[1:]) == {"v"}) for a in args
        )
        json_output = run.json_output or "--json" in args
        sys.exit(internal_error(exc, run, verbose=verbose, json_output=json_output))
