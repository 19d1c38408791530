"""`ssc graph migrate` on a graph the old SecureChain pipeline wrote into the real Neo4j."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import neo4j
import pytest

from ssc_cli.graph.neo4j import Neo4jStore
from ssc_cli.models import Ecosystem
from tests import old_pipeline as old
from tests.conftest import Ssc, without_run_record
from tests.fakeregistry import pypi
from tests.fakeregistry.server import FakeRegistry
from tests.real_servers import neo4j_target
from tests.test_real_servers import neo4j_env


@pytest.fixture
def driver() -> Iterator[neo4j.Driver]:
    target = neo4j_target()
    with neo4j.GraphDatabase.driver(target.uri, auth=(target.user, target.password)) as drv:
        yield drv


def _package(name: str, vendor: str = "n/a", repo: str = "n/a", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "vendor": vendor,
        "repository_url": repo,
        "moment": datetime(2025, 11, 2, 10, 0, 0),
        "import_names": [name.lower().replace("-", "_")],
        **extra,
    }


def _versions(*names: str, vulns: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
    vulns = vulns or {}
    return [
        {
            "name": name,
            "serial_number": i,
            "mean": 7.5 if vulns.get(name) else 0.0,
            "weighted_mean": 7.5 if vulns.get(name) else 0.0,
            "vulnerabilities": vulns.get(name, []),
            "release_date": f"2024-0{1 + i}-01T00:00:00Z",
        }
        for i, name in enumerate(names)
    ]


def _id(versions: list[dict[str, Any]], name: str) -> str:
    return next(str(v["id"]) for v in versions if v["name"] == name)


def replay_old_pipeline(driver: neo4j.Driver) -> str:
    """What the old pipeline (and depex) write, duplicates included; returns the requirement file's id."""
    # The PyPI ingestion asset keeps the display case: "Django" (§6-13).
    django = old.create_package_and_versions(
        driver,
        "PyPIPackage",
        _package("Django", "django", "https://github.com/django/django"),
        _versions("4.2.0", "5.0.0", vulns={"4.2.0": ["PYSEC-2023-1"]}),
    )
    # Its dependencies, lowercased by the extractor, each hanging off a Django version; the
    # REQUIRE edge carries the parent *package* name (§1.4).
    old.create_package_and_versions(
        driver,
        "PyPIPackage",
        _package("asgiref"),
        _versions("3.7.0", "3.8.0"),
        parent_id=_id(django, "5.0.0"),
        constraints=">=3.7.0,<4",
        parent_version_name="Django",
    )
    old.create_package_and_versions(
        driver,
        "PyPIPackage",
        _package("sqlparse"),
        _versions("0.4.4", "0.5.0"),
        parent_id=_id(django, "5.0.0"),
        constraints=">=0.3.1",
        parent_version_name="Django",
    )
    asgiref_node = old.read_package_by_name(driver, "PyPIPackage", "asgiref")
    assert asgiref_node is not None
    old.relate_packages(
        driver,
        "PyPIPackage",
        [
            {
                "parent_id": _id(django, "4.2.0"),
                "id": asgiref_node["id"],
                "constraints": ">=3.6.0,<4",
                "parent_version_name": "Django",
            }
        ],
    )
    # djangorestframework requires "django" (lowercased): MERGE finds no "Django", so a twin is
    # born with its own versions; a re-queued message then CREATEs the same edge again (§6-2,3).
    drf = old.create_package_and_versions(
        driver,
        "PyPIPackage",
        _package("djangorestframework", "encode"),
        _versions("3.15.0"),
    )
    twin = old.create_package_and_versions(
        driver,
        "PyPIPackage",
        _package("django"),
        _versions("4.2.0", "5.0.0", "5.1.0", vulns={"4.2.0": ["PYSEC-2023-1", "GHSA-2024-2"]}),
        parent_id=_id(drf, "3.15.0"),
        constraints=">=4.2",
        parent_version_name="djangorestframework",
    )
    twin_node = old.read_package_by_name(driver, "PyPIPackage", "django")
    assert twin_node is not None and twin
    old.relate_packages(
        driver,
        "PyPIPackage",
        [
            {
                "parent_id": _id(drf, "3.15.0"),
                "id": twin_node["id"],
                "constraints": ">=4.2",
                "parent_version_name": "djangorestframework",
            }
        ],
    )
    # The updater re-creates asgiref's versions (count-based detection, §6-2,7).
    old.create_versions(driver, "PyPIPackage", "asgiref", _versions("3.7.0", "3.8.0"))
    # A PyPI root in display case with no twin: only its name changes.
    old.create_package_and_versions(
        driver, "PyPIPackage", _package("PyYAML", "yaml"), _versions("6.0.1")
    )
    # RubyGems: one version entry per platform (§6-18).
    old.create_package_and_versions(
        driver,
        "RubyGemsPackage",
        _package("nokogiri", "sparklemotion"),
        _versions("1.16.0", "1.16.0", "1.16.0"),
    )
    # NuGet: a Redis root keeps its case, the dependency is lowercased (§6-16).
    old.create_package_and_versions(
        driver,
        "NuGetPackage",
        _package("Newtonsoft.Json", "JamesNK"),
        _versions("13.0.1"),
    )
    serilog = old.create_package_and_versions(
        driver,
        "NuGetPackage",
        _package("serilog"),
        _versions("3.1.1"),
    )
    old.create_package_and_versions(
        driver,
        "NuGetPackage",
        _package("newtonsoft.json"),
        _versions("13.0.1", "13.0.3"),
        parent_id=_id(serilog, "3.1.1"),
        constraints="[13.0.1, )",
        parent_version_name="serilog",
    )
    old.create_package_and_versions(
        driver,
        "MavenPackage",
        _package("org.slf4j:slf4j-api", "org", group_id="org.slf4j", artifact_id="slf4j-api"),
        [{**v, "release_date": 1_700_000_000_000} for v in _versions("2.0.9")],
    )
    old.create_package_and_versions(
        driver,
        "NPMPackage",
        _package("@types/node", "@types"),
        _versions("20.11.0"),
    )
    # depex: a requirement file requiring django twice (two scans), no parent_version_name.
    rf = driver.execute_query(
        "CREATE (rf:RequirementFile {name: 'requirements.txt', manager: 'PyPI'}) "
        "RETURN elementId(rf) AS id"
    ).records[0]["id"]
    for _ in range(2):
        old.create_package_and_versions(
            driver, "PyPIPackage", _package("django"), [], parent_id=rf, constraints=">=4.2"
        )
    return str(rf)


