"""ssc drain-queue / ssc enqueue / ssc queue stats|retry-dead."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ssc_cli.cli.context import (
    check_names,
    command_context,
    emit_summary,
    errors_to_exit_codes,
    parse_ecosystem,
    print_record,
    progress_bar,
    read_names_from,
)
from ssc_cli.errors import ConfigError
from ssc_cli.models import Ecosystem

# Heavy imports (redis, httpx, the pipeline, the stores) live in the commands: `ssc --help` must
# stay fast (issue 8).
if TYPE_CHECKING:
    from ssc_cli.pipeline.drain import DrainOptions, DrainSummary
    from ssc_cli.pipeline.stop import Stop
    from ssc_cli.progress import Advance
    from ssc_cli.queue.stream import ExtractionStream
    from ssc_cli.registries.interface import Registry
    from ssc_cli.settings import Settings

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout.")]

queue_app = typer.Typer(help="Inspect and repair the extraction stream.", no_args_is_help=True)


@asynccontextmanager
async def open_stream(settings: Settings, *, block_ms: int = 0) -> AsyncIterator[ExtractionStream]:
    """The extraction stream on the configured Redis (QueueUnavailable, exit 5, when down)."""
    from ssc_cli.queue.connection import connect_async
    from ssc_cli.queue.stream import ExtractionStream, StreamConfig

    client = await connect_async(settings, block_ms=block_ms)
    try:
        yield ExtractionStream(client, StreamConfig.from_settings(settings))
    finally:
        await client.aclose()


def drain_queue_command(
    typer_ctx: typer.Context,
    batch: Annotated[
        int | None, typer.Option("--batch", min=1, help="Entries read (and fetched) at a time.")
    ] = None,
    max_messages: Annotated[
        int | None, typer.Option("--max-messages", min=1, help="Stop after N entries.")
    ] = None,
    until_empty: Annotated[
        bool,
        typer.Option(
            "--until-empty", help="Stop when nothing is undelivered or pending (cron); else run on."
        ),
    ] = False,
    block_ms: Annotated[
        int | None, typer.Option("--block-ms", min=0, help="Wait this long for new entries.")
    ] = None,
    follow_deps: Annotated[
        bool,
        typer.Option(
            "--follow-deps/--no-follow-deps", help="Queue unknown dependencies as new messages."
        ),
    ] = True,
    json_output: JsonOpt = False,
) -> None:
    """Extract the packages requested on the Redis stream; SIGTERM/SIGINT finish the batch and exit 0."""
    import asyncio

    from ssc_cli.pipeline.drain import DrainOptions
    from ssc_cli.pipeline.observe import metrics_target
    from ssc_cli.pipeline.stop import stop_on_signals
    from ssc_cli.quality.checks import after_run_thresholds
    from ssc_cli.vulns.sources import inline_attribution

    ctx = command_context(typer_ctx, json_output)
    with errors_to_exit_codes(ctx):
        settings = ctx.settings
        size = batch or settings.queue_batch
        options = DrainOptions(
            batch=size,
            max_messages=max_messages,
            until_empty=until_empty,
            block_ms=settings.queue_block_ms if block_ms is None else block_ms,
            max_attempts=settings.queue_max_attempts,
            claim_idle_ms=settings.queue_claim_idle_ms,
            follow_deps=follow_deps,
            concurrency=size,  # each registry's own per-host cap still applies
            checks=after_run_thresholds(settings),
            metrics=metrics_target(settings),
        )
        with stop_on_signals(settings.stop_grace) as stop, inline_attribution(settings) as hook:
            options.attribute = hook
            # The total is --max-messages at most: the stream grows while it is drained
            # (dependencies, other producers), so counting it would be no total either.
            with progress_bar(ctx, "drain-queue", max_messages) as advance:
                summary = asyncio.run(_drain(settings, options, stop, advance))
    data = summary.as_dict()
    line = (
        f"{data['total_processed']} processed, {data['successful']} ok, {data['failed']} failed, "
        f"{data['dead_lettered']} dead-lettered, {data['reclaimed']} reclaimed, "
        f"{data['dependencies_enqueued']} dependencies queued in {data['elapsed']}s "
        f"({data['messages_per_second']}/s, stopped: {data['stopped']})"
    )
    # Kubernetes stops pods with SIGTERM: a clean stop is success whatever the batch held.
    code = 1 if summary.failures and summary.stopped != "signal" else 0
    emit_summary(ctx, "drain-queue", data, line, exit_code=code)
    raise typer.Exit(code)


async def _drain(
    settings: Settings, options: DrainOptions, stop: Stop, progress: Advance
) -> DrainSummary:
    from ssc_cli import registries
    from ssc_cli.graph import open_store
    from ssc_cli.http import Http, HttpConfig
    from ssc_cli.pipeline.drain import drain
    from ssc_cli.pipeline.reconnect import ReconnectingQueue

    store = open_store(settings)
    try:
        store.migrate()
        async with (
            open_stream(settings, block_ms=options.block_ms) as stream,
            Http(HttpConfig.from_settings(settings)) as http,
        ):

            def open_registry(eco: Ecosystem) -> Registry:
                return registries.open_registry(eco, settings, http)

            async def reachable(eco: Ecosystem) -> bool:
                return await registries.reachable(eco, settings, http)

            queue = ReconnectingQueue(stream, settings.queue_reconnect_seconds, stop)
            return await drain(queue, store, open_registry, options, stop, reachable, progress)
    finally:
        store.close()


def enqueue_command(
    typer_ctx: typer.Context,
    ecosystem: Annotated[str, typer.Argument(help="Registry of the packages.", show_default=False)],
    names: Annotated[list[str] | None, typer.Argument(help="Package names.")] = None,
    names_from: Annotated[
        Path | None,
        typer.Option(
            "--names-from",
            "--file",  # its first name, kept as an alias
            help="Also the names in this file (one per line or a JSON array).",
        ),
    ] = None,
    refresh: Annotated[
        bool, typer.Option("--refresh", help="Re-extract packages the graph already has.")
    ] = False,
    json_output: JsonOpt = False,
) -> None:
    """Request extractions by hand: one message per package on the stream."""
    import asyncio

    from ssc_cli.queue.message import ExtractionMessage

    ctx = command_context(typer_ctx, json_output)
    with errors_to_exit_codes(ctx):
        eco = parse_ecosystem(ecosystem, implemented=False)
        wanted = list(names or [])
        check_names(eco, [n.strip() for n in wanted], "package names")
        if names_from is not None:
            wanted += read_names_from(names_from, eco)
        normalised = list(dict.fromkeys(n for n in map(eco.normalize_name, wanted) if n))
        if not normalised:
            raise ConfigError("no package names given (arguments or --names-from)")
        messages = [ExtractionMessage.request(eco, n, refresh=refresh) for n in normalised]
        settings = ctx.settings

        async def main() -> int:
            async with open_stream(settings) as stream:
                await stream.ensure_group()
                return await stream.publish(messages)

        count = asyncio.run(main())
    data = {"ecosystem": eco.value, "enqueued": count, "stream": ctx.settings.redis_stream}
    emit_summary(ctx, "enqueue", data, f"{count} {eco.value} packages queued on {data['stream']}")


@queue_app.command("stats")
def stats_command(typer_ctx: typer.Context, json_output: JsonOpt = False) -> None:
    """Stream length, pending entries per consumer, dead-letter length."""
    import asyncio

    ctx = command_context(typer_ctx, json_output)
    with errors_to_exit_codes(ctx):
        settings = ctx.settings

        async def main() -> dict[str, object]:
            async with open_stream(settings) as stream:
                return await stream.stats()

        data = asyncio.run(main())
    if ctx.json_output:
        print_record(ctx, data, 0)
        return
    typer.echo(f"stream {data['stream']}: {data['length']} entries")
    for group in data["groups"]:  # type: ignore[attr-defined]
        typer.echo(
            f"  group {group['name']}: {group['pending']} pending, lag {group['lag']}, "
            f"last delivered {group['last_delivered_id']}"
        )
        for consumer in group["consumers"]:
            typer.echo(
                f"    {consumer['name']}: {consumer['pending']} pending, idle {consumer['idle_ms']} ms"
            )
    typer.echo(f"dead letters {data['dead_letters']}: {data['dead_letter_length']} entries")


@queue_app.command("retry-dead")
def retry_dead_command(
    typer_ctx: typer.Context,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Move at most N dead letters.")
    ] = None,
    include_invalid: Annotated[
        bool,
        typer.Option(
            "--include-invalid",
            help="Also move letters rejected as invalid (bad JSON or fields, unsupported type).",
        ),
    ] = False,
    json_output: JsonOpt = False,
) -> None:
    """Move failed dead letters back onto the stream (after fixing what failed them)."""
    import asyncio

    ctx = command_context(typer_ctx, json_output)
    with errors_to_exit_codes(ctx):
        settings = ctx.settings

        async def main() -> tuple[int, dict[str, int]]:
            async with open_stream(settings) as stream:
                await stream.ensure_group()
                return await stream.retry_dead(limit, include_invalid=include_invalid)

        moved, kept_reasons = asyncio.run(main())
    kept = sum(kept_reasons.values())
    data = {"moved": moved, "kept": kept, "kept_reasons": kept_reasons}
    line = f"{moved} moved back, {kept} kept"
    if kept_reasons:
        line += " (" + ", ".join(f"{n} {r}" for r, n in kept_reasons.items()) + ")"
    if not include_invalid and set(kept_reasons) - {"no_data", "trimmed"}:
        line += "; --include-invalid moves the invalid ones too"
    emit_summary(ctx, "queue retry-dead", data, line)
