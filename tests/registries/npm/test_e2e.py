"""`ssc ingest npm` then `ssc update npm` against a changing fake registry, end to end."""

from __future__ import annotations

from typing import Any

import pytest

from ssc_cli.models import Ecosystem
from tests.conftest import Ssc
from tests.fakeregistry.npm import NpmApp
from tests.fakeregistry.server import FakeRegistry, Faults

pytestmark = pytest.mark.slow
NPM = Ecosystem.NPM


def registry() -> NpmApp:
    app = NpmApp()
    app.publish("base", "1.0.0", repository="github:o/base")
    app.publish("base", "1.1.0", repository="github:o/base")
    app.publish("lib-a", "1.0.0", dependencies={"base": "^1.0.0"}, license={"type": "MIT"})
    app.publish("lib-a", "1.1.0", dependencies={"base": "~1.1"})
    app.publish(
        "@Org/Tool",
        "2.0.0",
        dependencies={"lib-a": "^1", "b2": "npm:base@1", "dep-src": "github:o/dep-src"},
        optional={"fsevents": "^2"},
        repository={"type": "git", "url": "git+ssh://git@github.com/org/tool.git"},
    )
    app.publish("leaf", "0.1.0", files=None)
    app.add_design_doc()
    for name in ("dep-src", "fsevents"):  # targets of edges, so a fresh ingest reaches them
        app.publish(name, "2.0.0")
    return app


def change(app: NpmApp) -> None:
    """New versions, a deprecation and a new dependency on a stored package."""
    app.publish("lib-a", "1.2.0", dependencies={"base": "^1.1.0", "leaf": "0.1.x"})
    app.deprecate("base", "1.0.0", "use 1.1")
    app.publish("@Org/Tool", "2.1.0", dependencies={"lib-a": "^1.2"})


def export(ssc: Ssc) -> list[dict[str, Any]]:
    return ssc.export("--ecosystem", "npm")


def fresh_export(ssc: Ssc, name: str) -> list[dict[str, Any]]:
    other = ssc.with_graph(name)
    other("ingest", "npm")
    return export(other)


@pytest.fixture
def app(fake_registry: FakeRegistry) -> NpmApp:
    npm = registry()
    npm.mount(fake_registry)
    return npm


def test_update_after_changes_equals_a_fresh_ingest_and_reruns_are_no_ops(
    ssc: Ssc, app: NpmApp, fake_registry: FakeRegistry
) -> None:
    first = ssc.json("ingest", "npm")
    assert first["new_packages_ingested"] == 6 and first["errors"] == 0
    before = export(ssc)
    change(app)
    summary = ssc.json("update", "npm")
    assert summary["packages_changed"] == 3 and summary["cursor_saved"] is True
    assert summary["total_versions"] == 2
    after = export(ssc)
    assert after != before
    assert after == fresh_export(ssc, "fresh.sqlite")
    deprecated = [r for r in after if r["type"] == "version" and r["deprecated"]]
    assert [r["purl"] for r in deprecated] == ["pkg:npm/base@1.0.0"]
    edges = {(r["from"], r["to"], r["constraints"]) for r in after if r["type"] == "requires"}
    assert ("pkg:npm/lib-a@1.2.0", "pkg:npm/leaf", "0.1.x") in edges
    assert ("pkg:npm/lib-a@1.0.0", "pkg:npm/base", "^1.0.0") in edges  # old edges kept
    fake_registry.clear_log()
    again = ssc.json("update", "npm")
    assert again["packages_changed"] == 0 and again["packages_processed"] == 0
    assert export(ssc) == after
    assert len(fake_registry.requests()) == 1  # the replica's update_seq, nothing else


def test_feed_reset_is_reconciled(ssc: Ssc, app: NpmApp, fake_registry: FakeRegistry) -> None:
    ssc("ingest", "npm")
    app.publish("base", "1.2.0")
    app.reset_feed()  # the replica was rebuilt: sequences restart below the stored cursor
    app.publish("leaf", "0.2.0", files=None)
    fake_registry.clear_log()
    summary = ssc.json("update", "npm")
    assert summary["packages_changed"] == 2
    # only the two changed packuments were fetched (and one tarball); the rest came from the feed
    packuments = [p for _, p, _ in fake_registry.requests(r"^/npm/[^/]+$")]
    assert sorted(packuments) == ["/npm/base", "/npm/leaf"]
    assert export(ssc) == fresh_export(ssc, "fresh.sqlite")
    assert ssc.json("update", "npm")["packages_changed"] == 0


def test_unpublished_package_becomes_missing(ssc: Ssc, app: NpmApp) -> None:
    ssc("ingest", "npm")
    app.unpublish("leaf")
    summary = ssc.json("update", "npm")
    assert summary["missing"] == 1
    leaf = [r for r in export(ssc) if r.get("name") == "leaf" and r["type"] == "package"]
    assert leaf[0]["status"] == "missing"