# -- depex's and vexgen's reads (securechain-compat.md §7), names lowercased as they do ----------

PROBES = [
    ("PyPIPackage", "django", "4.2.0"),
    ("PyPIPackage", "asgiref", "3.7.0"),
    ("PyPIPackage", "sqlparse", "0.5.0"),
    ("PyPIPackage", "djangorestframework", "3.15.0"),
    ("RubyGemsPackage", "nokogiri", "1.16.0"),
    ("NuGetPackage", "newtonsoft.json", "13.0.1"),
    ("NuGetPackage", "serilog", "3.1.1"),
    ("MavenPackage", "org.slf4j:slf4j-api", "2.0.9"),
    ("NPMPackage", "@types/node", "20.11.0"),
]
# Probes whose package had a twin (other spelling), or whose version twins differ (nokogiri's
# platforms: each entry its own serial number and date; one is kept).
TWINS = {"django", "newtonsoft.json", "nokogiri"}
_SSC_ONLY = {"purl", "status", "id"}  # properties migrate adds (and elementIds, which change)


def _norm(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _norm(v) for k, v in sorted(value.items()) if k not in _SSC_ONLY}
    if isinstance(value, list):
        # Set semantics: the old pipeline's duplicates repeat the same data, migrate keeps one.
        unique = {json.dumps(_norm(v), sort_keys=True, default=str): _norm(v) for v in value}
        return [unique[k] for k in sorted(unique)]
    if hasattr(value, "iso_format"):
        return value.iso_format()
    return value


def depex_reads(driver: neo4j.Driver, rf: str) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}

    def q(key: str, query: str, **params: Any) -> None:
        out[key] = _norm([dict(r) for r in driver.execute_query(query, params).records])

    for nt, name, version in PROBES:
        q(
            f"status:{name}",
            f"MATCH(p:{nt}{{name:$package_name}})-[:HAVE]->(v:Version) "
            # depex writes RETURN p{.*, versions: collect(v{.*})}, which Neo4j 5.26
            # refuses (an aggregate beside its implicit grouping key p): collected first here.
            "WITH p, collect(v{.*}) AS versions RETURN p{.*, versions: versions} AS package",
            package_name=name,
        )
        q(
            f"version:{name}",
            f"MATCH(p:{nt}{{name:$package_name}})-[:HAVE]->(v:Version{{name:$version_name}}) "
            "RETURN v{id: elementid(v), .*} AS version",
            package_name=name,
            version_name=version,
        )
        q(
            f"serials:{name}",
            f"MATCH (v:Version)<-[:HAVE]-(parent:{nt}) WHERE v.name = $v AND parent.name = $n "
            "RETURN v.serial_number AS serial_number",
            v=version,
            n=name,
        )
        q(f"exists:{name}", f"RETURN EXISTS{{MATCH (p:{nt}{{name:$n}})}} AS e", n=name)
        q(
            f"vexgen-imports:{name}",
            f"MATCH(p:{nt}{{name:$name}}) "
            "RETURN coalesce(p.import_names, []) + [p.name] + [coalesce(p.group_id,'')] AS names",
            name=name,
        )
        q(
            f"vexgen-vulns:{name}",
            f"MATCH(p:{nt}{{name:$name}})-[:HAVE]->(v:Version) WHERE v.name = $version "
            "RETURN v.vulnerabilities AS vulnerabilities",
            name=name,
            version=version,
        )
    q(
        "requirement-file",
        "MATCH (rf:RequirementFile)-[r]->(package) WHERE elementid(rf) = $id "
        "RETURN package.name AS name, r.constraints AS constraints",
        id=rf,
    )
    return out


