"""The cascade stop end to end: an empty NuGet ingest blocks what reads NuGet until a good one."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Ssc
from tests.fakeregistry import nuget
from tests.fakeregistry.server import FakeRegistry
from tests.quality.test_metrics import value

GATE = {"check": "nuget/packages_nonempty", "dataset": "nuget", "severity": "ERROR"}


def test_an_empty_catalog_fails_the_blocking_check_until_a_good_ingest(
    ssc: Ssc, fake_registry: FakeRegistry, tmp_path: Path
) -> None:
    metrics = tmp_path / "metrics"
    ssc.env["SSC_METRICS_DIR"] = str(metrics)
    ingest_prom, check_prom = metrics / "ssc_ingest_nuget.prom", metrics / "ssc_check.prom"
    job = {"command": "ingest", "ecosystem": "nuget", "blocking": "true"}
    feed = nuget.NuGetApp()
    fake_registry.mount("nuget", feed)
    summary = ssc.json("ingest", "nuget")
    assert summary["new_packages_ingested"] == 0
    [gate] = [c for c in summary["checks"] if c["check"] == "nuget/packages_nonempty"]
    assert gate["passed"] is False and gate["blocking"] is True
    assert summary["graph_counts"]["nuget"]["packages"] == 0
    assert value(ingest_prom, "ssc_check_passed", **job, **GATE) == 0
    assert (
        value(ingest_prom, "ssc_run_last_status", command="ingest", ecosystem="nuget", status="ok")
        == 1
    )

    report = ssc.json("check", expect=3)
    assert report["blocking_failed"] == 1 and report["exit_code"] == 3
    failed = [c for c in report["checks"] if not c["passed"]]
    assert [(c["dataset"], c["name"]) for c in failed] == [("nuget", "packages_nonempty")]
    check = {"command": "check", "ecosystem": "", "blocking": "true"}
    assert value(check_prom, "ssc_check_passed", **check, **GATE) == 0

    feed.publish("Good.Package", "1.0.0")
    feed.commit()
    summary = ssc.json("ingest", "nuget")
    assert summary["new_packages_ingested"] == 1
    assert all(c["passed"] for c in summary["checks"])
    assert value(ingest_prom, "ssc_check_passed", **job, **GATE) == 1
    assert (
        value(ingest_prom, "ssc_packages_processed_total", command="ingest", ecosystem="nuget") == 1
    )
    report = ssc.json("check")
    assert report["blocking_failed"] == 0 and report["exit_code"] == 0
    assert value(check_prom, "ssc_check_passed", **check, **GATE) == 1


def test_the_classifier_and_attribution_refuse_while_the_nuget_gate_fails(
    ssc: Ssc, fake_registry: FakeRegistry
) -> None:
    from tests.licenses.spdx_data import SPDX_DIR, real_list

    real_list()  # the real SPDX list of ../shared/fixtures/real (skips cleanly without it)
    ssc("licenses", "sync", str(SPDX_DIR))
    feed = nuget.NuGetApp()
    fake_registry.mount("nuget", feed)
    ssc("ingest", "nuget")  # an empty catalog: the blocking nuget/packages_nonempty fails

    for command in (["classify", "nuget"], ["vulns", "attribute", "nuget"]):
        refused = ssc(*command, expect=3)
        assert f"`ssc {' '.join(command[:-1])}` refused: the blocking quality gate" in (
            refused.stderr
        )
        assert "nuget/packages_nonempty" in refused.stderr
        assert "it clears once `ssc check nuget` passes" in refused.stderr

    feed.publish("Good.Package", "1.0.0")
    feed.commit()
    ssc("ingest", "nuget")
    classified = ssc.json("classify", "nuget")
    assert classified["exit_code"] == 0 and classified["packages_checked"] >= 1
    assert ssc.json("vulns", "attribute", "nuget")["exit_code"] == 0
