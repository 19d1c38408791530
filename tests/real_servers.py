"""The real Neo4j 5 and MongoDB-protocol servers, as the tests see them.

Each test process (each pytest-xdist worker) starts its own servers the first time a test marked
`neo4j` or `mongo` runs, and stops them when it exits: Neo4j's test harness is the Community
edition, one database per server, so a private server per worker is what keeps workers from
wiping each other's graph. Every marked test starts on an empty database.

SSC_TEST_NEO4J_URI (with SSC_TEST_NEO4J_USER / _PASSWORD / _DATABASE) and SSC_TEST_MONGO_URI
point the same tests at external servers instead; those are shared by every worker, so a file
lock lets one test at a time use each. Outside CI a missing java/mvn skips with the reason; in CI
(CI=true) a server that cannot be built or started fails the run.
"""

from __future__ import annotations

import atexit
import fcntl
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import servers

_started: dict[str, servers.Server] = {}
_broken: dict[str, str] = {}


@dataclass(frozen=True)
class Neo4jTarget:
    uri: str
    user: str
    password: str
    database: str | None
    shared: bool


def _in_ci() -> bool:
    return os.environ.get("CI") == "true"


def _server(kind: str) -> servers.Server:
    """This process's server of kind, started on first use."""
    if kind in _started:
        return _started[kind]
    if kind in _broken:
        pytest.fail(_broken[kind]) if _in_ci() else pytest.skip(_broken[kind])
    missing = servers.missing_tools()
    if missing and not _in_ci():
        pytest.skip(f"no {kind} test server: {', '.join(missing)} not on PATH (see README)")
    try:
        server = servers.start(kind)
        if kind == "neo4j":
            servers.wait_for_neo4j(server.uri)
        else:
            servers.wait_for_mongo(server.uri)
    except Exception as exc:  # a build or start failure: remembered, reported once per test
        _broken[kind] = f"the {kind} test server did not start: {exc}"
        pytest.fail(_broken[kind])
    _started[kind] = server
    return server


@atexit.register
def stop_all() -> None:
    for server in _started.values():
        server.stop()
    _started.clear()


def neo4j_target() -> Neo4jTarget:
    uri = os.environ.get("SSC_TEST_NEO4J_URI")
    if uri:
        return Neo4jTarget(
            uri,
            os.environ.get("SSC_TEST_NEO4J_USER", "neo4j"),
            os.environ.get("SSC_TEST_NEO4J_PASSWORD", ""),
            os.environ.get("SSC_TEST_NEO4J_DATABASE") or None,
            shared=True,
        )
    return Neo4jTarget(_server("neo4j").uri, "neo4j", "", None, shared=False)


def neo4j_server() -> servers.Server:
    """The process's own Neo4j (for tests that stop or kill it)."""
    if os.environ.get("SSC_TEST_NEO4J_URI"):
        pytest.skip("this test kills the server: it needs the suite's own, not SSC_TEST_NEO4J_URI")
    return _server("neo4j")


@contextmanager
def private_neo4j(home: Path) -> Iterator[Callable[[], servers.Server]]:
    """Start Neo4j servers one after another on the store in home, for a test that kills them.

    Yields a function starting the next server (answering queries) once the last one is dead;
    whatever is still running at the end is stopped. Tests using it carry
    `@pytest.mark.neo4j(private=True)`, so they get no shared server they would not use.
    """
    missing = servers.missing_tools()
    if missing and not _in_ci():
        pytest.skip(f"no neo4j test server: {', '.join(missing)} not on PATH (see README)")
    started: list[servers.Server] = []

    def start() -> servers.Server:
        assert all(s.process.poll() is not None for s in started), "the last one still runs"
        server = servers.start("neo4j", home=home)
        started.append(server)
        servers.wait_for_neo4j(server.uri)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()


def restart_neo4j() -> None:
    """Forget a server a test killed, so the next test starts a fresh one."""
    server = _started.pop("neo4j", None)
    if server is not None:
        server.stop()


def mongo_uri() -> str:
    return os.environ.get("SSC_TEST_MONGO_URI") or _server("mongo").uri


def wipe_neo4j(schema: bool = False) -> None:
    """Delete every node (and, with schema, every index and constraint) of the test database."""
    import neo4j

    target = neo4j_target()
    with neo4j.GraphDatabase.driver(target.uri, auth=(target.user, target.password)) as driver:
        driver.execute_query("MATCH (n) DETACH DELETE n", database_=target.database)
        if schema:
            for kind in ("CONSTRAINT", "INDEX"):
                rows = driver.execute_query(
                    f"SHOW {kind}ES YIELD name, type"
                    if kind == "INDEX"
                    else "SHOW CONSTRAINTS YIELD name, type",
                    database_=target.database,
                ).records
                for row in rows:
                    if row["type"] != "LOOKUP":
                        driver.execute_query(
                            f"DROP {kind} `{row['name']}` IF EXISTS", database_=target.database
                        )


def wipe_mongo() -> None:
    import pymongo

    client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(mongo_uri())
    try:
        for name in client.list_database_names():
            if name not in ("admin", "config", "local"):
                client.drop_database(name)
    finally:
        client.close()


@contextmanager
def _exclusive(kind: str, uri: str) -> Iterator[None]:
    """One test at a time on an external server shared by every worker."""
    key = hashlib.sha256(uri.encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"ssc-test-{kind}-{key}.lock"
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(autouse=True)
def _real_servers(request: pytest.FixtureRequest) -> Iterator[None]:
    """Marked tests get their server up and empty (and, when shared, to themselves)."""
    kinds = [k for k in ("neo4j", "mongo") if request.node.get_closest_marker(k)]
    private = request.node.get_closest_marker("neo4j")
    if private is not None and private.kwargs.get("private"):
        kinds.remove("neo4j")  # the test starts its own (private_neo4j)
    if not kinds:
        yield
        return
    with _holding(kinds):
        yield


@contextmanager
def _holding(kinds: list[str]) -> Iterator[None]:
    if not kinds:
        yield
        return
    kind, rest = kinds[0], kinds[1:]
    if kind == "neo4j":
        target = neo4j_target()
        with _exclusive("neo4j", target.uri) if target.shared else _nothing():
            wipe_neo4j()
            with _holding(rest):
                yield
    else:
        uri = mongo_uri()
        with _exclusive("mongo", uri) if os.environ.get("SSC_TEST_MONGO_URI") else _nothing():
            wipe_mongo()
            with _holding(rest):
                yield


@contextmanager
def _nothing() -> Iterator[None]:
    yield
