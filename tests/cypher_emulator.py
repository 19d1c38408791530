"""A stand-in for the neo4j driver that runs the store's Cypher on ocg, an embedded openCypher engine.

It lets the contract suite execute every data statement of Neo4jStore without a server. ocg has no
schema commands and no transactions: schema statements are recorded (and checked for shape), and
a write transaction is emulated by snapshotting the graph and restoring it when the transaction
function fails, or when a test asks for a transient failure, after which the function is run
again as the driver's managed transactions do. A real server is still what SSC_TEST_NEO4J_URI
is for.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


class Result:
    """The part of neo4j.Result the store uses."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self._rows = rows

    def data(self) -> list[dict[str, Any]]:
        return self._rows

    def consume(self) -> None:
        return None


class Transaction:
    def __init__(self, driver: EmulatedDriver) -> None:
        self._driver = driver

    def run(self, query: str, parameters: dict[str, Any] | None = None) -> Result:
        self._driver.queries.append(query)
        if query.startswith(("CREATE CONSTRAINT", "CREATE INDEX")):
            self._driver.schema.append(query)
            return Result([])
        return Result(self._driver.graph.execute(query, parameters or {}))


class Session:
    def __init__(self, driver: EmulatedDriver) -> None:
        self._driver = driver

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def execute_read(self, fn: Callable[..., Any], *args: Any) -> Any:
        return fn(Transaction(self._driver), *args)

    def execute_write(self, fn: Callable[..., Any], *args: Any) -> Any:
        driver = self._driver
        while True:
            snapshot = driver.snapshot()
            try:
                result = fn(Transaction(driver), *args)
            except BaseException:
                driver.restore(snapshot)
                raise
            if driver.transient_failures > 0:  # the commit "failed": roll back and retry
                driver.transient_failures -= 1
                driver.retries += 1
                driver.restore(snapshot)
                continue
            return result


class EmulatedDriver:
    """neo4j.Driver look-alike over one in-memory ocg graph."""

    def __init__(self, uri: str, config: dict[str, Any]) -> None:
        self.uri = uri
        self.config = config
        import ocg  # test extra; imported here so a missing install skips only the emulated runs

        self.graph = ocg.Graph()
        self._snapshots = Path(tempfile.mkdtemp(prefix="ssc-ocg-"))
        self.transient_failures = 0  # upcoming write transactions whose commit fails once
        self.retries = 0
        self.queries: list[str] = []
        self.schema: list[str] = []
        self.closed = False

    def snapshot(self) -> Path:
        path = self._snapshots / "snapshot.json"
        self.graph.save(str(path))
        return path

    def restore(self, path: Path) -> None:
        import ocg

        self.graph = ocg.Graph.load(str(path))

    def verify_connectivity(self) -> None:
        return None

    def session(self, database: str | None = None) -> Session:
        return Session(self)

    def close(self) -> None:
        self.closed = True


class EmulatedGraphDatabase:
    """Replaces neo4j.GraphDatabase inside ssc_cli.graph.neo4j; remembers the drivers it made."""

    def __init__(self) -> None:
        self.drivers: list[EmulatedDriver] = []

    def driver(self, uri: str, *, auth: tuple[str, str], **config: Any) -> EmulatedDriver:
        made = EmulatedDriver(uri, {"auth": auth, **config})
        self.drivers.append(made)
        return made
