"""One contract suite for every GraphStore: SQLite, Neo4j through an embedded Cypher engine, real Neo4j.

The real server is the test process's own Neo4j 5 (or SSC_TEST_NEO4J_URI); see tests/real_servers.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ssc_cli.graph import neo4j as neo4j_store
from ssc_cli.graph.interface import GraphStore
from ssc_cli.models import Ecosystem
from tests.graph_stores import (
    CARGO,
    KINDS,
    MAVEN,
    NEO4J,
    NPM,
    PYPI,
    of_type,
    open_store,
    pkg,
    query,
    req,
    run_sql,
    ver,
)

RUBYGEMS = Ecosystem.RUBYGEMS


@pytest.fixture(params=KINDS)
def store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[GraphStore]:
    made = open_store(request.param, tmp_path, monkeypatch)
    yield made
    made.close()


# -- the contract ---------------------------------------------------------------------------


def test_export_shape_of_one_package(store: GraphStore) -> None:
    record = pkg(
        "requests",
        [
            ver(
                "2.0.0",
                [req("urllib3", ">=1.21.1, <3", raw=">=1.21.1,<3")],
                date="2023-05-22T15:12:44Z",
            ),
            ver(
                "1.0.0", [req("charset-normalizer", marker='python_version >= "3.7"')], yanked=True
            ),
        ],
        repository_url="https://github.com/psf/requests",
        vendor="psf",
        import_names=["requests", "requests", "aaa"],
        token="42",
    )
    stats = store.write_packages([record])
    assert (stats.packages, stats.new_versions, stats.removed_versions) == (1, 2, 0)
    assert list(store.export()) == [
        {"type": "package", "ecosystem": "pypi", "name": "charset-normalizer",
         "purl": "pkg:pypi/charset-normalizer", "vendor": "n/a", "repository_url": "n/a",
         "import_names": [], "status": "pending"},
        {"type": "package", "ecosystem": "pypi", "name": "requests", "purl": "pkg:pypi/requests",
         "vendor": "psf", "repository_url": "https://github.com/psf/requests",
         "import_names": ["aaa", "requests"], "status": "extracted"},
        {"type": "package", "ecosystem": "pypi", "name": "urllib3", "purl": "pkg:pypi/urllib3",
         "vendor": "n/a", "repository_url": "n/a", "import_names": [], "status": "pending"},
        {"type": "version", "purl": "pkg:pypi/requests@1.0.0", "package": "pkg:pypi/requests",
         "name": "1.0.0", "serial_number": 0, "release_date": "2024-01-01T00:00:1.0.0",
         "yanked": True, "deprecated": None, "vulnerabilities": [], "mean": 0.0, "weighted_mean": 0.0},
        {"type": "version", "purl": "pkg:pypi/requests@2.0.0", "package": "pkg:pypi/requests",
         "name": "2.0.0", "serial_number": 1, "release_date": "2023-05-22T15:12:44Z",
         "yanked": False, "deprecated": None, "vulnerabilities": [], "mean": 0.0, "weighted_mean": 0.0},
        {"type": "requires", "from": "pkg:pypi/requests@1.0.0", "to": "pkg:pypi/charset-normalizer",
         "constraints": "any", "raw_constraints": "", "marker": 'python_version >= "3.7"',
         "parent_version_name": "pkg:pypi/requests", "kind": "runtime", "optional": False, "target": None},
        {"type": "requires", "from": "pkg:pypi/requests@2.0.0", "to": "pkg:pypi/urllib3",
         "constraints": ">=1.21.1, <3", "raw_constraints": ">=1.21.1,<3", "marker": None,
         "parent_version_name": "pkg:pypi/requests", "kind": "runtime", "optional": False, "target": None},
    ]  # fmt: skip


def test_rewrite_is_idempotent(store: GraphStore) -> None:
    records = [
        pkg("a", [ver("1.0", [req("b", ">=1")]), ver("2.0", [req("b", ">=2"), req("c")])]),
        pkg("b", [ver("1.0"), ver("2.0", [req("a", optional=True, kind="runtime")])]),
    ]
    store.write_packages(records)
    first = list(store.export())
    again = store.write_packages(records)
    assert (again.packages, again.new_versions, again.removed_versions) == (2, 0, 0)
    assert list(store.export()) == first
    assert len(of_type(store, "requires")) == 4


def test_pending_target_is_promoted_when_extracted(store: GraphStore) -> None:
    store.write_packages([pkg("app", [ver("1.0", [req("lib")])])])
    assert store.statuses(PYPI, ["app", "lib", "nope"]) == {"app": "extracted", "lib": "pending"}
    assert store.pending(PYPI) == ["lib"]
    assert store.count(PYPI, "pending") == 1
    store.write_packages([pkg("lib", [ver("0.1")], vendor="someone", token="7")])
    assert store.pending(PYPI) == []
    assert store.count(PYPI, "extracted") == 2
    lib = next(p for p in of_type(store, "package") if p["name"] == "lib")
    assert (lib["status"], lib["vendor"]) == ("extracted", "someone")
    # The edge written while lib was pending still points at the promoted node.
    assert [(e["from"], e["to"]) for e in of_type(store, "requires")] == [
        ("pkg:pypi/app@1.0", "pkg:pypi/lib")
    ]


def test_rewrite_clears_fields_gone_from_the_record_and_keeps_attribution(
    store: GraphStore,
) -> None:
    """Issue 13: rows leave null fields out; a rewrite still clears what the record no longer has."""
    first = ver(
        "1.0", [req("b", target="linux")], deprecated="use 2.0",
        vulnerabilities=["GHSA-x"], mean=7.5, weighted_mean=7.5, unscored_vulnerabilities=0,
    )  # fmt: skip
    store.write_packages([pkg("a", [first, ver("2.0")], repository_url="https://github.com/o/a")])
    # Read again without attribution, deprecation or the requirement's target.
    store.write_packages([pkg("a", [ver("1.0", [req("b")]), ver("2.0")])])
    [old] = [v for v in of_type(store, "version") if v["purl"] == "pkg:pypi/a@1.0"]
    assert old["deprecated"] is None
    assert (old["vulnerabilities"], old["mean"], old["unscored_vulnerabilities"]) == (
        ["GHSA-x"], 7.5, 0
    )  # fmt: skip
    new = [v for v in of_type(store, "version") if v["purl"] == "pkg:pypi/a@2.0"]
    assert (new[0]["vulnerabilities"], new[0]["mean"], new[0]["weighted_mean"]) == ([], 0.0, 0.0)
    [edge] = of_type(store, "requires")
    assert edge["target"] is None and edge["parent_version_name"] == "pkg:pypi/a"
    [package] = [p for p in of_type(store, "package") if p["purl"] == "pkg:pypi/a"]
    assert package["repository_url"] == "n/a"


def test_partial_write_renumbers_and_keeps_other_versions(store: GraphStore) -> None:
    store.write_packages([pkg("p", [ver("1.0", [req("x")]), ver("2.0", [req("y")])])])
    stats = store.write_packages([pkg("p", [ver("1.5", [req("z")])], complete=False)])
    assert (stats.new_versions, stats.removed_versions) == (1, 0)
    versions = {v["name"]: v for v in of_type(store, "version")}
    assert {n: v["serial_number"] for n, v in versions.items()} == {"1.0": 0, "1.5": 1, "2.0": 2}
    assert versions["2.0"]["release_date"] == "2024-01-01T00:00:2.0"
    assert sorted(e["to"] for e in of_type(store, "requires")) == [
        "pkg:pypi/x", "pkg:pypi/y", "pkg:pypi/z"
    ]  # fmt: skip


def test_complete_write_removes_vanished_versions_and_their_edges(store: GraphStore) -> None:
    store.write_packages([pkg("p", [ver("1.0", [req("x")]), ver("2.0", [req("y")]), ver("3.0")])])
    stats = store.write_packages([pkg("p", [ver("1.0", None), ver("3.0", None)])])
    assert (stats.new_versions, stats.removed_versions) == (0, 1)
    assert [v["name"] for v in of_type(store, "version")] == ["1.0", "3.0"]
    assert [v["serial_number"] for v in of_type(store, "version")] == [0, 1]
    # requirements=None left 1.0's edge alone; 2.0's edge went with it; y stays a package.
    assert [(e["from"], e["to"]) for e in of_type(store, "requires")] == [
        ("pkg:pypi/p@1.0", "pkg:pypi/x")
    ]
    assert store.statuses(PYPI, ["y"]) == {"y": "pending"}
    assert store.known(PYPI, ["p"])["p"].versions == frozenset({"1.0", "3.0"})


def test_edges_of_a_relisted_version_are_replaced_exactly(store: GraphStore) -> None:
    store.write_packages(
        [
            pkg(
                "p",
                [ver("1.0", [req("b", ">=1"), req("c"), req("b", "<5", marker="os_name == 'nt'")])],
            )
        ]
    )
    assert len(of_type(store, "requires")) == 3
    store.write_packages(
        [pkg("p", [ver("1.0", [req("b", ">=2"), req("d", kind="runtime", target="linux")])])]
    )
    edges = [
        (e["to"], e["constraints"], e["marker"], e["target"]) for e in of_type(store, "requires")
    ]
    assert edges == [("pkg:pypi/b", ">=2", None, None), ("pkg:pypi/d", "any", None, "linux")]
    store.write_packages([pkg("p", [ver("1.0", [])])])
    assert of_type(store, "requires") == []


def test_duplicate_requirements_collapse_to_one_edge(store: GraphStore) -> None:
    store.write_packages([pkg("p", [ver("1.0", [req("b", ">=1"), req("b", ">=2")])])])
    assert [e["constraints"] for e in of_type(store, "requires")] == [">=2"]


def test_unparseable_version_gets_minus_one_and_keeps_its_date(store: GraphStore) -> None:
    store.write_packages(
        [pkg("p", [ver("2.0"), ver("not a version!", date="2020-02-02"), ver("1.0")])]
    )
    versions = {v["name"]: v for v in of_type(store, "version")}
    assert versions["not a version!"]["serial_number"] == -1
    assert versions["not a version!"]["release_date"] == "2020-02-02"
    assert versions["not a version!"]["purl"] == "pkg:pypi/p@not%20a%20version%21"
    assert (versions["1.0"]["serial_number"], versions["2.0"]["serial_number"]) == (0, 1)
    shown = store.show(PYPI, "p")
    assert shown is not None
    assert [v["name"] for v in shown["versions"]] == ["not a version!", "1.0", "2.0"]


def test_npm_scoped_names(store: GraphStore) -> None:
    store.write_packages(
        [pkg("@scope/name", [ver("1.0.0", [req("@other/dep", "^1.0.0")])], eco=NPM)]
    )
    packages = {p["name"]: p["purl"] for p in of_type(store, "package")}
    assert packages == {
        "@scope/name": "pkg:npm/%40scope/name",
        "@other/dep": "pkg:npm/%40other/dep",
    }
    [version] = of_type(store, "version")
    assert version["purl"] == "pkg:npm/%40scope/name@1.0.0"
    [edge] = of_type(store, "requires")
    assert (edge["to"], edge["parent_version_name"]) == (
        "pkg:npm/%40other/dep",
        "pkg:npm/%40scope/name",
    )
    shown = store.show(NPM, "@scope/name")
    assert shown is not None and shown["purl"] == "pkg:npm/%40scope/name"


def test_maven_coordinates(store: GraphStore) -> None:
    extra = {"group_id": "org.apache.commons", "artifact_id": "commons-lang3"}
    store.write_packages(
        [
            pkg(
                "org.apache.commons:commons-lang3",
                [ver("3.14.0", [req("junit:junit", "[4.0,)")])],
                eco=MAVEN,
                extra=extra,
            )
        ]
    )
    packages = {p["name"]: p for p in of_type(store, "package")}
    lang = packages["org.apache.commons:commons-lang3"]
    assert lang["purl"] == "pkg:maven/org.apache.commons/commons-lang3"
    assert (lang["group_id"], lang["artifact_id"]) == ("org.apache.commons", "commons-lang3")
    assert "group_id" not in packages["junit:junit"]  # pending targets have no coordinates yet
    assert packages["junit:junit"]["purl"] == "pkg:maven/junit/junit"


def test_marks(store: GraphStore) -> None:
    store.write_packages([pkg("done", [ver("1.0")])])
    store.mark(PYPI, ["new", "done"], "pending", "queued")
    assert store.statuses(PYPI, ["new", "done"]) == {"new": "pending", "done": "extracted"}
    store.mark(PYPI, ["new"], "missing", "404")
    store.mark(PYPI, ["done"], "missing", "gone from the registry")
    assert store.statuses(PYPI, ["new", "done"]) == {"new": "missing", "done": "missing"}
    shown = store.show(PYPI, "done")
    assert shown is not None and shown["last_error"] == "gone from the registry"
    assert [v["name"] for v in shown["versions"]] == ["1.0"]  # versions stay
    store.mark(PYPI, ["new"], "pending")
    assert store.statuses(PYPI, ["new"]) == {"new": "pending"}
    store.mark(PYPI, [], "pending")
    assert store.count(PYPI, "missing") == 1
    new = next(p for p in of_type(store, "package") if p["name"] == "new")
    assert (new["vendor"], new["repository_url"], new["import_names"]) == ("n/a", "n/a", [])


def test_cursors(store: GraphStore) -> None:
    assert store.cursor(PYPI, "update") is None
    store.set_cursor(PYPI, "update", {"serial": 1, "names": ["a"]})
    store.set_cursor(PYPI, "update", {"serial": 2})
    store.set_cursor(NPM, "update", {"seq": "abc"})
    assert store.cursor(PYPI, "update") == {"serial": 2}
    assert store.cursor(NPM, "update") == {"seq": "abc"}
    assert store.cursor(NPM, "listing") is None


def test_runs_and_failures(store: GraphStore) -> None:
    store.write_packages([pkg("ok", [ver("1.0")])])
    first = store.start_run("ingest", PYPI)
    second = store.start_run("update", None)
    assert second > first > 0
    store.record_failures(
        first, PYPI, [("zeta", "HTTP 500"), ("alpha", "timeout"), ("ok", "malformed")]
    )
    store.record_failures(first, PYPI, [])
    store.finish_run(first, "partial", {"errors": 3})
    assert store.failures(first) == [
        ("pypi", "alpha", "timeout"), ("pypi", "ok", "malformed"), ("pypi", "zeta", "HTTP 500")
    ]  # fmt: skip
    assert store.failures(second) == []
    assert store.statuses(PYPI, ["alpha", "ok", "zeta"]) == {
        "alpha": "pending", "ok": "extracted", "zeta": "pending"
    }  # fmt: skip
    assert store.retry_names(PYPI) == ["ok"]
    store.write_packages([pkg("ok", [ver("1.0")])])  # a successful refresh clears the error
    assert store.retry_names(PYPI) == []


def test_known_tokens_counts(store: GraphStore) -> None:
    store.write_packages(
        [pkg("b", [ver("1.0"), ver("2.0", [req("c")])], token="20"), pkg("a", [ver("0.1")])]
    )
    known = store.known(PYPI, ["a", "b", "c", "zz"])
    assert set(known) == {"a", "b", "c"}
    assert (known["b"].status, known["b"].token, known["b"].versions) == (
        "extracted",
        "20",
        frozenset({"1.0", "2.0"}),
    )
    assert (known["a"].token, known["c"].status, known["c"].versions) == (
        None,
        "pending",
        frozenset(),
    )
    assert list(store.tokens(PYPI)) == [("a", None), ("b", "20")]
    assert list(store.tokens(NPM)) == []
    assert (
        store.count(PYPI, "extracted"),
        store.count(PYPI, "pending"),
        store.count(NPM, "extracted"),
    ) == (2, 1, 0)
    assert store.pending(PYPI, limit=0) == []
    store.mark(PYPI, ["d", "e"], "pending")
    assert store.pending(PYPI, limit=2) == ["c", "d"]


def test_show(store: GraphStore) -> None:
    assert store.show(PYPI, "absent") is None
    store.write_packages([pkg("my-pkg", [ver("1.0", [req("z"), req("b")]), ver("0.9")], token="3")])
    shown = store.show(PYPI, "My_Pkg")  # names are normalised like the CLI's input
    assert shown is not None
    assert shown["name"] == "my-pkg" and shown["status"] == "extracted"
    assert shown["last_error"] is None
    assert isinstance(shown["moment"], str) and shown["moment"].endswith("+00:00")
    assert [v["name"] for v in shown["versions"]] == ["0.9", "1.0"]
    assert shown["versions"][0]["requires"] == []
    assert [e["to"] for e in shown["versions"][1]["requires"]] == ["pkg:pypi/b", "pkg:pypi/z"]


def test_vulnerability_fields_survive_a_rewrite(store: GraphStore) -> None:
    store.write_packages([pkg("p", [ver("1.0")])])
    run_sql(
        store,
        "UPDATE versions SET vulnerabilities = '[\"GHSA-1\"]', mean = 7.5, weighted_mean = 7.5 WHERE purl = :purl",
        "MATCH (v:Version {purl: $purl}) SET v.vulnerabilities = ['GHSA-1'], v.mean = 7.5, v.weighted_mean = 7.5",
        purl="pkg:pypi/p@1.0",
    )
    store.write_packages([pkg("p", [ver("1.0"), ver("2.0")])])
    versions = {v["name"]: v for v in of_type(store, "version")}
    assert (versions["1.0"]["vulnerabilities"], versions["1.0"]["mean"]) == (["GHSA-1"], 7.5)
    assert (versions["2.0"]["vulnerabilities"], versions["2.0"]["mean"]) == ([], 0.0)


def test_export_by_ecosystem_and_global_purl_order(store: GraphStore) -> None:
    store.write_packages([
        pkg("zed", [ver("1.0", [req("aaa")])]),
        pkg("serde", [ver("1.0.0", [req("serde-derive", "^1")])], eco=CARGO),
        pkg("left-pad", [ver("1.3.0")], eco=NPM),
    ])  # fmt: skip
    everything = list(store.export())
    for kind in ("package", "version", "requires"):
        purls = [r.get("purl") or r["from"] for r in everything if r["type"] == kind]
        assert purls == sorted(purls)
    assert [r["type"] for r in everything] == sorted(
        (r["type"] for r in everything), key=["package", "version", "requires"].index
    )
    assert [p["purl"] for p in of_type(store, "package")] == [
        "pkg:cargo/serde", "pkg:cargo/serde-derive", "pkg:npm/left-pad", "pkg:pypi/aaa", "pkg:pypi/zed"
    ]  # fmt: skip
    cargo = list(store.export(CARGO))
    assert {r.get("ecosystem") for r in cargo if r["type"] == "package"} == {"cargo"}
    assert [r["type"] for r in cargo] == ["package", "package", "version", "requires"]
    assert list(store.export(Ecosystem.NUGET)) == []


def test_empty_writes_do_nothing(store: GraphStore) -> None:
    stats = store.write_packages([])
    assert (stats.packages, stats.new_versions) == (0, 0)
    assert list(store.export()) == []
    store.ping()
    store.migrate()  # twice is fine


def test_import_names_not_read_this_time_keep_the_stored_ones(store: GraphStore) -> None:
    def names() -> list[list[str]]:
        return [p["import_names"] for p in of_type(store, "package")]

    store.write_packages([pkg("a", [ver("1.0")])])  # new and not read: an empty list
    assert names() == [[]]
    store.write_packages([pkg("a", [ver("1.0")], import_names=["a_mod", "a"])])
    store.write_packages([pkg("a", [ver("1.0"), ver("2.0")])])  # SSC_IMPORT_NAMES off
    assert names() == [["a", "a_mod"]]
    store.write_packages([pkg("a", [ver("2.0")], import_names=[])])  # read: it has none now
    assert names() == [[]]


def test_licences_of_versions_not_read_this_time_stay(store: GraphStore) -> None:
    def licences() -> list[object]:
        rows = query(
            store,
            "SELECT licenses FROM versions ORDER BY purl",
            "MATCH (v:Version) RETURN v.licenses AS licenses ORDER BY v.purl",
        )
        return [row["licenses"] for row in rows]

    mit = ver("1.0", [])
    mit.licenses = {"license": "MIT"}
    store.write_packages([pkg("a", [mit])])
    # An update reads only the new version's metadata: 1.0 comes without it (requirements None).
    fresh = ver("2.0", [])
    fresh.licenses = {"license_expression": "Apache-2.0"}
    store.write_packages([pkg("a", [ver("1.0", None), fresh])])
    assert licences() == ['{"license":"MIT"}', '{"license_expression":"Apache-2.0"}']
    store.write_packages([pkg("a", [ver("1.0", []), ver("2.0", [])])])  # read: none any more
    assert licences() == [None, None]


def test_platforms_are_a_version_property(store: GraphStore) -> None:
    gem = ver("1.0", [])
    gem.extra = {"platforms": ["ruby", "java"]}
    store.write_packages([pkg("rack", [gem, ver("2.0", [])], eco=RUBYGEMS)])
    versions = of_type(store, "version")
    assert [v.get("platforms") for v in versions] == [["ruby", "java"], None]
    java = query(  # readers can match on the list itself
        store,
        "SELECT v.purl FROM versions v, json_each(v.extra, '$.platforms') p WHERE p.value = 'java'",
        "MATCH (v:Version) WHERE 'java' IN v.platforms RETURN v.purl AS purl",
    )
    assert java == [{"purl": "pkg:gem/rack@1.0"}]


# -- every store writes the same graph -------------------------------------------------------


def _scenario(store: GraphStore) -> None:
    store.write_packages([
        pkg("a", [ver("1.0", [req("b", ">=1")]), ver("2.0", [req("b", ">=2"), req("c", marker="extra == 'x'")]), ver("bogus!")]),
        pkg("b", [ver("1.0"), ver("2.0", [req("d")])], import_names=["b", "b_ext"], token="9"),
        pkg("@s/n", [ver("1.0.0", [req("dep", "^2")])], eco=NPM),
        pkg("g:art", [ver("1.0", [req("g:other", "[1,2)")])], eco=MAVEN, extra={"group_id": "g", "artifact_id": "art"}),
    ])  # fmt: skip
    store.write_packages([pkg("a", [ver("1.5", [req("e")])], complete=False)])
    store.write_packages([pkg("b", [ver("2.0", None), ver("3.0", [req("a")])])])
    store.mark(PYPI, ["c"], "missing", "404")


@pytest.mark.parametrize("other", ["neo4j-emulated", NEO4J])
def test_every_store_exports_the_same_graph(
    other: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exports, shows = {}, {}
    for kind in ["sqlite", other]:
        store = open_store(kind, tmp_path, monkeypatch)
        try:
            _scenario(store)
            exports[kind] = list(store.export())
            shows[kind] = [
                store.show(e, n)
                for e, n in [(PYPI, "a"), (PYPI, "b"), (NPM, "@s/n"), (MAVEN, "g:art")]
            ]
            for shown in shows[kind]:
                assert shown is not None
                shown.pop("moment")
        finally:
            store.close()
    assert len(exports["sqlite"]) == 25  # 9 packages, 8 versions, 8 edges
    assert exports[other] == exports["sqlite"]
    assert shows[other] == shows["sqlite"]


@pytest.mark.parametrize("kind", ["neo4j-emulated", NEO4J])
def test_neo4j_pages_export_and_tokens(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = open_store("sqlite", tmp_path, monkeypatch)
    paged = open_store(kind, tmp_path, monkeypatch)
    monkeypatch.setattr(neo4j_store, "_PAGE", 2)
    monkeypatch.setattr(neo4j_store, "_CHUNK", 2)
    records = [
        pkg(f"p{i}", [ver(f"{j}.0", [req(f"p{(i + 1) % 7}")]) for j in range(3)], token=str(i))
        for i in range(7)
    ]
    for store in (reference, paged):
        store.write_packages(records)
    assert list(paged.export()) == list(reference.export())
    assert list(paged.tokens(PYPI)) == list(reference.tokens(PYPI))
    names = [f"p{i}" for i in range(9)]
    assert paged.statuses(PYPI, names) == reference.statuses(PYPI, names)
    assert paged.known(PYPI, names) == reference.known(PYPI, names)
    reference.close()
    paged.close()
