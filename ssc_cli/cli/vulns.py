"""ssc vulns sync / attribute / show."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ssc_cli.cli.context import (
    Context,
    command_context,
    emit_summary,
    errors_to_exit_codes,
    parse_ecosystem,
    progress_bar,
)
from ssc_cli.errors import ConfigError, SscError
from ssc_cli.models import Ecosystem

# Heavy imports (httpx, the stores, univers) live in the commands: `ssc --help` must stay fast
# (issue 8).
if TYPE_CHECKING:
    from ssc_cli.pipeline.stop import Stop

vulns_app = typer.Typer(
    help="Vulnerability advisories: sync, attribute, show.", no_args_is_help=True
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout.")]


class UnknownAdvisory(SscError):
    """No stored advisory has this id or alias."""

    exit_code = 1


@vulns_app.command("sync")
def sync_command(
    typer_ctx: typer.Context,
    sources: Annotated[
        list[str] | None,
        typer.Argument(
            help="OSV JSON files, directories, all.zip archives, or URLs (a .zip, a .json, or "
            "a mirror root). None: the mirror at SSC_OSV_URL, incrementally.",
            show_default=False,
        ),
    ] = None,
    ecosystem: Annotated[
        list[str] | None,
        typer.Option(
            "--ecosystem", help="Mirror folders to sync (default: those the graph holds)."
        ),
    ] = None,
    json_output: JsonOpt = False,
) -> None:
    """Load OSV records into the embedded store; only records newer than the stored copy."""
    import asyncio

    ctx = command_context(typer_ctx, json_output)
    with errors_to_exit_codes(ctx):
        from ssc_cli.graph import open_store
        from ssc_cli.lock import job_lock
        from ssc_cli.pipeline.stop import stop_on_signals
        from ssc_cli.pipeline.vulns import SyncOptions, graph_ecosystems
        from ssc_cli.vulns.osv import OsvStore

        settings = ctx.settings
        paths, urls = [], []
        for item in sources or []:
            if "://" in item:
                urls.append(item)
            elif Path(item).exists():
                paths.append(Path(item))
            else:
                raise ConfigError(f"{item}: no such file or directory (nor a URL)")
        with (
            stop_on_signals(settings.stop_grace) as stop,
            job_lock(settings, "vulns-sync", stop),
        ):
            store = open_store(settings)
            osv = None
            try:
                store.migrate()
                osv = OsvStore(settings.osv_path)
                ecosystems = [parse_ecosystem(e, implemented=False) for e in ecosystem or []]
                mirror_roots = [u for u in urls if not u.lower().endswith((".zip", ".json"))]
                if not ecosystems and (mirror_roots or not sources):
                    ecosystems = graph_ecosystems(store)
                options = SyncOptions(
                    paths=paths,
                    urls=urls,
                    mirror=None if sources else settings.osv_url,
                    ecosystems=ecosystems,
                    zip_threshold=settings.osv_zip_threshold,
                    cache_dir=settings.cache_dir,
                )
                online = bool(urls) or not sources
                summary = asyncio.run(_sync(ctx, store, osv, options, online, stop))
            finally:
                if osv is not None:
                    osv.close()
                store.close()
    data = summary.as_dict()
    line = (
        f"{data['records_loaded']} loaded, {data['records_skipped']} not newer, "
        f"{data['records_withdrawn']} withdrawn, {data['records_other_ecosystems']} of other "
        f"ecosystems, {data['packages_changed']} packages named, {data['unscored_advisories']} "
        f"unscored advisories, {data['errors']} errors"
    )
    if settings.vuln_db_uri is not None:
        line += " (note: SSC_VULN_DB_URI is set, so attribution reads MongoDB, not this store)"
    code = stop.exit_code if summary.stopped is not None else (1 if summary.failed else 0)
    emit_summary(ctx, "vulns sync", data, line, exit_code=code)
    if not ctx.quiet and not ctx.json_output:
        for bad in data["invalid"]:
            typer.echo(f"  invalid {bad['source']}: {bad['reason']}", err=True)
        for bad in data["rejected_vectors"]:
            typer.echo(f"  vector of {bad['id']}: {bad['reason']}", err=True)
    raise typer.Exit(code)


async def _sync(ctx: Context, store: Any, osv: Any, options: Any, online: bool, stop: Stop) -> Any:
    from ssc_cli.pipeline.vulns import sync

    if not online:
        return await sync(store, osv, None, options, stop=stop)
    from ssc_cli.http import Http, HttpConfig

    async with Http(HttpConfig.from_settings(ctx.settings)) as http:
        with progress_bar(ctx, "vulns sync", None) as advance:
            return await sync(store, osv, http, options, progress=advance, stop=stop)


@vulns_app.command("attribute")
def attribute_command(
    typer_ctx: typer.Context,
    ecosystem: Annotated[
        str | None, typer.Argument(help="Only this ecosystem (default: all in the graph).")
    ] = None,
    all_versions: Annotated[
        bool,
        typer.Option("--all", help="Re-attribute every stored version, not only changed ones."),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Compute and report; write nothing.")
    ] = False,
    json_output: JsonOpt = False,
) -> None:
    """Re-attribute the stored packages named by advisories changed since the last run."""
    ctx = command_context(typer_ctx, json_output)
    with errors_to_exit_codes(ctx):
        from ssc_cli.graph import open_store
        from ssc_cli.lock import job_lock
        from ssc_cli.pipeline.stop import stop_on_signals
        from ssc_cli.pipeline.vulns import AttributeOptions, attribute
        from ssc_cli.vulns.sources import open_source

        settings = ctx.settings
        eco = parse_ecosystem(ecosystem, implemented=False) if ecosystem else None
        options = AttributeOptions(
            ecosystems=[eco] if eco else [],
            all=all_versions,
            dry_run=dry_run,
            batch_size=settings.vulns_batch_size,
        )
        with (
            stop_on_signals(settings.stop_grace) as stop,
            job_lock(settings, "vulns-attribute", stop),
        ):
            store = open_store(settings)
            source = None
            try:
                store.migrate()
                if not dry_run:  # the cascade stop (issue 12): never attribute on failing input
                    from ssc_cli.quality.gate import attribution_inputs, require_passing

                    named = [eco] if eco else list(Ecosystem)
                    require_passing(store, attribution_inputs(named), "vulns attribute")
                source = open_source(settings)
                with progress_bar(ctx, "vulns attribute", None) as advance:
                    summary = attribute(store, source, options, progress=advance, stop=stop)
            finally:
                if source is not None:
                    source.close()
                store.close()
    data = summary.as_dict()
    line = (
        f"{data['packages_reattributed']} packages / {data['versions_reattributed']} versions "
        f"re-attributed, {data['versions_changed']} changed ({data['newly_vulnerable']} newly "
        f"vulnerable, {data['no_longer_vulnerable']} no longer), {data['unparseable_versions']} "
        f"unparseable, {data['git_ranges_skipped']} GIT ranges skipped, "
        f"{data['unscored_advisories']} unscored advisories in {data['elapsed']}s"
    )
    if summary.failed:
        line += (
            f"; {len(data['invalid_records'])} invalid records skipped, "
            f"{len(data['rejected_vectors'])} rejected vectors"
        )
    code = stop.exit_code if summary.stopped is not None else (1 if summary.failed else 0)
    line += " (dry run: nothing written)" if dry_run else ""
    emit_summary(ctx, "vulns attribute", data, line, exit_code=code)
    if not ctx.quiet and not ctx.json_output:
        if data["unparseable_sample"]:
            typer.echo(f"  unparseable: {', '.join(data['unparseable_sample'])}", err=True)
        for reason in data["invalid_records"]:
            typer.echo(f"  invalid record: {reason}", err=True)
        for bad in data["rejected_vectors"]:
            typer.echo(f"  vector of {bad['id']}: {bad['reason']}", err=True)
    raise typer.Exit(code)


@vulns_app.command("show")
def show_command(
    typer_ctx: typer.Context,
    advisory_id: Annotated[str, typer.Argument(help="Advisory id (or one of its aliases).")],
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print one advisory and the stored versions it affects."""
    ctx = command_context(typer_ctx, json_output)
    with errors_to_exit_codes(ctx):
        from ssc_cli.graph import open_store
        from ssc_cli.vulns.show import describe
        from ssc_cli.vulns.sources import open_source

        settings = ctx.settings
        store = open_store(settings, read_only=True)
        source = None
        try:
            store.migrate()
            source = open_source(settings)
            shown = describe(store, source, advisory_id)
        finally:
            if source is not None:
                source.close()
            store.close()
        if shown is None:
            raise UnknownAdvisory(
                f"no advisory {advisory_id!r} in {source.kind} {source.target}; "
                "`ssc vulns sync` loads them"
            )
    if ctx.json_output:
        typer.echo(json.dumps(shown, indent=2, ensure_ascii=False))
        return
    typer.echo(f"{shown['id']}  modified {shown['modified']}  score {shown['score'] or '-'}")
    if shown["withdrawn"]:
        typer.echo(f"withdrawn {shown['withdrawn']}")
    if shown["aliases"]:
        typer.echo(f"aliases: {', '.join(shown['aliases'])}")
    if shown["summary"]:
        typer.echo(shown["summary"])
    for package in shown["packages"]:
        versions = ", ".join(package["affected_versions"]) or "none stored"
        typer.echo(f"  {package['ecosystem']} {package['name']}: {versions}")
