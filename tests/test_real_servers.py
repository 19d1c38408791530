"""The real command against the real servers: every ecosystem into Neo4j 5, doctor on both."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Ssc
from tests.fakeregistry import cargo, nuget, pypi, rubygems
from tests.fakeregistry.maven import MavenApp
from tests.fakeregistry.npm import NpmApp
from tests.fakeregistry.server import FakeRegistry
from tests.real_servers import mongo_uri, neo4j_target

ECOSYSTEMS = ["pypi", "npm", "maven", "nuget", "cargo", "rubygems"]


def neo4j_env() -> dict[str, str]:
    """The ssc settings that point a run at the test Neo4j."""
    target = neo4j_target()
    env = {"SSC_GRAPH_URI": target.uri, "SSC_GRAPH_USER": target.user}
    env["SSC_GRAPH_PASSWORD"] = target.password
    if target.database:
        env["SSC_GRAPH_DATABASE"] = target.database
    return env


def _mount(fake_registry: FakeRegistry, ecosystem: str) -> None:
    if ecosystem == "pypi":
        fake_registry.mount("pypi", pypi.synthetic(12, versions=3, deps=2))
    elif ecosystem == "npm":
        NpmApp.synthetic(12).mount(fake_registry)
    elif ecosystem == "maven":
        fake_registry.mount("maven", MavenApp.synthetic(12))
    elif ecosystem == "nuget":
        fake_registry.mount("nuget", nuget.synthetic(12))
    elif ecosystem == "cargo":
        cargo.CargoApp.synthetic(12).mount_on(fake_registry)
    else:
        fake_registry.mount("rubygems", rubygems.synthetic(12))


def _sorted(export: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(item, sort_keys=True) for item in export)


@pytest.mark.neo4j
@pytest.mark.slow
@pytest.mark.parametrize("ecosystem", ECOSYSTEMS)
def test_each_ecosystem_writes_the_same_graph_to_neo4j_as_to_sqlite(
    ecosystem: str, ssc: Ssc, fake_registry: FakeRegistry
) -> None:
    _mount(fake_registry, ecosystem)
    real = Ssc(ssc.home, {**ssc.env, **neo4j_env(), "SSC_DATA_DIR": str(ssc.home / "data-neo4j")})
    expected = ssc.json("ingest", ecosystem)
    result = real("ingest", ecosystem, "--json")
    summary = json.loads(result.stdout)
    assert "neo4j.notifications" not in result.stderr  # the server's hints are not for users
    assert summary["new_packages_ingested"] == expected["new_packages_ingested"] == 12
    assert summary["errors"] == 0
    export = real.export()
    assert {item["type"] for item in export} >= {"package", "version", "requires"}
    assert _sorted(export) == _sorted(ssc.export())
    # A second pass finds nothing new and leaves the graph as it was.
    again = real.json("ingest", ecosystem)
    assert again["new_packages_ingested"] == 0
    assert _sorted(real.export()) == _sorted(export)


@pytest.mark.neo4j
@pytest.mark.mongo
def test_doctor_reaches_the_real_neo4j_and_mongodb(ssc: Ssc, fake_registry: FakeRegistry) -> None:
    _mount(fake_registry, "pypi")
    checks = ssc.json(
        "doctor", "--ecosystem", "pypi", env={**neo4j_env(), "SSC_VULN_DB_URI": mongo_uri()}
    )
    by_name = {check["check"]: check for check in checks}
    assert by_name["mongodb"]["ok"] is True, checks
    graph = [check for name, check in by_name.items() if name.startswith("graph")]
    assert graph and all(check["ok"] for check in graph), checks