def _expansions(driver: neo4j.Driver) -> dict[str, list[dict[str, Any]]]:
    """depex's purl-keyed expansion reads, which only work once purls exist."""
    by_version = driver.execute_query(
        "MATCH (:Version{purl:$purl})-[r:REQUIRE]->(dep) RETURN dep.purl AS purl, dep.name AS name, "
        "dep.vendor AS vendor, dep.repository_url AS repository_url, labels(dep)[0] AS type, "
        "r.constraints AS constraints, r.parent_version_name AS parent_version_name",
        purl="pkg:pypi/django@5.0.0",
    ).records
    by_package = driver.execute_query(
        "MATCH (p:PyPIPackage{purl:$purl})-[:HAVE]->(v) RETURN v.name AS name, "
        "v.release_date AS release_date, v.serial_number AS serial_number, "
        "v.vulnerabilities AS vulnerabilities, v.purl AS purl",
        purl="pkg:pypi/django",
    ).records
    return {
        "by_version": [dict(r) for r in by_version],
        "by_package": [dict(r) for r in by_package],
    }


def _store() -> Neo4jStore:
    target = neo4j_target()
    return Neo4jStore(target.uri, target.user, target.password, database=target.database)


def _contract_checks() -> dict[str, int]:
    store = _store()
    try:
        out = {}
        for eco in Ecosystem:
            out[f"{eco.value}:twins"] = store.duplicate_purls(eco)
            out[f"{eco.value}:orphans"] = store.orphan_versions(eco)
            out[f"{eco.value}:dangling"] = store.dangling_edges(eco)
        return out
    finally:
        store.close()


def _unkeyed(driver: neo4j.Driver) -> int:
    return int(
        driver.execute_query(
            "MATCH (n) WHERE (n:Version OR n:PyPIPackage OR n:NPMPackage OR n:MavenPackage "
            "OR n:NuGetPackage OR n:CargoPackage OR n:RubyGemsPackage) AND n.purl IS NULL "
            "RETURN count(n) AS n"
        ).records[0]["n"]
    )


def _shape(driver: neo4j.Driver) -> tuple[int, int]:
    row = driver.execute_query(
        "MATCH (n) WITH count(n) AS nodes MATCH ()-[r]->() RETURN nodes, count(r) AS rels"
    ).records[0]
    return int(row["nodes"]), int(row["rels"])


def _pypi_registry() -> pypi.PyPIApp:
    app = pypi.PyPIApp()
    app.add("Django", repository="https://github.com/django/django")
    for v in ("4.2.0", "5.0.0", "5.1.0"):
        app.release(
            "Django",
            v,
            requires_dist=["asgiref>=3.7.0,<4", "sqlparse>=0.3.1"],
            upload_time="2024-01-01T00:00:00.000000Z",
        )
    for name, versions in (("asgiref", ["3.7.0", "3.8.0"]), ("sqlparse", ["0.4.4", "0.5.0"])):
        app.add(name, repository=f"https://github.com/django/{name}")
        for v in versions:
            app.release(name, v, upload_time="2024-01-01T00:00:00.000000Z")
    app.add("djangorestframework", repository="https://github.com/encode/django-rest-framework")
    app.release(
        "djangorestframework",
        "3.15.0",
        requires_dist=["django>=4.2"],
        upload_time="2024-01-01T00:00:00.000000Z",
    )
    return app


