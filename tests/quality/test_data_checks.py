"""The checks of the data beside the graph: SPDX list floor, unknown-licence share, versions
not attributed after a vulnerability sync; each on a store built to fail it and one to pass."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ssc_cli.errors import QualityGateError
from ssc_cli.graph.interface import GraphStore, VersionVulnRow
from ssc_cli.models import Classification, Ecosystem, LicenseRecord, Verdict
from ssc_cli.pipeline.checks import run_all
from ssc_cli.pipeline.data_checks import data_checks
from ssc_cli.quality.checks import CheckContext
from ssc_cli.quality.gate import classify_inputs, require_passing
from ssc_cli.quality.results import CheckResult
from ssc_cli.settings import Settings
from ssc_cli.vulns.interface import parse_advisory
from ssc_cli.vulns.osv import Loaded, OsvStore
from tests.graph_stores import KINDS, PYPI, open_store, pkg, ver, wipe_real_neo4j


@pytest.fixture(params=KINDS)
def store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[GraphStore]:
    made = open_store(request.param, tmp_path, monkeypatch)
    yield made
    made.close()
    if request.param == "neo4j":
        wipe_real_neo4j()


def _settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, **values)  # type: ignore[call-arg]


def _results(store: GraphStore, settings: Settings, name: str) -> list[CheckResult]:
    found = data_checks(CheckContext(store), store, settings, [PYPI])
    return [r for r in found if r.name == name]


def _spdx(store: GraphStore, osi: int) -> None:
    records = [LicenseRecord(f"OSI-{i}", f"OSI licence {i}", osi_approved=True) for i in range(osi)]
    records.append(LicenseRecord("Other-1", "Not OSI"))
    store.replace_license_list("3.28.0", "2026-01-01", records)


def test_spdx_floor_fails_on_a_list_with_too_few_osi_licences(
    store: GraphStore, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, check_min_osi_licenses=5)
    assert _results(store, settings, "spdx_osi_floor") == []  # no list yet: nothing to check
    _spdx(store, 3)
    (result,) = _results(store, settings, "spdx_osi_floor")
    assert not result.passed and result.blocking and result.severity == "ERROR"
    assert (result.dataset, result.measured, result.threshold) == ("licenses", 3, 5)
    assert "ssc licenses sync" in result.message
    # Recorded by `ssc check`, it stops the classifier (the cascade), naming `ssc check`.
    run_all(store, settings, None)
    with pytest.raises(QualityGateError, match=r"spdx_osi_floor.*`ssc check` passes"):
        require_passing(store, classify_inputs([PYPI]), "classify")


def test_spdx_floor_passes_on_a_full_list(store: GraphStore, tmp_path: Path) -> None:
    _spdx(store, 6)
    settings = _settings(tmp_path, check_min_osi_licenses=5)
    (result,) = _results(store, settings, "spdx_osi_floor")
    assert result.passed and result.measured == 6
    run_all(store, settings, None)
    require_passing(store, classify_inputs([PYPI]), "classify")


def _classified(store: GraphStore, unknown: int, known: int) -> None:
    names = [f"u{i}" for i in range(unknown)] + [f"k{i}" for i in range(known)]
    store.write_packages([pkg(name, [ver("1.0")]) for name in names])
    verdicts = [
        Classification(
            PYPI.purl(name),
            Verdict("unknown", "no-signal")
            if name.startswith("u")
            else Verdict("open_source", "spdx-osi", "MIT", "MIT", ("MIT",)),
            f"d-{name}",
        )
        for name in names
    ]
    store.write_classifications(PYPI, verdicts, "3.28.0")


def test_unknown_share_warns_above_its_setting(store: GraphStore, tmp_path: Path) -> None:
    settings = _settings(tmp_path, check_max_unknown_share=0.5)
    store.write_packages([pkg("not-yet", [ver("1.0")])])
    assert _results(store, settings, "unknown_share") == []  # nothing classified yet
    _classified(store, unknown=3, known=1)
    (result,) = _results(store, settings, "unknown_share")
    assert not result.passed and not result.blocking and result.severity == "WARN"
    assert result.measured == 0.75 and result.threshold == 0.5
    assert "3 of 4 classified pypi packages" in result.message


def test_unknown_share_passes_at_or_below_its_setting(store: GraphStore, tmp_path: Path) -> None:
    _classified(store, unknown=1, known=3)
    (result,) = _results(store, _settings(tmp_path, check_max_unknown_share=0.5), "unknown_share")
    assert result.passed and result.measured == 0.25


def _synced(store: GraphStore) -> None:
    run_id = store.start_run("vulns-sync", None)
    store.finish_run(run_id, "ok", {})


def test_unattributed_versions_warn_after_a_vulnerability_sync(
    store: GraphStore, tmp_path: Path
) -> None:
    settings = _settings(tmp_path)
    store.write_packages([pkg("requests", [ver("1.0"), ver("2.0")])])
    assert _results(store, settings, "unattributed_versions") == []  # never synced
    _synced(store)
    (result,) = _results(store, settings, "unattributed_versions")
    assert not result.passed and result.severity == "WARN" and not result.blocking
    assert result.measured == 2 and "ssc vulns attribute" in result.message


def test_unattributed_versions_pass_once_every_version_is_attributed(
    store: GraphStore, tmp_path: Path
) -> None:
    store.write_packages([pkg("requests", [ver("1.0"), ver("2.0")])])
    _synced(store)
    rows = [
        VersionVulnRow(PYPI.purl("requests", name), name, (), 0.0, 0.0, 0)
        for name in ("1.0", "2.0")
    ]
    store.write_vulns(rows)
    (result,) = _results(store, _settings(tmp_path), "unattributed_versions")
    assert result.passed and result.measured == 0


def test_ssc_check_of_one_ecosystem_leaves_the_licence_list_out(
    store: GraphStore, tmp_path: Path
) -> None:
    _spdx(store, 1)
    settings = _settings(tmp_path, check_min_osi_licenses=5)
    assert [
        r.key for r in run_all(store, settings, [Ecosystem.PYPI]) if r.dataset == "licenses"
    ] == []
    assert "licenses/spdx_osi_floor" in [r.key for r in run_all(store, settings, None)]


def _osv(settings: Settings, modified: str) -> None:
    record = {
        "id": "PYSEC-1",
        "modified": modified,
        "affected": [{"package": {"ecosystem": "PyPI", "name": "requests"}}],
    }
    osv = OsvStore(settings.osv_path)
    try:
        osv.upsert([Loaded(parse_advisory(record), record)])
    finally:
        osv.close()


@pytest.mark.parametrize(
    ("modified", "passed"), [("2026-12-01T00:00:00Z", False), ("2026-12-03T12:00:00Z", True)]
)
def test_newest_modified_warns_when_the_vulnerability_data_is_old(
    tmp_path: Path, modified: str, passed: bool
) -> None:
    settings = _settings(tmp_path, check_max_vuln_age="72h")
    now = datetime(2026, 12, 4, 6, tzinfo=UTC)
    store = open_store("sqlite", tmp_path, pytest.MonkeyPatch())
    try:
        ctx = CheckContext(store, now=now)
        assert [
            r for r in data_checks(ctx, store, settings, []) if r.name == "newest_modified"
        ] == []
        _osv(settings, modified)
        (result,) = [
            r for r in data_checks(ctx, store, settings, []) if r.name == "newest_modified"
        ]
    finally:
        store.close()
    assert result.passed is passed and result.severity == "WARN" and not result.blocking
    assert result.dataset == "vulns" and result.threshold == 72 * 3600
    assert result.measured == (now - datetime.fromisoformat(modified)).total_seconds()
    assert ("ssc vulns sync" in result.message) is not passed