def test_fault_injected_update_loses_nothing(
    ssc: Ssc, app: NpmApp, fake_registry: FakeRegistry
) -> None:
    ssc("ingest", "npm")
    change(app)
    app.publish("leaf", "0.3.0", files=None)
    fake_registry.faults = Faults(
        rate_429=0.15, rate_500=0.15, rate_malformed=0.1, rate_truncated=0.1, seed=11
    )
    faulty = ssc("update", "npm", expect=None)
    assert faulty.returncode in (0, 1, 4)
    fake_registry.faults = Faults()
    ssc("update", "npm")  # retries whatever the faulty run recorded as failed
    assert export(ssc) == fresh_export(ssc, "fresh.sqlite")


def test_faults_that_exhaust_retries_keep_the_cursor_and_the_package(
    ssc: Ssc, app: NpmApp, fake_registry: FakeRegistry
) -> None:
    ssc("ingest", "npm")
    change(app)
    fake_registry.faults = Faults(always={r"^/npm/lib-a$": 500})
    failed = ssc.json("update", "npm", expect=1)
    assert [f["package"] for f in failed["failures"]] == ["lib-a"]
    fake_registry.faults = Faults()
    retried = ssc.json("update", "npm")
    assert retried["packages_processed"] == 1
    assert export(ssc) == fresh_export(ssc, "fresh.sqlite")


def test_names_file_ingest_then_first_update_reconciles_from_the_feed(
    ssc: Ssc, app: NpmApp, fake_registry: FakeRegistry
) -> None:
    names = ssc.home / "names.json"
    names.write_text('["lib-a", "@Org/Tool"]', encoding="utf-8")  # all-the-package-names style
    loaded = ssc.json("ingest", "npm", "--names-from", str(names), "--no-follow-deps")
    assert loaded["new_packages_ingested"] == 2
    app.publish("lib-a", "1.3.0")
    fake_registry.clear_log()
    # no cursor yet: the feed is replayed from 0 and only revisions that differ are refetched
    first = ssc.json("update", "npm")
    assert first["packages_changed"] == 1 and first["cursor_saved"] is True
    assert [p for _, p, _ in fake_registry.requests(r"^/npm/[^/]+$")] == ["/npm/lib-a"]
    assert ssc.json("update", "npm")["packages_changed"] == 0


def test_dependency_kinds_setting_adds_optional_edges(ssc: Ssc, app: NpmApp) -> None:
    app.publish("lib-a", "1.4.0", dev={"jest": "^29"}, peer={"base": ">=1"})
    ssc("ingest", "npm", env={"SSC_DEPENDENCY_KINDS": "runtime,optional,peer"})
    edges = {
        (r["from"], r["to"]): (r["kind"], r["optional"], r["constraints"])
        for r in export(ssc)
        if r["type"] == "requires"
    }
    tool = NPM.purl("@Org/Tool", "2.0.0")
    assert edges[(tool, NPM.purl("fsevents"))] == ("optional", True, "^2")
    assert edges[("pkg:npm/lib-a@1.4.0", "pkg:npm/base")] == ("peer", False, ">=1")
    assert ("pkg:npm/lib-a@1.4.0", "pkg:npm/jest") not in edges  # dev is not in the setting
    assert edges[(tool, NPM.purl("dep-src"))] == ("runtime", False, "any")


def test_legacy_names_that_differ_only_by_case_stay_two_packages(
    ssc: Ssc, fake_registry: FakeRegistry
) -> None:
    app = NpmApp()
    app.publish("JSONStream", "1.0.0")
    app.publish("jsonstream", "0.0.1")
    app.mount(fake_registry)
    ssc("ingest", "npm")
    packages = {r["name"]: r["purl"] for r in export(ssc) if r["type"] == "package"}
    assert packages == {"JSONStream": "pkg:npm/JSONStream", "jsonstream": "pkg:npm/jsonstream"}
    versions = {r["purl"] for r in export(ssc) if r["type"] == "version"}
    assert versions == {"pkg:npm/JSONStream@1.0.0", "pkg:npm/jsonstream@0.0.1"}


def test_package_changed_right_after_its_fetch_during_a_long_listing_is_updated(
    ssc: Ssc, fake_registry: FakeRegistry
) -> None:
    app = NpmApp()
    for index in range(520):  # more than the 500 names the pipeline takes from a listing at once
        app.publish(f"p{index:03d}", "1.0.0", files=None)
    app.page_cap = 100  # the replica answers pages shorter than the limit before the end
    app.after_fetch["p000"] = lambda: app.publish("p000", "1.1.0", files=None)
    app.mount(fake_registry)
    ingested = ssc.json("ingest", "npm", "--no-follow-deps")
    assert ingested["new_packages_ingested"] == 520 and not app.after_fetch
    # p000 was fetched while the listing still had pages to read, then changed: its feed row
    # moved past the ids already listed, and only the update can bring it up to date
    updated = ssc.json("update", "npm")
    assert updated["packages_changed"] == 1
    versions = {r["purl"] for r in export(ssc) if r["type"] == "version"}
    assert "pkg:npm/p000@1.1.0" in versions
    assert export(ssc) == fresh_export(ssc, "fresh.sqlite")
