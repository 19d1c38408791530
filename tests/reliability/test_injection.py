"""Injection at the store (section 5): hostile names, versions, constraints and licences are data.

Both stores: the SQLite file and the real Neo4j 5 test server (marker `neo4j`). Each example
writes one package whose every text field is hostile, reads it back through the store's own read
APIs (`export`, `show`, `license_inputs`, `failures`), and checks it byte for byte, that nothing
else in the graph changed and that the schema is still there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ssc_cli.graph import cypher, cypher_migrate, cypher_vulns
from ssc_cli.graph.interface import MAX_PURL, GraphStore, key_problem, record_problem
from ssc_cli.models import Classification, Ecosystem, Verdict
from tests.graph_stores import KINDS, open_store, pkg, query, req, ver
from tests.reliability.injection import HOSTILE, LONG, hostile_name, hostile_text

ECOSYSTEMS = [Ecosystem.PYPI, Ecosystem.NPM, Ecosystem.MAVEN]


def _key(row: dict[str, Any]) -> tuple[str, ...]:
    if row["type"] == "requires":
        return ("requires", row["from"], row["to"], row["kind"], str(row["marker"]))
    return (row["type"], row["purl"])


def _graph(store: GraphStore) -> dict[tuple[str, ...], dict[str, Any]]:
    return {_key(row): row for row in store.export()}


def _schema(store: GraphStore) -> list[str]:
    rows = query(
        store,
        "SELECT type || ' ' || name AS item FROM sqlite_master ORDER BY item",
        "SHOW CONSTRAINTS YIELD name RETURN name AS item ORDER BY item",
    )
    return [row["item"] for row in rows]


def _node_count(store: GraphStore) -> int:
    rows = query(
        store,
        "SELECT (SELECT count(*) FROM packages) + (SELECT count(*) FROM versions) AS n",
        "MATCH (n) WHERE n:Version OR n:PyPIPackage OR n:NPMPackage OR n:MavenPackage "
        "OR n:NuGetPackage OR n:CargoPackage OR n:RubyGemsPackage RETURN count(n) AS n",
    )
    return int(rows[0]["n"])


def _keyed(eco: Ecosystem, name: str) -> bool:
    """Whether the name has a purl (a Maven name needs a group and an artifact)."""
    try:
        eco.purl(name)
    except ValueError:
        return False
    return True


@st.composite
def hostile_packages(draw: st.DrawFn) -> dict[str, Any]:
    """One package: hostile name, versions (distinct purls), dependencies and licence text."""
    eco = draw(st.sampled_from(ECOSYSTEMS))
    name = draw(hostile_name)
    if eco is Ecosystem.MAVEN:  # group:artifact
        name = f"{name}:{draw(hostile_name)}"
    assume(_keyed(eco, name))
    versions: dict[str, str] = {}
    for version in draw(st.lists(hostile_name, min_size=1, max_size=3)):
        versions.setdefault(eco.purl(name, version), version)  # the purl is the key
    deps = draw(
        st.lists(
            st.tuples(
                hostile_name.filter(lambda n: _keyed(eco, n)),
                hostile_text,
                hostile_text,
                st.none() | hostile_text,
            ),
            max_size=3,
            unique_by=lambda d: (eco.purl(d[0]), d[3]),
        )
    )
    return {
        "eco": eco,
        "name": name,
        "versions": list(versions.values()),
        "deps": deps,
        "licence": draw(hostile_text),
    }


def _check_written(
    store: GraphStore, before: dict[tuple[str, ...], dict[str, Any]], case: dict[str, Any]
) -> None:
    eco: Ecosystem = case["eco"]
    name: str = case["name"]
    purl = eco.purl(name)
    after = _graph(store)
    vpurls = {eco.purl(name, v): v for v in case["versions"]}
    targets = {eco.purl(d[0]): d[0] for d in case["deps"]}

    def own(key: tuple[str, ...]) -> bool:
        if key == ("package", purl):
            return True
        if key[0] == "version":
            return key[1].startswith(purl + "@")
        return key[0] == "requires" and key[1].startswith(purl + "@")

    # Nothing else touched: every other row as it was, and the only new rows are this package's
    # and the pending packages its dependencies name.
    for key, row in before.items():
        if not own(key):
            assert after.get(key) == row, f"{key!r} changed"
    for key in after.keys() - before.keys():
        assert own(key) or (key[0] == "package" and key[1] in targets), f"{key!r} appeared"

    package = after[("package", purl)]
    assert package["name"] == name
    assert package["status"] == "extracted"
    assert package.get("license_raw") == case["licence"]
    assert package.get("oss_reason") == case["licence"] + " ; reason"
    versions = {k[1]: r for k, r in after.items() if k[0] == "version" and own(k)}
    assert {p: r["name"] for p, r in versions.items()} == vpurls
    for target, dep_name in targets.items():
        stored = after[("package", target)]
        if ("package", target) not in before and target != purl:
            assert stored["name"] == dep_name  # a new pending package, named verbatim
    edges = [r for k, r in after.items() if k[0] == "requires" and own(k)]
    assert len(edges) == len(vpurls) * len(case["deps"])
    for edge in edges:
        dep = next(
            d for d in case["deps"] if eco.purl(d[0]) == edge["to"] and d[3] == edge["marker"]
        )
        assert (edge["constraints"], edge["raw_constraints"]) == (dep[1], dep[2])
        assert edge["parent_version_name"] == purl

    shown = store.show(eco, name)
    if eco.normalize_name(name) == name:  # show() looks a name up as the CLI spells it
        assert shown is not None and shown["name"] == name
        assert {v["name"] for v in shown["versions"]} == set(vpurls.values())
    signals = {i.purl: i for i in store.license_inputs(eco, limit=100_000)}
    assert signals[purl].licenses is not None
    assert json.loads(signals[purl].licenses) == {"license": case["licence"]}


@pytest.mark.parametrize("kind", KINDS)
def test_hostile_text_is_stored_verbatim_and_touches_nothing_else(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(kind, tmp_path, monkeypatch)
    store.write_packages(
        [pkg("bystander", [ver("1.0", [req("other", ">=1")])], licenses={"license": "MIT"})]
    )
    schema = _schema(store)
    assert schema
    run = store.start_run("ingest", Ecosystem.PYPI)

    @settings(
        max_examples=25 if kind == "sqlite" else 15,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(hostile_packages())
    def write_one(case: dict[str, Any]) -> None:
        before = _graph(store)
        eco: Ecosystem = case["eco"]
        record = pkg(
            case["name"],
            [
                ver(
                    v,
                    [req(d[0], d[1], raw=d[2], marker=d[3]) for d in case["deps"]],
                    date="2024-01-01T00:00:00",
                )
                for v in case["versions"]
            ],
            eco=eco,
            licenses={"license": case["licence"]},
        )
        store.write_packages([record])
        text = case["licence"]
        verdict = Verdict("unknown", text + " ; reason", expression=text, raw=text, ids=(text,))
        store.write_classifications(
            eco, [Classification(record.purl, verdict, digest=text)], list_version=text
        )
        store.record_failures(run, eco, [(case["name"], text)])
        _check_written(store, before, case)
        rows = _graph(store)
        assert _node_count(store) == sum(1 for key in rows if key[0] != "requires")
        assert (eco.value, case["name"], text) in store.failures(run)
        assert _schema(store) == schema

    write_one()
    bystander = store.show(Ecosystem.PYPI, "bystander")
    assert bystander is not None and bystander["status"] == "extracted"
    store.close()


@pytest.mark.parametrize("kind", KINDS)
def test_every_hostile_string_in_every_field_at_once(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not left to chance: each listed string as name, version, constraint, marker and licence.

    The 100 KB one goes where the graph does not key (constraints, markers, licences); names and
    versions go up to the key limit, MAX_PURL.
    """
    store = open_store(kind, tmp_path, monkeypatch)
    eco = Ecosystem.NPM
    texts = [s for s in HOSTILE if s.strip() and s != LONG] + [
        "n" * (MAX_PURL // 2 - 20)
    ]  # the version purl holds it twice
    records = []
    for i, text in enumerate(texts):
        long_or = LONG if i % 2 else text
        dep = req(f"d{i}{text}", long_or, raw=text, marker=text)
        records.append(
            pkg(f"p{i}{text}", [ver(f"{text}{i}", [dep])], eco=eco, licenses={"license": LONG})
        )
    assert all(record_problem(r) is None for r in records)
    store.write_packages(records)
    got = _graph(store)
    for i, text in enumerate(texts):
        package = got[("package", eco.purl(f"p{i}{text}"))]
        assert package["name"] == f"p{i}{text}"
        version = got[("version", eco.purl(f"p{i}{text}", f"{text}{i}"))]
        assert version["name"] == f"{text}{i}"
        edge = got[("requires", version["purl"], eco.purl(f"d{i}{text}"), "runtime", text)]
        assert edge["constraints"] == (LONG if i % 2 else text)
        assert edge["raw_constraints"] == text
        assert got[("package", eco.purl(f"d{i}{text}"))]["name"] == f"d{i}{text}"
    assert len(got) == 4 * len(texts)  # package, version, edge, pending target each
    signals = store.license_inputs(eco, limit=10_000)
    assert {json.loads(s.licenses or "null")["license"] for s in signals} == {LONG}
    store.close()


def test_a_name_or_version_past_the_key_limit_is_refused_with_a_reason() -> None:
    """What no store could key is refused whole before the write, never truncated."""
    eco = Ecosystem.NPM
    assert "over the graph's limit" in (key_problem(eco, LONG) or "")
    cases = {
        "name": pkg(LONG, [ver("1.0")], eco=eco),
        "version": pkg("ok", [ver(LONG)], eco=eco),
        "dependency": pkg("ok", [ver("1.0", [req(LONG)])], eco=eco),
        "no purl": pkg("g:", [ver("1.0")], eco=Ecosystem.MAVEN),
    }
    for what, record in cases.items():
        problem = record_problem(record)
        assert problem is not None, what
        assert "refused" in problem and len(problem) < 500, problem
    assert record_problem(pkg("ok", [ver("1.0", [req("dep", LONG, marker=LONG)])], eco=eco)) is None


# -- labels: only the allow-list reaches Cypher text -----------------------------------------

SPLICES = [
    "PyPIPackage) DETACH DELETE n //",
    "PyPIPackage`:`Admin",
    "Version {purl: ''}) MATCH (n) DETACH DELETE n //",
    "pypi'; DROP TABLE packages; --",
    "",
]


@pytest.mark.parametrize("text", SPLICES)
def test_a_label_off_the_allow_list_is_refused_not_spliced(text: str) -> None:
    with pytest.raises(ValueError, match="(?i)ecosystem|label"):
        cypher.label(text)  # type: ignore[arg-type]
    for build in (
        cypher_vulns.vuln_rows_query,
        cypher_vulns.unattributed_packages_query,
        cypher_vulns.unattributed_versions_query,
        cypher_migrate.old_shape_query,
    ):
        with pytest.raises(ValueError, match="refusing label"):
            build(text)


def test_the_allow_list_is_the_ecosystems_labels_and_the_bookkeeping_ones() -> None:
    for eco in Ecosystem:
        assert cypher.label(eco) == eco.label
        assert cypher.label(eco.value) == eco.label  # type: ignore[arg-type]
        assert f":{eco.label} " in cypher_vulns.vuln_rows_query(eco.label)
    for lab in cypher_migrate.old_shape_labels():
        assert f"(n:{lab})" in cypher_migrate.old_shape_query(lab)
