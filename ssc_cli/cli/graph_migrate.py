"""ssc graph migrate: bring a graph the old SecureChain pipeline wrote under the graph contract."""

from __future__ import annotations

from typing import Annotated

import typer

from ssc_cli.cli.context import command_context, emit_summary, errors_to_exit_codes

# Heavy imports (the stores, settings) live in the commands: `ssc --help` must stay fast (issue 8).

_FIELDS = (
    "packages_keyed",
    "package_twins_merged",
    "names_normalised",
    "versions_keyed",
    "version_twins_merged",
    "edges_moved",
    "duplicate_edges_removed",
    "unkeyable_packages",
    "unkeyable_versions",
)


def migrate_command(
    typer_ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only count what would change; write nothing.")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Key, merge and mark a Neo4j graph the old pipeline wrote (purls, twins, schema, marker)."""
    ctx = command_context(typer_ctx, json_output)
    with errors_to_exit_codes(ctx):
        if ctx.settings.graph_target.startswith("sqlite:"):
            summary = {"graph": "sqlite", "dry_run": dry_run, "migrated": False}
            emit_summary(ctx, "graph migrate", summary, "a SQLite graph has nothing to migrate")
            return
        from ssc_cli.graph import migrate_legacy as migration
        from ssc_cli.graph import open_store
        from ssc_cli.graph.neo4j import Neo4jStore

        store = open_store(ctx.settings)
        assert isinstance(store, Neo4jStore)
        try:
            report = migration.migrate_graph(store, dry_run=dry_run)
        finally:
            store.close()
        data = {"graph": store.uri, **report.as_dict()}
        line = ", ".join(f"{name.replace('_', ' ')} {data[name]}" for name in _FIELDS)
        if dry_run:
            line += " (dry run: nothing written)"
        elif not report.changed:
            line = "nothing to change; " + line
        emit_summary(ctx, "graph migrate", data, line)
