"""Maven end to end through the real command: ingest, incremental update, export, kill and rerun."""

from __future__ import annotations

import signal
import time

import pytest

from tests.conftest import Ssc
from tests.fakeregistry.maven import MavenApp, app_pom, simple_pom
from tests.fakeregistry.server import FakeRegistry, Faults


@pytest.fixture
def app(fake_registry: FakeRegistry) -> MavenApp:
    repository = MavenApp.default()
    fake_registry.mount("maven", repository)
    return repository


def by_purl(export: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    return {str(item.get("purl") or f"{item['from']}->{item['to']}"): item for item in export}


def test_ingest_writes_packages_versions_and_edges(ssc: Ssc, app: MavenApp) -> None:
    summary = ssc.json("ingest", "maven")
    assert summary["errors"] == 0 and summary["pending_left"] == 0
    items = by_purl(ssc.export())
    assert items["pkg:maven/org.example/app"] == {
        "type": "package",
        "ecosystem": "maven",
        "name": "org.example:app",
        "purl": "pkg:maven/org.example/app",
        "vendor": "example",
        "repository_url": "https://github.com/example/project",
        "import_names": ["org.example.app", "org.example.shaded"],
        "status": "extracted",
        "group_id": "org.example",
        "artifact_id": "app",
    }
    edge = items["pkg:maven/org.example/app@1.1->pkg:maven/com.acme/util"]
    assert edge["constraints"] == "2.1" and edge["raw_constraints"] == ""
    assert edge["kind"] == "runtime" and edge["parent_version_name"] == "pkg:maven/org.example/app"
    assert (
        items["pkg:maven/org.example/app@1.1->pkg:maven/org.example/core"]["constraints"] == "1.1"
    )
    # test, provided and optional dependencies are not edges by default
    assert "pkg:maven/org.example/app@1.1->pkg:maven/junit/junit" not in items
    assert "pkg:maven/org.example/app@1.1->pkg:maven/com.acme/optional-thing" not in items
    # dependencies absent from the repository are recorded as missing, their edges kept
    assert items["pkg:maven/org.slf4j/slf4j-api"]["status"] == "missing"
    # a second ingest is a no-op
    before = ssc.export()
    again = ssc.json("ingest", "maven")
    assert again["new_packages_ingested"] == 0 and ssc.export() == before
    shown = ssc("graph", "show", "maven", "org.example:app").stdout
    assert "org.example:app" in shown
    version = items["pkg:maven/org.example/app@1.0"]
    assert version["serial_number"] == 0 and str(version["release_date"]).startswith("2020-09")


def test_update_applies_incremental_chunks_and_equals_a_fresh_ingest(
    ssc: Ssc, app: MavenApp, fake_registry: FakeRegistry
) -> None:
    ssc("ingest", "maven")
    app.add("org.example", "app", "1.2", app_pom("1.2"), packages=["org.example.app"])
    app.add(
        "org.example",
        "extra",
        "0.1",
        simple_pom("org.example", "extra", "0.1", [("org.example", "core", "1.1")]),
        packages=["org.example.extra"],
    )
    app.publish()  # incremental chunk 1: a new version and a new artifact
    fake_registry.clear_log()
    summary = ssc.json("update", "maven")
    assert summary["packages_processed"] == 1 and summary["total_versions"] == 1
    assert summary["errors"] == 0 and summary["cursor_saved"]
    # The update read the incremental chunk, not the full index, and one new POM.
    assert fake_registry.requests(r"index\.1\.gz$")
    assert not fake_registry.requests(r"repository-index\.gz$")
    assert [p for _, p, _ in fake_registry.requests(r"\.pom$")] == [
        "/maven/org/example/app/1.2/app-1.2.pom"
    ]
    ssc("ingest", "maven")  # the brand-new artifact, as for every registry
    fresh = ssc.with_graph("fresh.sqlite")
    fresh("ingest", "maven")
    assert ssc.export() == fresh.export()
    fake_registry.clear_log()
    again = ssc.json("update", "maven")
    assert again["packages_processed"] == 0  # re-run: nothing changed
    assert not fake_registry.requests(r"\.(pom|gz)$")


def test_chain_reset_reloads_the_index_and_finds_the_change(
    ssc: Ssc, app: MavenApp, fake_registry: FakeRegistry
) -> None:
    ssc("ingest", "maven")
    app.add("com.acme", "util", "2.2", simple_pom("com.acme", "util", "2.2"))
    app.reset_chain("2024")
    summary = ssc.json("update", "maven")
    assert summary["packages_processed"] == 1 and summary["total_versions"] == 1
    fresh = ssc.with_graph("fresh.sqlite")
    fresh("ingest", "maven")
    assert ssc.export() == fresh.export()


def test_sigkill_midway_then_rerun_matches_uninterrupted(
    ssc: Ssc, fake_registry: FakeRegistry
) -> None:
    fake_registry.mount("maven", MavenApp.synthetic(60, versions_per_package=3))
    clean = ssc.with_graph("clean.sqlite")
    clean("ingest", "maven")
    expected = clean.export()
    fake_registry.latency = 0.05  # the 90 POMs left after the kill point take >= 2.2 s
    fake_registry.clear_log()
    env = {"SSC_WRITE_BATCH_SIZE": "5", "SSC_CACHE_DIR": str(ssc.home / "cache-killed")}
    process = ssc.popen("ingest", "maven", "--concurrency", "2", env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(fake_registry.requests(r"\.pom$")) < 90:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.communicate()  # reap it and close its pipes
    partial = [i for i in ssc.export() if i["type"] == "package" and i["status"] == "extracted"]
    assert 0 < len(partial) < 60
    fake_registry.latency = 0.0
    ssc("ingest", "maven", env=env)
    assert ssc.export() == expected


def test_faults_lose_nothing_and_a_second_run_completes(
    ssc: Ssc, fake_registry: FakeRegistry
) -> None:
    fake_registry.mount("maven", MavenApp.synthetic(30, versions_per_package=2))
    clean = ssc.with_graph("clean.sqlite")
    clean("ingest", "maven", env={"SSC_CACHE_DIR": str(ssc.home / "cache-clean")})
    expected = clean.export()
    fake_registry.faults = Faults(
        rate_429=0.08,
        rate_500=0.05,
        rate_timeout=0.02,
        rate_malformed=0.03,
        timeout_seconds=1.0,
        seed=7,
    )
    env = {"SSC_HTTP_TIMEOUT": "0.5", "SSC_HTTP_RETRIES": "2"}
    first = ssc.json("ingest", "maven", expect=None, env=env)
    assert first["new_packages_ingested"] > 0
    assert all(f["reason"] for f in first.get("failures", []))
    fake_registry.faults = Faults()
    second = ssc.json("ingest", "maven")
    assert second["errors"] == 0 and second["pending_left"] == 0
    assert ssc.export() == expected


def test_a_pom_missing_at_ingest_is_completed_by_the_next_update(
    ssc: Ssc, app: MavenApp, fake_registry: FakeRegistry
) -> None:
    fake_registry.faults = Faults(always={r"app-1\.1\.pom$": 404})
    ssc("ingest", "maven")
    edges = [i for i in ssc.export() if i["type"] == "requires"]
    assert not [e for e in edges if e["from"] == "pkg:maven/org.example/app@1.1"]
    fake_registry.faults = Faults()
    summary = ssc.json("update", "maven")  # nothing published: the gap alone brings it back
    assert summary["packages_processed"] == 1 and summary["errors"] == 0
    fresh = ssc.with_graph("fresh.sqlite")
    fresh("ingest", "maven")
    assert ssc.export() == fresh.export()
