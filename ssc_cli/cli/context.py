"""What every command shares: settings, output mode, logging, progress, and the error-to-exit path."""

from __future__ import annotations

import json
import logging
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer

from ssc_cli import registries
from ssc_cli.errors import ConfigError, InternalError, SscError
from ssc_cli.models import Ecosystem
from ssc_cli.progress import Advance, Counter, ProgressLines, no_progress

# Heavy imports live in the commands: `ssc --help` must stay fast (issue 8).
if TYPE_CHECKING:
    from ssc_cli.pipeline.stop import Stop
    from ssc_cli.settings import Settings

log = logging.getLogger("ssc")


@dataclass
class Context:
    """Global options, and the settings built once from them."""

    env_file: Path | None = None
    json_output: bool = False
    verbosity: int = 0
    quiet: bool = False
    _settings: Settings | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from ssc_cli.settings import load_settings

            self._settings = load_settings(self.env_file)
        return self._settings


def configure_logging(verbosity: int, quiet: bool) -> None:
    """Logs go to stderr; timestamps when not on a terminal (cron mails, pod logs)."""
    level = (
        logging.ERROR
        if quiet
        else [logging.WARNING, logging.INFO, logging.DEBUG][min(verbosity, 2)]
    )
    handler = logging.StreamHandler(sys.stderr)
    fmt = "%(levelname)s %(name)s: %(message)s"
    if not sys.stderr.isatty():
        fmt = "%(asctime)s " + fmt
    handler.setFormatter(logging.Formatter(fmt))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    if verbosity < 2:  # httpx logs every request at INFO
        logging.getLogger("httpx").setLevel(logging.WARNING)
        # A real Neo4j warns about every label or property a young graph lacks (one per query).
        logging.getLogger("neo4j.notifications").setLevel(logging.ERROR)


def parse_ecosystem(text: str, *, implemented: bool = True) -> Ecosystem:
    try:
        ecosystem = Ecosystem.parse(text)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if implemented and ecosystem not in registries.available():
        names = ", ".join(e.value for e in registries.available())
        raise ConfigError(f"ecosystem {ecosystem.value!r} is not supported yet; use one of {names}")
    return ecosystem


def fail(exc: SscError, ctx: Context | None = None) -> NoReturn:
    """The one path from an SscError to an exit code; --json also puts it on stdout, so a
    cron log of JSON lines has a line for every run, failed ones included."""
    typer.echo(f"ssc: error: {exc}", err=True)
    if ctx is not None and ctx.json_output:
        error = {"error": str(exc), "kind": type(exc).__name__, "exit_code": exc.exit_code}
        typer.echo(json.dumps(error, sort_keys=True))
    raise typer.Exit(exc.exit_code)


# How a command ends on purpose: never an internal error. Typer vendors click since 0.2x and no
# longer installs it, so nothing here may import `click` (a plain `pip install ssc` has none).
_EXITS = (typer.Exit, typer.Abort, typer.BadParameter, typer.TyperException)


def internal_error(exc: Exception, *, verbose: bool, json_output: bool) -> int:
    """An exception that is no SscError is a bug: one line (the traceback only with -v), the
    --json error line in the shape of fail's, and exit 70 (EX_SOFTWARE)."""
    if verbose:
        typer.echo("".join(traceback.format_exception(exc)).rstrip(), err=True)
    text = f"{type(exc).__name__}: {exc}"
    typer.echo(
        f"ssc: internal error: {text} (run with -v for the traceback; please report it)", err=True
    )
    if json_output:
        error = {
            "error": text,
            "kind": InternalError.__name__,
            "exit_code": InternalError.exit_code,
        }
        typer.echo(json.dumps(error, sort_keys=True))
    return InternalError.exit_code


@contextmanager
def errors_to_exit_codes(ctx: Context | None = None) -> Iterator[None]:
    try:
        yield
    except SscError as exc:
        fail(exc, ctx)
    except KeyboardInterrupt:
        typer.echo("ssc: interrupted", err=True)
        raise typer.Exit(130) from None
    except _EXITS:
        raise
    except Exception as exc:
        verbose = ctx.verbosity > 0 if ctx is not None else log.isEnabledFor(logging.INFO)
        json_output = ctx is not None and ctx.json_output
        raise typer.Exit(internal_error(exc, verbose=verbose, json_output=json_output)) from None


def emit_summary(ctx: Context, title: str, summary: dict[str, Any], line: str) -> None:
    """--json: the summary object on stdout; otherwise one line on stderr."""
    if ctx.json_output:
        typer.echo(json.dumps(summary, sort_keys=True))
    elif not ctx.quiet:
        typer.echo(f"{title}: {line}", err=True)


def exit_after_run(
    ctx: Context,
    title: str,
    data: dict[str, Any],
    line: str,
    failures: list[tuple[str, str]],
    dry_run: bool,
    stop: Stop | None = None,
) -> NoReturn:
    """Report a job run and exit: 0 when every package was processed, 1 when some failed,
    stop.exit_code (130 SIGINT, 143 SIGTERM) when a signal ended it early."""
    stopped = stop is not None and data.get("stopped") is not None
    if stopped:
        line += f" (stopped: {data['stopped']})"
    emit_summary(ctx, title, data, line + (" (dry run: nothing written)" if dry_run else ""))
    if not ctx.quiet and not ctx.json_output:
        for name, reason in failures:
            typer.echo(f"  failed {name}: {reason}", err=True)
    if stopped:
        assert stop is not None
        raise typer.Exit(stop.exit_code)
    raise typer.Exit(1 if failures else 0)


@contextmanager
def progress_bar(ctx: Context, description: str, total: int | None) -> Iterator[Advance]:
    """A rich progress bar on a terminal; elsewhere (cron, pods, pipes) a `key=value` progress
    line on stderr every SSC_PROGRESS_INTERVAL seconds (ssc_cli/progress.py); -q: neither.

    rich, not tqdm: rich is already a dependency and draws the terminal bar; tqdm's non-terminal
    output is a redrawn bar, not a parseable line, so those lines are our own either way."""
    if ctx.quiet:
        yield no_progress
        return
    if not sys.stderr.isatty():
        interval = ctx.settings.progress_interval
        if interval <= 0:
            yield no_progress
            return
        counter = Counter(description, total)
        with ProgressLines(counter, interval, _write_stderr) as advance:
            yield advance
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=total)

        def advance(done: int, /, errors: int = 0) -> None:
            bar.advance(task, done)

        yield advance


def _write_stderr(line: str) -> None:
    """One write per line, so a log line from the run's thread cannot land inside it."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
