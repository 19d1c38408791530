"""ssc graph export / ssc graph show (and ssc graph migrate, from graph_migrate.py)."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from ssc_cli.cli.context import command_context, errors_to_exit_codes, parse_ecosystem
from ssc_cli.cli.graph_migrate import migrate_command
from ssc_cli.errors import SscError

# Heavy imports (the stores, settings) live in the commands: `ssc --help` must stay fast (issue 8).

graph_app = typer.Typer(
    help="Read the graph; migrate an old SecureChain one.", no_args_is_help=True
)
graph_app.command("migrate")(migrate_command)


class NotInGraph(SscError):
    """The package asked for is not in the graph."""

    exit_code = 1


@graph_app.command("export")
def export_command(
    typer_ctx: typer.Context,
    ecosystem: Annotated[
        str | None, typer.Option("--ecosystem", help="Only this ecosystem.")
    ] = None,
) -> None:
    """Print the graph as JSON Lines: packages, then versions, then REQUIRE edges, each by purl."""
    from ssc_cli.graph import open_store

    ctx = command_context(typer_ctx)
    with errors_to_exit_codes(ctx):
        eco = parse_ecosystem(ecosystem, implemented=False) if ecosystem else None
        store = open_store(ctx.settings, read_only=True)
        try:
            store.migrate()
            out = sys.stdout
            for item in store.export(eco):
                out.write(json.dumps(item, ensure_ascii=False, separators=(",", ":")))
                out.write("\n")
            out.flush()
        finally:
            store.close()


@graph_app.command("show")
def show_command(
    typer_ctx: typer.Context,
    ecosystem: Annotated[str, typer.Argument(help="Ecosystem of the package.")],
    name: Annotated[str, typer.Argument(help="Package name (any spelling the registry accepts).")],
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show one package: its properties, versions and dependencies."""
    from ssc_cli.graph import open_store

    ctx = command_context(typer_ctx, json_output)
    with errors_to_exit_codes(ctx):
        eco = parse_ecosystem(ecosystem, implemented=False)
        store = open_store(ctx.settings, read_only=True)
        try:
            store.migrate()
            package = store.show(eco, name)
        finally:
            store.close()
        if package is None:
            raise NotInGraph(f"{eco.value} package {name!r} is not in the graph")
    if ctx.json_output:
        typer.echo(json.dumps(package, indent=2, ensure_ascii=False))
        return
    _print_package(package)


def _print_package(package: dict[str, object]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"[bold]{package['name']}[/bold]  {package['purl']}  ({package['status']})")
    console.print(f"repository: {package['repository_url']}   vendor: {package['vendor']}")
    console.print(f"import names: {', '.join(package['import_names']) or '-'}")  # type: ignore[arg-type]
    if package.get("last_error"):
        console.print(f"last error: {package['last_error']}")
    console.print(f"licence: {_licence(package)}")
    table = Table("serial", "version", "released", "flags", "requires", "licence", "advisories")
    for version in package["versions"]:  # type: ignore[attr-defined]
        flags = " ".join(
            f
            for f, on in (("yanked", version["yanked"]), ("deprecated", version["deprecated"]))
            if on
        )
        requires = ", ".join(
            f"{r['to'].split('/')[-1]} {r['constraints']}" for r in version["requires"]
        )
        table.add_row(
            str(version["serial_number"]),
            version["name"],
            version["release_date"] or "-",
            flags,
            requires,
            _licence(version) if version.get("oss_status") else "",
            _advisories(version),
        )
    console.print(table)


def _advisories(version: Any) -> str:
    """Advisory ids and scores; a version never attributed says so (ssc vulns attribute)."""
    unscored = version.get("unscored_vulnerabilities")
    if unscored is None:
        return "not attributed (ssc vulns attribute)"
    ids = version.get("vulnerabilities") or []
    if not ids:
        return "none"
    text = (
        f"{' '.join(ids)}; mean {version.get('mean', 0.0):g}, "
        f"weighted {version.get('weighted_mean', 0.0):g}"
    )
    return text + (f", {unscored} unscored" if unscored else "")


def _licence(item: Any) -> str:
    """A verdict in one line: expression (or what was published), status, reason, list."""
    if not item.get("oss_status"):
        return "not classified (ssc classify)"
    shown = item.get("license_expression") or " ".join(str(item.get("license_raw") or "-").split())
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    return (
        f"{shown} — {item['oss_status']} ({item['oss_reason']}, "
        f"SPDX list {item['license_list_version']})"
    )
