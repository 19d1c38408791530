"""What every command shares: settings, output mode, logging, progress, and the error-to-exit path."""

from __future__ import annotations

import json
import logging
import os
import select
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer

from ssc_cli import __version__, registries
from ssc_cli.errors import ConfigError, InternalError, SscError
from ssc_cli.models import Ecosystem
from ssc_cli.progress import Advance, Counter, ProgressLines, no_progress

# Heavy imports live in the commands: `ssc --help` must stay fast (issue 8).
if TYPE_CHECKING:
    from ssc_cli.pipeline.stop import Stop
    from ssc_cli.settings import Settings

log = logging.getLogger("ssc")


def utc_now() -> datetime:
    return datetime.now(UTC)


def utc_timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with a trailing Z, to the millisecond: `2026-12-04T17:49:17.123Z`."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Context:
    """Global options, the settings built once from them, and what every --json line records
    about the run: its command path, its ecosystem and when it started (issue 9)."""

    env_file: Path | None = None
    json_output: bool = False
    verbosity: int = 0
    quiet: bool = False
    started_at: datetime = field(default_factory=utc_now)
    command: str | None = None
    ecosystem: str | None = None
    _settings: Settings | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from ssc_cli.settings import load_settings

            self._settings = load_settings(self.env_file)
        return self._settings


def command_context(typer_ctx: typer.Context, json_output: bool = False) -> Context:
    """The run's Context, told which command runs (`vulns sync`: the path below `ssc`) and on
    which ecosystem (the `ecosystem` parameter when it names exactly one, else None)."""
    ctx: Context = typer_ctx.obj
    ctx.json_output = ctx.json_output or json_output
    names: list[str] = []
    level: Any = typer_ctx  # a typer.Context; its parents are typer's vendored click ones
    while level.parent is not None:  # the root is `ssc` itself
        names.append(level.info_name or "")
        level = level.parent
    ctx.command = " ".join(reversed(names)) or None
    ctx.ecosystem = _one_ecosystem(typer_ctx.params.get("ecosystem"))
    return ctx


def _one_ecosystem(value: object) -> str | None:
    if isinstance(value, list | tuple):
        value = value[0] if len(value) == 1 else None
    if not isinstance(value, str):
        return None
    try:
        return Ecosystem.parse(value).value
    except ValueError:  # the command fails on it with exit 2; the record says no ecosystem
        return None


def run_record(ctx: Context | None, exit_code: int) -> dict[str, Any]:
    """The fields every --json line carries, so a log of them reads over time (docs/cli.md)."""
    finished = utc_now()
    return {
        "command": ctx.command if ctx is not None else None,
        "ecosystem": ctx.ecosystem if ctx is not None else None,
        "started_at": utc_timestamp(ctx.started_at if ctx is not None else finished),
        "finished_at": utc_timestamp(finished),
        "ssc_version": __version__,
        "exit_code": exit_code,
    }


def print_record(ctx: Context | None, data: dict[str, Any], exit_code: int) -> None:
    """One JSON line on stdout: data and the run record (whose fields win on a clash)."""
    typer.echo(json.dumps({**data, **run_record(ctx, exit_code)}, sort_keys=True))


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


def read_names_from(path: Path, ecosystem: Ecosystem) -> list[str]:
    """The names of a --names-from file, each a possible package of the ecosystem."""
    from ssc_cli.models import read_names_file

    try:
        text = path.read_text(encoding="utf-8")
        return read_names_file(text, lambda name: registries.name_problem(ecosystem, name))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"--names-from {path}: {exc}") from None


def check_names(ecosystem: Ecosystem, names: list[str], where: str) -> None:
    """Exit 2 naming the names no package of the ecosystem can have: reported, never dropped."""
    problems = [p for p in (registries.name_problem(ecosystem, n) for n in names) if p]
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise ConfigError(f"{where}: {'; '.join(problems[:3])}{more}")


def fail(exc: SscError, ctx: Context | None = None) -> NoReturn:
    """The one path from an SscError to an exit code; --json also puts it on stdout, so a
    cron log of JSON lines has a line for every run, failed ones included."""
    typer.echo(f"ssc: error: {exc}", err=True)
    if ctx is not None and ctx.json_output:
        print_record(ctx, {"error": str(exc), "kind": type(exc).__name__}, exc.exit_code)
    raise typer.Exit(exc.exit_code)


# How a command ends on purpose: never an internal error. Typer vendors click since 0.2x and no
# longer installs it, so nothing here may import `click` (a plain `pip install ssc` has none).
_EXITS = (typer.Exit, typer.Abort, typer.BadParameter, typer.TyperException)


def internal_error(exc: Exception, ctx: Context | None, *, verbose: bool, json_output: bool) -> int:
    """An exception that is no SscError is a bug: one line (the traceback only with -v), the
    --json error line in the shape of fail's, and exit 70 (EX_SOFTWARE)."""
    if verbose:
        typer.echo("".join(traceback.format_exception(exc)).rstrip(), err=True)
    text = f"{type(exc).__name__}: {exc}"
    typer.echo(
        f"ssc: internal error: {text} (run with -v for the traceback; please report it)", err=True
    )
    if json_output:
        print_record(ctx, {"error": text, "kind": InternalError.__name__}, InternalError.exit_code)
    return InternalError.exit_code


# Exit status when the reader of stdout went away (`ssc graph export | head`): 128 + SIGPIPE,
# what the shell reports for a tool that SIGPIPE ended (git, cat), with no message.
READER_GONE = 141


def stdout_reader_gone() -> bool:
    """Whether stdout is a pipe whose reading end is closed (poll reports an error on it)."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
    except (OSError, ValueError):  # no stdout at all
        return False


def quiet_exit_for_a_gone_reader() -> int:
    """Point stdout at /dev/null, so the interpreter's final flush raises nothing, and say 141."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return READER_GONE


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
    except BrokenPipeError as exc:
        if not stdout_reader_gone():  # a pipe other than stdout: a bug like any other
            code = internal_error(exc, ctx, verbose=False, json_output=False)
            raise typer.Exit(code) from None
        raise typer.Exit(quiet_exit_for_a_gone_reader()) from None
    except Exception as exc:
        verbose = ctx.verbosity > 0 if ctx is not None else log.isEnabledFor(logging.INFO)
        json_output = ctx is not None and ctx.json_output
        code = internal_error(exc, ctx, verbose=verbose, json_output=json_output)
        raise typer.Exit(code) from None


def emit_summary(
    ctx: Context, title: str, summary: dict[str, Any], line: str, *, exit_code: int = 0
) -> None:
    """--json: the summary object and the run record on stdout; otherwise one line on stderr.
    exit_code is the code the command exits with right after."""
    if ctx.json_output:
        print_record(ctx, summary, exit_code)
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
    code = stop.exit_code if stop is not None and stopped else (1 if failures else 0)
    line += " (dry run: nothing written)" if dry_run else ""
    emit_summary(ctx, title, data, line, exit_code=code)
    if not ctx.quiet and not ctx.json_output:
        for name, reason in failures:
            typer.echo(f"  failed {name}: {reason}", err=True)
    raise typer.Exit(code)


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