@pytest.mark.neo4j
def test_migrate_the_old_pipelines_graph(
    ssc: Ssc, fake_registry: FakeRegistry, driver: neo4j.Driver
) -> None:
    rf = replay_old_pipeline(driver)
    real = Ssc(ssc.home, {**ssc.env, **neo4j_env()})
    before = depex_reads(driver, rf)
    assert len(before["status:django"]) == 1  # the lowercase twin only
    nodes, rels = _shape(driver)

    # Writing beside the old data is refused, and so is reading it: nothing changes.
    fake_registry.mount("pypi", _pypi_registry())
    refused = real("update", "pypi", expect=2)
    assert "ssc graph migrate" in refused.stderr
    refused = real("ingest", "pypi", expect=2)
    assert "ssc graph migrate" in refused.stderr
    assert _shape(driver) == (nodes, rels)

    counted = real.json("graph", "migrate", "--dry-run")
    assert _shape(driver) == (nodes, rels)  # a dry run writes nothing
    assert counted["dry_run"] is True and counted["marker_written"] is False

    done = real.json("graph", "migrate")
    assert done["marker_written"] is True
    # Django + django, Newtonsoft.Json + newtonsoft.json
    assert done["package_twins_merged"] == 2
    # PyYAML -> pyyaml; the twins spelled "Django" / "Newtonsoft.Json" merged into the lowercase ones
    assert done["names_normalised"] == 1
    # asgiref x2 (updater), nokogiri x2 (platforms), Django's 4.2.0 and 5.0.0, NuGet 13.0.1
    assert done["version_twins_merged"] == 7
    # drf -> django twice, requirements.txt -> django twice
    assert done["duplicate_edges_removed"] == 2
    for key in (
        "packages_keyed",
        "package_twins_merged",
        "names_normalised",
        "versions_keyed",
        "version_twins_merged",
    ):
        assert counted[key] == done[key], key
    assert _unkeyed(driver) == 0
    assert all(n == 0 for n in _contract_checks().values()), _contract_checks()

    after = depex_reads(driver, rf)
    for key, rows in before.items():
        name = key.partition(":")[2]
        if name in TWINS or key == "requirement-file":
            continue
        assert after[key] == rows, key  # the same data, minus the duplicates' repeats
    # Twins: one package, every version once, the union of the twins' vulnerabilities.
    (package,) = [row["package"] for row in after["status:django"]]
    assert sorted(v["name"] for v in package["versions"]) == ["4.2.0", "5.0.0", "5.1.0"]
    (vulns,) = after["vexgen-vulns:django"]
    assert vulns["vulnerabilities"] == ["GHSA-2024-2", "PYSEC-2023-1"]
    (gem,) = [row["package"] for row in after["status:nokogiri"]]
    assert [v["name"] for v in gem["versions"]] == ["1.16.0"]
    assert after["requirement-file"] == [{"constraints": ">=4.2", "name": "django"}]
    expansions = _expansions(driver)
    assert {
        (e["name"], e["constraints"], e["parent_version_name"]) for e in expansions["by_version"]
    } == {("asgiref", ">=3.7.0,<4", "Django"), ("sqlparse", ">=0.3.1", "Django")}
    assert sorted(v["purl"] for v in expansions["by_package"]) == [
        "pkg:pypi/django@4.2.0",
        "pkg:pypi/django@5.0.0",
        "pkg:pypi/django@5.1.0",
    ]

    # A second migrate finds nothing to do.
    shape = _shape(driver)
    again = real.json("graph", "migrate")
    assert {
        k: v
        for k, v in without_run_record(again).items()
        if isinstance(v, int) and not isinstance(v, bool) and k != "schema_version"
    } == dict.fromkeys(
        (
            "packages_keyed",
            "package_twins_merged",
            "names_normalised",
            "versions_keyed",
            "version_twins_merged",
            "edges_moved",
            "duplicate_edges_removed",
            "unkeyable_packages",
            "unkeyable_versions",
        ),
        0,
    )
    assert _shape(driver) == shape

    # ssc update on the migrated graph writes onto the same nodes: no twin.
    real("update", "pypi")
    assert all(n == 0 for n in _contract_checks().values()), _contract_checks()
    assert _unkeyed(driver) == 0
    counts = driver.execute_query(
        "MATCH (p:PyPIPackage) WITH p.name AS name, count(*) AS c RETURN collect([name, c]) AS all"
    ).records[0]["all"]
    assert sorted(counts) == [
        ["asgiref", 1],
        ["django", 1],
        ["djangorestframework", 1],
        ["pyyaml", 1],
        ["sqlparse", 1],
    ]
    versions = driver.execute_query(
        "MATCH (:PyPIPackage {name: 'django'})-[:HAVE]->(v) RETURN v.name AS name"
    ).records
    assert sorted(r["name"] for r in versions) == ["4.2.0", "5.0.0", "5.1.0"]


@pytest.mark.neo4j
def test_an_empty_neo4j_is_initialised_and_needs_no_migration(
    ssc: Ssc, driver: neo4j.Driver
) -> None:
    real = Ssc(ssc.home, {**ssc.env, **neo4j_env()})
    real("graph", "export")
    marker = driver.execute_query("MATCH (m:SscMeta {key: 'schema'}) RETURN m.version AS v").records
    assert [r["v"] for r in marker] == [1]
    result = real.json("graph", "migrate")
    assert result["package_twins_merged"] == 0 and result["packages_keyed"] == 0


def test_migrate_on_sqlite_has_nothing_to_do(ssc: Ssc) -> None:
    result = ssc("graph", "migrate")
    assert "nothing to migrate" in result.stderr
    assert ssc.json("graph", "migrate")["migrated"] is False
