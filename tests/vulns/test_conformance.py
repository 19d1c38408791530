"""Every real OSV record of ../shared/fixtures/real/osv: ranges alone give the record's own
versions list, scores are the cvss package's, and each ecosystem's range semantics hold."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cvss import CVSS2, CVSS3, CVSS4

from ssc_cli.models import Ecosystem
from ssc_cli.vulns import severity
from ssc_cli.vulns.ecosystems import from_osv
from ssc_cli.vulns.interface import Advisory, InvalidRecord, parse_advisory
from ssc_cli.vulns.match import VersionKeys, affected_versions, compile_entry, evaluate
from tests.conftest import real_fixtures, require_real_fixtures

RECORDS = [p for p in real_fixtures("osv") if p.suffix == ".json"]
# Dependency-Track's test copy of MAL-2023-995 has no `modified`, which the schema requires:
# `vulns sync` rejects it (test below); its matching is checked with the field filled in.
NO_MODIFIED = {"MAL-2023-995.npm.json"}


def read(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    if path.name in NO_MODIFIED:
        data.setdefault("modified", "2023-08-10T06:15:10Z")
    return data


def load(name: str) -> Advisory:
    require_real_fixtures("osv")
    path = next(p for p in RECORDS if p.name.startswith(name))
    return parse_advisory(read(path))


def test_a_record_without_modified_is_rejected_naming_the_field() -> None:
    require_real_fixtures("osv")
    path = next(p for p in RECORDS if p.name in NO_MODIFIED)
    with pytest.raises(InvalidRecord, match=r"MAL-2023-995: modified: Field required"):
        parse_advisory(json.loads(path.read_text()))


def test_every_fixture_record_validates() -> None:
    require_real_fixtures("osv")
    assert len(RECORDS) >= 13
    ecosystems = set()
    for path in RECORDS:
        advisory = parse_advisory(read(path))
        ecosystems |= {from_osv(a.package.ecosystem) for a in advisory.affected if a.package}
    assert ecosystems == set(Ecosystem)  # all six are covered by the fixtures


def _listed_entries() -> list[tuple[str, int]]:
    out = []
    for path in RECORDS:
        data = json.loads(path.read_text())
        for index, entry in enumerate(data.get("affected", [])):
            if entry.get("versions"):
                out.append((path.name, index))
    return out


@pytest.mark.parametrize(("record", "index"), _listed_entries() or [("none", -1)])
def test_ranges_alone_give_the_records_own_versions_list(record: str, index: int) -> None:
    """Each entry with a versions list: its ranges, over the listed versions plus every event
    value, select exactly that list (withdrawn records evaluated as if live)."""
    require_real_fixtures("osv")
    data = read(next(p for p in RECORDS if p.name == record))
    entry_data = data["affected"][index]
    advisory = parse_advisory(data)
    entry = advisory.affected[index]
    assert entry.package is not None
    eco = from_osv(entry.package.ecosystem)
    assert eco is not None
    keys = VersionKeys(eco)
    events = {e.value for r in entry.ranges for e in r.events if r.type != "GIT"} - {"0"}
    universe = set(entry_data["versions"]) | events
    verdict = evaluate([compile_entry(entry, keys, use_versions=False)], universe, keys)
    assert verdict.unparseable == set()
    if advisory.id == "MAL-2023-995":
        # introduced 0 and no fixed: every version, of which the list names the one published
        # (the wildcard DT distrusts; the spec says all). The universe here is that list.
        assert verdict.affected == {"103.99.99"}
        return
    assert verdict.affected == set(entry_data["versions"]), advisory.id


def test_the_listed_versions_match_even_without_ranges() -> None:
    advisory = load("PYSEC-2018-27")
    # GIT range first, then ECOSYSTEM: the GIT one is skipped and counted, not an early exit.
    verdict = affected_versions(advisory, Ecosystem.PYPI, "qutebrowser", ["1.4.0", "1.4.1"])
    assert verdict.affected == {"1.4.0"}
    assert verdict.git_ranges == 1


@pytest.mark.parametrize(
    ("record", "eco", "name", "affected", "not_affected"),
    [
        ("RUSTSEC-2021-0003", Ecosystem.CARGO, "smallvec",
         ["0.6.3", "0.6.13", "1.0.0", "1.6.0"], ["0.6.2", "0.6.14", "0.9.0", "1.6.1", "1.7.0"]),
        ("RUSTSEC-2020-0071", Ecosystem.CARGO, "time",
         ["0.1.0", "0.1.45", "0.2.7", "0.2.22", "0.2.1-beta"], ["0.2.0", "0.2.1", "0.2.6", "0.2.23", "0.3.0"]),
        ("RUSTSEC-2023-0044", Ecosystem.CARGO, "openssl", ["0.1.0", "0.10.54"], ["0.10.55", "0.11.0"]),
        ("GHSA-mp6f-p9gp-vpj9", Ecosystem.CARGO, "sized_chunks", ["0.1.0", "0.6.2"], ["0.6.3"]),
        ("MAL-2023-995", Ecosystem.NPM, "yandex-yt-yson-bindings", ["103.99.99", "1.0.0"], []),
        # The second entry opens at 2.1.0 with no upper bound: every later version, 3.x included
        # (GHSA's last_known_affected_version_range is database_specific, ignored as the spec says).
        ("GHSA-75v8-2h7p-7m2m", Ecosystem.NPM, "formidable",
         ["2.1.0", "2.1.3", "3.1.1-canary.20211030", "3.5.2", "3.5.3", "4.0.0"], ["2.0.1", "1.2.6"]),
        ("GHSA-vr8q-g5c7-m54m", Ecosystem.RUBYGEMS, "nokogiri",
         ["1.10.10", "1.11.0.rc4", "1.4"], ["1.11.0", "1.11.1", "1.12"]),
        ("GHSA-266m-wp2v-x7mq", Ecosystem.NUGET, "microsoft.netcore.app.runtime.linux-arm",
         # 9.0.0-preview.1 < 9.0.0: before the introduced event (SemVer prerelease order).
         ["9.0.0", "9.0.5", "9.0.0.0", "9.0.4-servicing.1"], ["9.0.0-preview.1", "8.0.16", "9.0.6"]),
        ("GHSA-838r-hvwh-24h8", Ecosystem.MAVEN, "org.apache.any23:apache-any23", ["2.4", "1.1"], ["2.5", "2.6"]),
        # Spring writes X.RELEASE: equal to X under Maven's (and osv.dev's) ordering.
        ("GHSA-xx65-cc7g-9pfp", Ecosystem.MAVEN, "org.springframework.boot:spring-boot",
         ["1.5.0.RELEASE", "1.5.9.RELEASE", "1.5.0"], ["1.4.7.RELEASE", "1.5.10.RELEASE", "2.0.0.RELEASE"]),
        ("PYSEC-2021-63", Ecosystem.PYPI, "Cryptography", ["3.1", "3.1.1", "3.3.1"], ["3.0", "3.1.2", "3.3.2"]),
    ],
)  # fmt: skip
def test_range_semantics_of_each_ecosystem(
    record: str, eco: Ecosystem, name: str, affected: list[str], not_affected: list[str]
) -> None:
    advisory = load(record)
    verdict = affected_versions(advisory, eco, name, [*affected, *not_affected])
    assert verdict.affected == set(affected)
    assert verdict.unparseable == set()


def test_withdrawn_records_attribute_nothing() -> None:
    advisory = load("PYSEC-2023-73")
    assert advisory.withdrawn is not None
    assert (
        affected_versions(advisory, Ecosystem.PYPI, "redis", ["4.5.4", "2.10.6"]).affected == set()
    )


def test_names_never_cross_ecosystems() -> None:
    advisory = load("GHSA-mp6f-p9gp-vpj9")  # crates.io sized-chunks
    assert affected_versions(advisory, Ecosystem.NPM, "sized-chunks", ["0.1.0"]).affected == set()
    assert affected_versions(advisory, Ecosystem.CARGO, "sized-chunks", ["0.1.0"]).affected == {
        "0.1.0"
    }


def _vectors() -> list[tuple[str, str, str]]:
    out = []
    for path in RECORDS:
        advisory = parse_advisory(read(path))
        out.extend(
            (advisory.id, s.type, s.score)
            for s in severity.severities(advisory)
            if s.type.startswith("CVSS")
        )
    return out


@pytest.mark.parametrize(("record", "kind", "vector"), _vectors() or [("none", "", "")])
def test_scores_equal_the_cvss_packages(record: str, kind: str, vector: str) -> None:
    require_real_fixtures("osv")
    expected = {"CVSS_V2": CVSS2, "CVSS_V3": CVSS3, "CVSS_V4": CVSS4}[kind](vector).base_score
    assert severity.vector_score(kind, vector) == float(expected)
    assert isinstance(severity.vector_score(kind, vector), float)


def test_every_fixture_advisory_gets_its_v3_score_or_none() -> None:
    require_real_fixtures("osv")
    scores = {}
    for path in RECORDS:
        advisory = parse_advisory(read(path))
        scores[advisory.id] = severity.score(advisory).value
    assert scores["GHSA-xx65-cc7g-9pfp"] == 5.9  # CVSS:3.0
    assert scores["RUSTSEC-2021-0003"] == 9.8
    assert scores["RUSTSEC-2023-0044"] is None  # no severity at all: unscored, not 0.0
    assert scores["PYSEC-2021-63"] is None


def test_fixture_paths_exist_or_are_skipped(tmp_path: Path) -> None:
    require_real_fixtures("osv")
    assert all(p.is_file() for p in RECORDS)
