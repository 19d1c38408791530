"""The Neo4j server SIGKILLed in the middle of an ingest: exit 5 naming the graph, no cursor past
what was committed, and a rerun on the restarted server gives an undisturbed run's export.

The server is the test's own (tests/real_servers.py private_neo4j), its store in a directory of
the test, so a second server starts on what the first one committed before it died.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import neo4j
import pytest

from ssc_cli.graph.neo4j import Neo4jStore
from ssc_cli.models import Ecosystem
from tests.conftest import Ssc
from tests.fakeregistry.npm import NpmApp
from tests.fakeregistry.server import FakeRegistry
from tests.real_servers import private_neo4j
from tests.reliability import crash

pytestmark = [pytest.mark.neo4j(private=True), pytest.mark.slow, pytest.mark.timeout(900)]

N = 60
# npm: its ingest saves a change-feed cursor when it completes, so there is a cursor to get wrong.
# Small batches: a dozen write transactions, the kill lands between and inside them.
RETRY = 5  # SSC_GRAPH_RETRY_TIME: how long the driver retries a transaction (default 30 s)
ENV = {"SSC_WRITE_BATCH_SIZE": "4", "SSC_LOCK_TTL": "5", "SSC_GRAPH_RETRY_TIME": str(RETRY)}
# The killed run cannot release its job lease; a short one has expired by the rerun, as the
# default (120 s) would have by the next cron run.
KILL_AFTER = 8  # extracted packages in the graph: the first batches are committed
# A run whose server died ends within one or two retry windows (a call already retrying when
# another fails keeps its own). Before each call checked the server first, every write, run
# record and lease release a dying run still attempts waited a window of its own: five or more.
STARTS = 120.0  # until the first batches are in the graph
ENDS = 3.5 * RETRY  # from the kill to exit 5: 7.5 s over two windows, 7.5 s under five


def _sorted(export: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(item, sort_keys=True) for item in export)


def _extracted(uri: str) -> int:
    with neo4j.GraphDatabase.driver(
        uri, auth=("neo4j", ""), notifications_min_severity="OFF"
    ) as driver:
        records = driver.execute_query(
            "MATCH (p:NPMPackage {status: 'extracted'}) RETURN count(p) AS n"
        ).records
    return int(records[0]["n"])


def _cursor(uri: str) -> dict[str, Any] | None:
    store = Neo4jStore(uri, "neo4j", "")
    try:
        return store.cursor(Ecosystem.NPM, "update")
    finally:
        store.close()


def test_neo4j_killed_in_the_middle_of_an_ingest(
    ssc: Ssc, fake_registry: FakeRegistry, tmp_path: Path
) -> None:
    NpmApp.synthetic(N, versions=3, deps=2).mount(fake_registry)
    ssc("ingest", "npm", env=ENV)  # the undisturbed run, on the embedded store
    reference = ssc.export()
    reference_cursor = crash.cursor(ssc, "npm")
    assert reference_cursor is not None

    with private_neo4j(tmp_path / "neo4j") as start:
        server = start()
        graph = Ssc(ssc.home, {**ssc.env, "SSC_DATA_DIR": str(tmp_path / "data-neo4j")})
        env = {**ENV, "SSC_GRAPH_URI": server.uri}
        fake_registry.latency = 0.05  # the ingest lasts several seconds
        run = graph.popen("ingest", "npm", env=env)
        started = time.monotonic()
        while _extracted(server.uri) < KILL_AFTER:
            if run.poll() is not None or time.monotonic() - started > STARTS:
                run.kill()
                raise AssertionError(f"no kill moment: {run.communicate()}")
            time.sleep(0.05)
        server.kill()
        killed_at = time.monotonic()
        out, err = run.communicate(timeout=600)
        ended_after = time.monotonic() - killed_at
        assert run.returncode == 5, out + err
        assert "Traceback" not in err, err
        assert f"Neo4j at {server.uri}" in err[err.rindex("ssc: error:") :], err
        assert ended_after < ENDS, f"exit 5 only {ended_after:.0f} s after the kill"

        server = start()  # the same store, recovered from what was committed
        env["SSC_GRAPH_URI"] = server.uri
        assert _cursor(server.uri) is None  # the ingest did not finish: no cursor saved
        partial = graph.export(env=env)
        extracted = [i for i in partial if i["type"] == "package" and i["status"] == "extracted"]
        assert KILL_AFTER <= len(extracted) < N
        assert crash.whole(partial, reference) == []  # what was committed is whole

        fake_registry.latency = 0.0
        graph("ingest", "npm", env=env)
        assert _sorted(graph.export(env=env)) == _sorted(reference)
        assert _cursor(server.uri) == reference_cursor
