"""ssc ingest / ssc update."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer

from ssc_cli import registries
from ssc_cli.cli.context import (
    Context,
    command_context,
    emit_summary,
    errors_to_exit_codes,
    exit_after_run,
    parse_ecosystem,
    progress_bar,
    read_names_from,
)
from ssc_cli.errors import ConfigError
from ssc_cli.models import Ecosystem

# Heavy imports (httpx, the pipeline, the stores) live in the commands: `ssc --help` must stay
# fast (issue 8).
if TYPE_CHECKING:
    from ssc_cli.graph.interface import GraphStore
    from ssc_cli.http import Http
    from ssc_cli.pipeline.ingest import IngestOptions, IngestSummary, PublishSummary
    from ssc_cli.pipeline.stop import Stop
    from ssc_cli.pipeline.update import UpdateSummary
    from ssc_cli.registries.interface import Registry

T = TypeVar("T")

ECOSYSTEMS_HELP = "Registry: " + ", ".join(e.value for e in registries.available())
EcosystemArg = Annotated[str, typer.Argument(help=ECOSYSTEMS_HELP, show_default=False)]
LimitOpt = Annotated[int | None, typer.Option("--limit", min=1, help="Process at most N packages.")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Fetch and report; write nothing.")]
ConcurrencyOpt = Annotated[
    int | None,
    typer.Option("--concurrency", min=1, help="In-flight requests per registry host for this run."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout.")]


def _run(
    ctx: Context,
    job: str,
    ecosystem: Ecosystem,
    concurrency: int | None,
    dry_run: bool,
    body: Callable[[Registry, GraphStore, Http, Stop], Awaitable[T]],
) -> tuple[T, Stop]:
    """The job under its lock, with SIGTERM/SIGINT turned into a clean stop (pipeline/stop.py)."""
    import asyncio

    from ssc_cli.graph import open_store
    from ssc_cli.http import Http, HttpConfig
    from ssc_cli.lock import job_lock
    from ssc_cli.pipeline.stop import stop_on_signals

    settings = ctx.settings

    async def main(store: GraphStore, stop: Stop) -> T:
        async with Http(HttpConfig.from_settings(settings, concurrency=concurrency)) as http:
            registry = registries.open_registry(ecosystem, settings, http)
            try:
                return await body(registry, store, http, stop)
            finally:
                registries.close_registry(registry)

    def with_store(stop: Stop) -> T:
        store = open_store(settings)
        try:
            store.migrate()
            return asyncio.run(main(store, stop))
        finally:
            store.close()

    with stop_on_signals(settings.stop_grace) as stop:
        if dry_run:
            return with_store(stop), stop
        with job_lock(settings, f"{job}-{ecosystem.value}", stop):
            return with_store(stop), stop


def ingest_command(
    typer_ctx: typer.Context,
    ecosystem: EcosystemArg,
    limit: LimitOpt = None,
    dry_run: DryRunOpt = False,
    concurrency: ConcurrencyOpt = None,
    follow_deps: Annotated[
        bool,
        typer.Option(
            "--follow-deps/--no-follow-deps", help="Also extract discovered dependencies."
        ),
    ] = True,
    names_from: Annotated[
        Path | None,
        typer.Option(
            "--names-from",
            help="Ingest exactly the names in this file (one per line or a JSON array).",
        ),
    ] = None,
    enqueue: Annotated[
        bool,
        typer.Option(
            "--enqueue",
            help="Publish the names to the Redis stream for drain-queue workers instead.",
        ),
    ] = False,
    json_output: JsonOpt = False,
) -> None:
    """Bulk-load the packages the graph does not have yet (pending ones first)."""
    from ssc_cli.pipeline.ingest import IngestOptions, ingest
    from ssc_cli.pipeline.observe import metrics_target
    from ssc_cli.quality.checks import after_run_thresholds
    from ssc_cli.vulns.sources import inline_attribution

    ctx = command_context(typer_ctx, json_output)
    with errors_to_exit_codes(ctx):
        eco = parse_ecosystem(ecosystem)
        names = None
        if names_from is not None:
            names = read_names_from(names_from, eco)
        settings = ctx.settings
        options = IngestOptions(
            limit=limit,
            dry_run=dry_run,
            follow_deps=follow_deps,
            names=names,
            concurrency=concurrency or settings.concurrency(eco),
            batch_size=settings.write_batch_size,
            checks=after_run_thresholds(settings),
            metrics=metrics_target(settings),
        )

        if enqueue:
            if dry_run:
                raise ConfigError("--enqueue publishes names; it cannot be combined with --dry-run")
            _enqueue_new(ctx, eco, options, concurrency)
            return

        async def body(
            registry: Registry, store: GraphStore, http: Http, stop: Stop
        ) -> IngestSummary:
            with progress_bar(
                ctx, f"ingest {eco.value}", limit or (len(names) if names else None)
            ) as advance:
                return await ingest(
                    registry,
                    store,
                    options,
                    http_counters=http.counters.as_dict,
                    progress=advance,
                    stop=stop,
                )

        with inline_attribution(settings) as options.attribute:
            summary, stop = _run(ctx, "ingest", eco, concurrency, dry_run, body)
    data = summary.as_dict()
    line = (
        f"{data['new_packages_ingested']} new, {data['skipped_existing']} skipped, "
        f"{data['missing']} missing, {data['errors']} errors, {data['pending_left']} pending left"
    )
    _finish(ctx, f"ingest {eco.value}", data, line, summary.failures, dry_run, stop)


def _enqueue_new(
    ctx: Context, eco: Ecosystem, options: IngestOptions, concurrency: int | None
) -> None:
    """ingest --enqueue: the scale-out path, N drain-queue workers share the bulk load."""
    from ssc_cli.cli.queue import open_stream  # the queue modules load only when asked for
    from ssc_cli.pipeline.ingest import publish_new
    from ssc_cli.queue.message import ExtractionMessage

    async def body(registry: Registry, store: GraphStore, http: Http, stop: Stop) -> PublishSummary:
        async with open_stream(ctx.settings) as stream:
            await stream.ensure_group()

            async def publish(names: list[str]) -> int:
                return await stream.publish([ExtractionMessage.request(eco, n) for n in names])

            return await publish_new(registry, store, publish, options, stop)

    summary, stop = _run(ctx, "ingest", eco, concurrency, False, body)
    data = summary.as_dict()
    line = (
        f"{data['enqueued']} queued, {data['skipped_existing']} skipped, "
        f"{data['total_in_registry']} listed in {data['elapsed']}s"
    )
    if summary.stopped is not None:
        line += f" (stopped: {summary.stopped})"
    code = stop.exit_code if summary.stopped is not None else 0
    emit_summary(ctx, f"ingest {eco.value} --enqueue", data, line, exit_code=code)
    raise typer.Exit(code)


def update_command(
    typer_ctx: typer.Context,
    ecosystem: EcosystemArg,
    limit: LimitOpt = None,
    dry_run: DryRunOpt = False,
    full: Annotated[bool, typer.Option("--full", help="Re-check every stored package.")] = False,
    concurrency: ConcurrencyOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Pick up what changed in the registry since the last update."""
    from ssc_cli.pipeline.observe import metrics_target
    from ssc_cli.pipeline.update import UpdateOptions, update
    from ssc_cli.quality.checks import after_run_thresholds
    from ssc_cli.vulns.sources import inline_attribution

    ctx = command_context(typer_ctx, json_output)
    with errors_to_exit_codes(ctx):
        eco = parse_ecosystem(ecosystem)
        settings = ctx.settings
        options = UpdateOptions(
            limit=limit,
            dry_run=dry_run,
            full=full,
            concurrency=concurrency or settings.concurrency(eco),
            batch_size=settings.write_batch_size,
            checks=after_run_thresholds(settings),
            metrics=metrics_target(settings),
        )

        async def body(
            registry: Registry, store: GraphStore, http: Http, stop: Stop
        ) -> UpdateSummary:
            with progress_bar(ctx, f"update {eco.value}", None) as advance:
                return await update(
                    registry,
                    store,
                    options,
                    http_counters=http.counters.as_dict,
                    progress=advance,
                    stop=stop,
                )

        with inline_attribution(settings) as options.attribute:
            summary, stop = _run(ctx, "update", eco, concurrency, dry_run, body)
    data = summary.as_dict()
    line = (
        f"{data['packages_processed']} packages processed, {data['total_versions']} new versions, "
        f"{data['removed_versions']} removed, {data['errors']} errors"
    )
    _finish(ctx, f"update {eco.value}", data, line, summary.failures, dry_run, stop)


def _finish(
    ctx: Context,
    title: str,
    data: dict[str, Any],
    line: str,
    failures: list[tuple[str, str]],
    dry_run: bool,
    stop: Stop,
) -> NoReturn:
    line += f", {data['requests']} requests in {data['elapsed']}s"
    exit_after_run(ctx, title, data, line, failures, dry_run, stop)
