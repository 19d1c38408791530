"""One contract for every VulnerabilitySource: embedded OSV, MongoDB fake, MongoDB real."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ssc_cli.models import Ecosystem
from ssc_cli.vulns.attribute import Attributor
from tests.vuln_sources import SOURCE_KINDS, Populated

PYPI, NPM, MAVEN, NUGET, CARGO, GEMS = list(Ecosystem)


def rec(
    ident: str, *packages: tuple[str, str], modified: str = "2024-01-01T00:00:00Z", **kw: Any
) -> dict[str, Any]:
    return {
        "id": ident,
        "modified": modified,
        "affected": [
            {"package": {"ecosystem": eco, "name": name}, "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}
            for eco, name in packages
        ],
        **kw,
    }  # fmt: skip


RECORDS = [
    rec("PYSEC-1", ("PyPI", "Zope.Interface"), aliases=["CVE-1"], severity=[{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "base_score": 9.1}]),
    rec("GHSA-1", ("npm", "Zope.Interface"), ("PyPI", "requests")),
    rec("GHSA-2", ("NuGet", "Newtonsoft.Json")),
    rec("RUSTSEC-1", ("crates.io", "serde-json")),
    rec("GHSA-3", ("RubyGems", "Nokogiri"), ("Maven:https://maven.google.com", "g:a")),
    rec("GHSA-4", ("npm", "JSONStream")),
    rec("PYSEC-W", ("PyPI", "requests"), withdrawn="2024-02-01T00:00:00Z"),
    rec("GO-1", ("Go", "requests")),
]  # fmt: skip


@pytest.fixture(params=SOURCE_KINDS)
def source(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Populated]:
    populated = Populated(request.param, tmp_path)
    populated.put(RECORDS)
    try:
        yield populated
    finally:
        populated.close()


def ids(found: dict[str, list[Any]], name: str) -> list[str]:
    return sorted(a.id for a in found.get(name, []))


def test_candidates_per_package_in_one_query_per_batch(source: Populated) -> None:
    before = source.queries
    found = source.source.advisories(PYPI, ["zope-interface", "requests", "flask"])
    assert source.queries is None or source.queries - (before or 0) == 1
    assert ids(found, "zope-interface") == ["PYSEC-1"]  # PEP 503 on both sides
    assert ids(found, "requests") == ["GHSA-1", "PYSEC-W"]  # withdrawn kept (matcher drops it)
    assert "flask" not in found


def test_names_compare_per_ecosystem(source: Populated) -> None:
    s = source.source
    assert ids(s.advisories(NUGET, ["newtonsoft.json"]), "newtonsoft.json") == ["GHSA-2"]
    assert ids(s.advisories(CARGO, ["serde_json"]), "serde_json") == ["RUSTSEC-1"]
    assert ids(s.advisories(GEMS, ["nokogiri"]), "nokogiri") == ["GHSA-3"]
    assert ids(s.advisories(MAVEN, ["g:a"]), "g:a") == ["GHSA-3"]  # ecosystem suffix
    assert ids(s.advisories(NPM, ["JSONStream", "jsonstream"]), "JSONStream") == ["GHSA-4"]
    assert s.advisories(NPM, ["jsonstream"]) == {}  # npm is case-sensitive
    assert ids(s.advisories(NPM, ["Zope.Interface"]), "Zope.Interface") == ["GHSA-1"]


def test_the_batch_query_is_one_whatever_the_batch_size(source: Populated) -> None:
    names = [f"pkg-{i}" for i in range(300)] + ["requests"]
    before = source.queries
    attributor = Attributor(source.source)
    result = attributor.attribute(PYPI, {n: ["1.0"] for n in names})
    assert source.queries is None or source.queries - (before or 0) == 1
    assert result["requests"]["1.0"].vulnerabilities == ["GHSA-1"]
    assert result["pkg-7"]["1.0"].vulnerabilities == []


def test_the_enrichment_score_is_used(source: Populated) -> None:
    attributor = Attributor(source.source)
    vulns = attributor.attribute(PYPI, {"zope-interface": ["1.0"]})["zope-interface"]["1.0"]
    assert (vulns.vulnerabilities, vulns.mean) == (["CVE-1", "PYSEC-1"], 9.1)


def test_get_by_id_and_by_alias(source: Populated) -> None:
    got = source.source.get("CVE-1")
    assert got is not None and got.id == "PYSEC-1"
    assert source.source.get("NOPE-1") is None


def test_changes_name_only_the_packages_of_changed_records(source: Populated) -> None:
    s = source.source
    assert s.changes(PYPI, None).names is None  # no cursor: everything
    source.put([rec("GHSA-5", ("PyPI", "django"), modified="2024-03-01T00:00:00Z")])
    first = s.changes(PYPI, None)
    source.put(
        [
            rec(
                "GHSA-2",
                ("NuGet", "Newtonsoft.Json"),
                ("PyPI", "flask"),
                modified="2024-05-01T00:00:00Z",
            )
        ]
    )
    changed = s.changes(PYPI, first.cursor)
    # A source may name a few more (MongoDB re-reads the minute before its cursor), never fewer,
    # and never the packages of records unchanged since well before it.
    assert changed.names is not None and "flask" in changed.names
    assert not changed.names & {"requests", "zope-interface"}
    assert changed.names <= {"flask", "django"}
    npm = s.changes(NPM, s.changes(NPM, None).cursor).names
    assert npm is not None and not npm - {"Zope.Interface", "JSONStream"}


def test_info_counts_records_per_ecosystem(source: Populated) -> None:
    stats = {s.ecosystem: s for s in source.source.info().stats}
    assert stats[PYPI].records == 3 and stats[NPM].records == 2
    assert stats[PYPI].newest_modified is not None


def test_doctor_describes_counts_and_the_age_of_the_newest_record(source: Populated) -> None:
    from datetime import UTC, datetime

    from ssc_cli.vulns.sources import describe

    source.put([rec("PYSEC-9", ("PyPI", "flask"), modified="2024-03-01T12:00:00Z")])
    report = describe(source.source.info(), now=datetime(2024, 3, 3, 18, tzinfo=UTC))
    assert report["source"] == ("osv" if source.kind == "osv" else "mongodb")
    assert report["records"] == {"pypi": 4, "npm": 2, "maven": 1, "nuget": 1, "cargo": 1,
                                 "rubygems": 1}  # fmt: skip
    assert report["newest_modified"]["pypi"].startswith("2024-03-01T12:00:00")
    assert report["newest_modified"]["npm"].startswith("2024-01-01")
    assert report["newest_age_seconds"] == 2 * 86_400 + 6 * 3600
    assert "pypi 4" in report["detail"] and "newest modified 2d 6h ago" in report["detail"]


def test_bad_documents_are_named_once_and_the_rest_read(source: Populated) -> None:
    if source.kind == "osv":
        # The embedded store holds only records that validated at sync (whose summary named
        # the bad ones): reading it names nothing.
        source.source.advisories(PYPI, ["requests"])
        assert (source.source.invalid, source.source.rejected_vectors) == ([], [])
        return
    source.collection.insert_one(
        {"id": "GHSA-bad", "affected": [{"package": {"ecosystem": "PyPI", "name": "requests"}}]}
    )  # no `modified`
    source.put([rec("GHSA-vec", ("PyPI", "requests"),
                    severity=[{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:Q"}])])  # fmt: skip
    for _ in range(2):  # a second batch naming the same package names them no second time
        found = source.source.advisories(PYPI, ["requests"])
    assert ids(found, "requests") == ["GHSA-1", "GHSA-vec", "PYSEC-W"]
    assert source.source.invalid == ["GHSA-bad: modified: Field required"]
    assert [v["id"] for v in source.source.rejected_vectors] == ["GHSA-vec"]


class _Recording:
    """A collection that records each method called on it (and forwards it)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, args))
            return method(*args, **kwargs)

        return call


def test_mongodb_is_only_read_and_finds_project_only_what_matching_reads(tmp_path: Path) -> None:
    populated = Populated("mongo-fake", tmp_path)
    populated.put(RECORDS)
    recording = _Recording(populated.mongo._collection)
    populated.mongo._collection = recording
    try:
        s = populated.source
        s.advisories(PYPI, ["requests"])
        s.changes(PYPI, s.changes(PYPI, None).cursor)
        s.get("CVE-1")
        s.info()
    finally:
        populated.close()
    assert {name for name, _ in recording.calls} <= {"find", "find_one", "count_documents"}
    name, (query, projection) = recording.calls[0]  # the batch query of advisories()
    assert name == "find"
    assert projection == {"_id": 0, "id": 1, "modified": 1, "withdrawn": 1,
                          "schema_version": 1, "aliases": 1, "severity": 1,
                          "affected.package": 1, "affected.ranges": 1, "affected.versions": 1,
                          "affected.severity": 1}  # fmt: skip
    assert "details" not in projection and "affected" in query
