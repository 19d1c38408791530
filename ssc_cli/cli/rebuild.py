"""ssc rebuild: stored packages rewritten from a registry's raw archive, without the network."""

from __future__ import annotations

from contextlib import ExitStack
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from ssc_cli.cli.context import (
    Context,
    command_context,
    errors_to_exit_codes,
    exit_after_run,
    parse_ecosystem,
    progress_bar,
)
from ssc_cli.registries import ARCHIVED

# Heavy imports (the pipeline, the stores) live in the command: `ssc --help` must stay fast
# (issue 8).
if TYPE_CHECKING:
    from ssc_cli.pipeline.rebuild import RebuildSummary
    from ssc_cli.pipeline.stop import Stop

ARCHIVED_HELP = "Registry with a raw archive: " + ", ".join(e.value for e in ARCHIVED)


def rebuild_command(
    typer_ctx: typer.Context,
    ecosystem: Annotated[str, typer.Argument(help=ARCHIVED_HELP, show_default=False)],
    names: Annotated[
        list[str] | None,
        typer.Option("--name", help="Rebuild only this package (repeat for more)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Rebuild and report; write nothing.")
    ] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the summary as JSON on stdout.")
    ] = False,
) -> None:
    """Rewrite stored versions and edges from the raw archive in the data directory, offline."""
    from ssc_cli.graph import open_store
    from ssc_cli.lock import job_lock
    from ssc_cli.pipeline.observe import metrics_target
    from ssc_cli.pipeline.rebuild import RebuildOptions, open_archive, rebuild
    from ssc_cli.pipeline.stop import stop_on_signals
    from ssc_cli.quality.checks import after_run_thresholds
    from ssc_cli.vulns.sources import inline_attribution

    ctx = command_context(typer_ctx, json_output)
    with errors_to_exit_codes(ctx):
        eco = parse_ecosystem(ecosystem)
        settings = ctx.settings
        options = RebuildOptions(
            names=names or None,
            dry_run=dry_run,
            batch_size=settings.write_batch_size,
            checks=after_run_thresholds(settings),
            metrics=metrics_target(settings),
        )
        with ExitStack() as stack:
            stop = stack.enter_context(stop_on_signals(settings.stop_grace))
            archive = open_archive(eco, settings)  # a usage error before any lock is taken
            stack.callback(archive.close)
            if not dry_run:
                stack.enter_context(job_lock(settings, f"rebuild-{eco.value}", stop))
                # An update running meanwhile could write a package this run then overwrites
                # with what the archive held before, after its watermark moved past it.
                stack.enter_context(job_lock(settings, f"update-{eco.value}", stop))
            options.attribute = stack.enter_context(inline_attribution(settings))
            store = open_store(settings)
            stack.callback(store.close)
            store.migrate()
            total = len(options.names) if options.names else None
            with progress_bar(ctx, f"rebuild {eco.value}", total) as advance:
                summary = rebuild(archive, store, options, progress=advance, stop=stop)
    _finish(ctx, f"rebuild {eco.value}", summary, dry_run, stop)


def _finish(
    ctx: Context, title: str, summary: RebuildSummary, dry_run: bool, stop: Stop
) -> NoReturn:
    data = summary.as_dict()
    line = (
        f"{data['packages_rebuilt']} packages rebuilt ({data['versions']} versions, "
        f"{data['new_versions']} new, {data['removed_versions']} removed), "
        f"{data['not_extracted']} not extracted, {data['retry_pending']} awaiting update, "
        f"{data['incomplete']} incomplete in the archive, {data['errors']} errors, "
        f"0 requests in {data['elapsed']}s"
    )
    exit_after_run(ctx, title, data, line, summary.failures, dry_run, stop)
