"""ssc check / ssc status."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ssc_cli import registries
from ssc_cli.cli.context import (
    command_context,
    emit_summary,
    errors_to_exit_codes,
    parse_ecosystem,
    print_record,
)

# Heavy imports (the stores, the checks, settings) live in the commands: `ssc --help` must stay
# fast (issue 8).
if TYPE_CHECKING:
    from ssc_cli.graph.interface import GraphStore
    from ssc_cli.models import Ecosystem
    from ssc_cli.quality.results import CheckResult
    from ssc_cli.settings import Settings

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]


def check_command(
    typer_ctx: typer.Context,
    ecosystem: Annotated[
        str | None,
        typer.Argument(
            help="Only this ecosystem's checks (default: every one written, plus "
            "the licence list, the vulnerability data and the queue).",
            show_default=False,
        ),
    ] = None,
    json_output: JsonOpt = False,
) -> None:
    """Run the quality checks, record their results; exit 3 when a blocking one fails."""
    from ssc_cli.graph import open_store
    from ssc_cli.pipeline import checks as run_checks
    from ssc_cli.pipeline import observe
    from ssc_cli.quality import checks

    ctx = command_context(typer_ctx, json_output)
    with errors_to_exit_codes(ctx):
        eco = parse_ecosystem(ecosystem) if ecosystem else None
        settings = ctx.settings
        store = open_store(settings)
        try:
            store.migrate()
            results = run_checks.run_all(store, settings, [eco] if eco else None)
        finally:
            store.close()
        observe.publish_checks(settings, eco, results)
    blocked = checks.failing(results, blocking_only=True)
    failed = checks.failing(results)
    code = 3 if blocked else 0
    data = {
        "checks": [r.as_dict() for r in results],
        "passed": len(results) - len(failed),
        "failed": len(failed),
        "blocking_failed": len(blocked),
        "exit_code": code,
    }
    if not ctx.json_output:
        _print_checks(results)
    line = f"{len(results)} checks, {len(failed)} failed ({len(blocked)} blocking)"
    emit_summary(ctx, "check", data, line, exit_code=code)
    raise typer.Exit(code)


def _print_checks(results: Sequence[CheckResult]) -> None:
    rows = [("check", "severity", "result", "measured", "threshold", "message")]
    for r in results:
        verdict = "ok" if r.passed else ("BLOCKED" if r.blocking else "FAILED")
        rows.append(
            (r.key, r.severity.value, verdict, _figure(r.measured), _figure(r.threshold), r.message)
        )
    _print_table(rows)


def _figure(value: float | None) -> str:
    if value is None:
        return "-"
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _print_table(rows: Sequence[Sequence[str]]) -> None:
    """Plain aligned columns on stdout (a terminal or not); the last column is not padded."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        typer.echo("  ".join([*cells, row[-1]]).rstrip())


def status_command(
    typer_ctx: typer.Context,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 3 when a dataset is stale (for alerting).")
    ] = False,
    lag: Annotated[
        bool,
        typer.Option(
            "--lag",
            help="Also measure each registry's cursor lag: at most one small request per "
            "registry with a stored update cursor (off by default: status stays offline).",
        ),
    ] = False,
    json_output: JsonOpt = False,
) -> None:
    """Freshness of every dataset: last success and failure, age, threshold, backlog, checks."""
    import asyncio

    from ssc_cli.graph import open_store
    from ssc_cli.pipeline import observe
    from ssc_cli.pipeline import status as run_status
    from ssc_cli.quality.freshness import STALE, human

    ctx = command_context(typer_ctx, json_output)
    with errors_to_exit_codes(ctx):
        settings = ctx.settings
        store = open_store(settings)
        try:
            store.migrate()
            ecosystems = registries.available()
            # Offline unless asked: monitoring runs status hourly and must not load registries.
            lags = asyncio.run(_cursor_lags(store, settings, ecosystems)) if lag else None
            rows = run_status.status(store, settings, ecosystems, lags=lags)
        finally:
            store.close()
        observe.publish_status(settings, rows)
    stale = [row for row in rows if row.state == STALE]
    code = 3 if strict and stale else 0
    data: dict[str, Any] = {
        "datasets": [row.as_dict() for row in rows],
        "stale": [row.dataset for row in stale],
        "exit_code": code,
    }
    if ctx.json_output:
        print_record(ctx, data, code)
    else:
        table = [
            (
                "dataset",
                "state",
                "age",
                "threshold",
                "last success",
                "pending",
                "drift",
                "lag",
                "last failure",
            )
        ]
        for row in rows:
            failure = f"{row.last_failure}: {row.last_failure_reason}" if row.last_failure else "-"
            table.append(
                (
                    row.dataset,
                    row.state,
                    human(row.age_seconds),
                    human(row.threshold_seconds),
                    row.last_success or "-",
                    "-" if row.pending is None else str(row.pending),
                    "-" if row.schema_drift is None else str(row.schema_drift),
                    _lag_cell(row.cursor_lag),
                    failure[:160],
                )
            )
        _print_table(table)
        if not ctx.quiet:
            for row in rows:
                if row.cursor_lag is not None and row.cursor_lag.get("reason"):
                    typer.echo(f"{row.dataset}: no lag: {row.cursor_lag['reason']}", err=True)
            typer.echo(
                f"status: {len(rows)} datasets, {len(stale)} stale"
                + (f" ({', '.join(data['stale'])})" if stale else ""),
                err=True,
            )
    raise typer.Exit(code)


async def _cursor_lags(
    store: GraphStore, settings: Settings, ecosystems: Sequence[Ecosystem]
) -> dict[Ecosystem, dict[str, Any]]:
    """`status --lag`: one HTTP layer for the run, each registry's client asked for its lag."""
    from ssc_cli.http import Http, HttpConfig
    from ssc_cli.pipeline.status import cursor_lags

    async with Http(HttpConfig.from_settings(settings)) as http:
        return await cursor_lags(
            store, ecosystems, lambda eco: registries.open_registry(eco, settings, http)
        )


def _lag_cell(lag: dict[str, Any] | None) -> str:
    """`1234 serials`; `?` when measuring failed or is not possible (the reason goes to stderr)."""
    if lag is None:
        return "-"
    if lag.get("value") is None:
        return "?"
    return f"{lag['value']} {lag['unit']}"
