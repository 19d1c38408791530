"""Graph stores: SQLite (embedded default) and Neo4j 5, behind one GraphStore protocol."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the stores and settings load when one is opened: `ssc --help` stays fast
    from ssc_cli.graph.interface import GraphStore
    from ssc_cli.settings import Settings


def open_store(settings: Settings, *, read_only: bool = False) -> GraphStore:
    """The store named by SSC_GRAPH_URI (a SQLite file in the data directory by default).

    read_only: for commands that only read (graph show/export): a missing SQLite graph is a
    GraphMissing error instead of a new empty file, and the file is opened mode=ro.
    """
    uri = settings.graph_target
    if uri.startswith("sqlite:"):
        from ssc_cli.graph.sqlite import SqliteStore

        if settings.graph_uri is None and not read_only:
            from ssc_cli.container import warn_if_state_is_lost

            warn_if_state_is_lost(settings.data_dir)
        return SqliteStore.from_uri(uri, read_only=read_only, cache_mb=settings.sqlite_cache_mb)
    from ssc_cli.graph.neo4j import Neo4jStore

    password = settings.graph_password.get_secret_value() if settings.graph_password else ""
    return Neo4jStore(
        uri,
        settings.graph_user,
        password,
        database=settings.graph_database,
        max_transaction_retry_time=settings.graph_retry_time,
    )
