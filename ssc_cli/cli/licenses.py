"""ssc licenses sync / ssc classify."""

from __future__ import annotations

from contextlib import nullcontext
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ssc_cli import registries
from ssc_cli.cli.context import (
    command_context,
    emit_summary,
    errors_to_exit_codes,
    parse_ecosystem,
    progress_bar,
)
from ssc_cli.models import Ecosystem

# Heavy imports (httpx, the stores, the pipeline) live in the commands: `ssc --help` must stay
# fast (issue 8).
if TYPE_CHECKING:
    from ssc_cli.graph.interface import GraphStore

licenses_app = typer.Typer(help="The SPDX licence list.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout.")]


def _total(store: GraphStore, ecosystems: list[Ecosystem]) -> int:
    counts = store.oss_status_counts()
    return sum(sum(counts.get(e.value, {}).values()) for e in ecosystems)


@licenses_app.command("sync")
def sync_command(
    typer_ctx: typer.Context,
    source: Annotated[
        str | None,
        typer.Argument(
            help="Folder URL or local folder holding licenses.json and exceptions.json "
            "(default: SSC_SPDX_URL).",
            show_default=False,
        ),
    ] = None,
    json_output: JsonOpt = False,
) -> None:
    """Store the SPDX licence list; nothing is written when its version is unchanged."""
    import asyncio

    from ssc_cli.graph import open_store
    from ssc_cli.http import Http, HttpConfig
    from ssc_cli.licenses.spdx import Guards
    from ssc_cli.lock import job_lock
    from ssc_cli.pipeline.licenses_sync import SyncSummary, sync_licenses
    from ssc_cli.pipeline.stop import stop_on_signals

    ctx = command_context(typer_ctx, json_output)
    with errors_to_exit_codes(ctx):
        settings = ctx.settings
        where = source or settings.spdx_url
        with (
            stop_on_signals(settings.stop_grace) as stop,
            job_lock(settings, "licenses-sync", stop),
        ):
            store = open_store(settings)
            try:
                store.migrate()
                total = _total(store, list(Ecosystem))

                async def main() -> SyncSummary:
                    async with Http(HttpConfig.from_settings(settings)) as http:
                        if "://" in where:
                            http.allow(where)  # named by the operator: its host may be asked

                        async def fetch(url: str) -> bytes:
                            return (await http.get(url, conditional=True)).content

                        with progress_bar(ctx, "classify", total) as advance:
                            return await sync_licenses(
                                store,
                                where,
                                fetch,
                                guards=Guards(settings.spdx_min_ratio),
                                batch_size=settings.classify_batch_size,
                                progress=advance,
                                stop=stop,
                            )

                summary = asyncio.run(main())
            finally:
                store.close()
    data = summary.as_dict()
    if summary.skipped:
        line = f"list {data['license_list_version']} skipped: {summary.skipped}"
    else:
        line = (
            f"list {data['license_list_version']} written ({data['licenses']} licences, "
            f"{data['osi_approved']} OSI-approved, {data['exceptions']} exceptions; "
            f"was {data['previous_version'] or 'none'})"
        )
        if summary.reclassified:
            line += f", {_classified_line(summary.reclassified)}"
    if summary.stopped is not None:
        line += f" (stopped: {summary.stopped})"
    code = stop.exit_code if summary.stopped is not None else 0
    emit_summary(ctx, "licenses sync", data, line + f" in {data['elapsed']}s", exit_code=code)
    raise typer.Exit(code)


def classify_command(
    typer_ctx: typer.Context,
    ecosystem: Annotated[
        str | None,
        typer.Argument(help="Only this ecosystem (default: all).", show_default=False),
    ] = None,
    every: Annotated[
        bool,
        typer.Option("--all", help="Every package, not only those whose signals changed."),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Decide and report; write nothing.")
    ] = False,
    json_output: JsonOpt = False,
) -> None:
    """Classify packages as open_source, proprietary or unknown, each with its reason."""
    from ssc_cli.graph import open_store
    from ssc_cli.lock import job_lock
    from ssc_cli.pipeline.classify import classify_stored
    from ssc_cli.pipeline.stop import stop_on_signals

    ctx = command_context(typer_ctx, json_output)
    with errors_to_exit_codes(ctx):
        ecosystems = (
            [parse_ecosystem(ecosystem, implemented=False)]
            if ecosystem
            else list(registries.available())
        )
        settings = ctx.settings
        store = open_store(settings)
        try:
            store.migrate()
            if not dry_run:  # the cascade stop (issue 12): never classify on failing input
                from ssc_cli.quality.gate import classify_inputs, require_passing

                require_passing(store, classify_inputs(ecosystems), "classify")
            total = _total(store, ecosystems)
            title = f"classify {ecosystem or 'all'}"
            with (
                stop_on_signals(settings.stop_grace) as stop,
                nullcontext() if dry_run else job_lock(settings, "classify", stop),
                progress_bar(ctx, title, total) as advance,
            ):
                summary = classify_stored(
                    store,
                    ecosystems,
                    every=every,
                    dry_run=dry_run,
                    batch_size=settings.classify_batch_size,
                    progress=advance,
                    stop=stop,
                )
        finally:
            store.close()
    data = summary.as_dict()
    line = (
        f"{data['packages_checked']} packages checked, {_classified_line(data)} "
        f"(list {data['license_list_version']}) in {data['elapsed']}s"
    )
    if summary.stopped is not None:
        line += f" (stopped: {summary.stopped})"
    if dry_run:
        line += " (dry run: nothing written)"
    code = stop.exit_code if summary.stopped is not None else 0
    emit_summary(ctx, title, data, line, exit_code=code)
    raise typer.Exit(code)


def _classified_line(data: dict[str, Any]) -> str:
    by = data["by_status"]
    return (
        f"{data['packages_classified']} classified ({by['open_source']} open_source, "
        f"{by['proprietary']} proprietary, {by['unknown']} unknown), "
        f"{data['verdicts_changed']} verdicts changed"
    )
