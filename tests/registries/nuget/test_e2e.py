"""NuGet end to end through the real command: ingest, catalog growth, update, kills, re-runs."""

from __future__ import annotations

import signal
import time

import pytest

from tests.conftest import Ssc
from tests.fakeregistry import nuget
from tests.fakeregistry.server import FakeRegistry, Faults


def _feed() -> nuget.NuGetApp:
    return nuget.synthetic(
        24, versions_per_package=3, deps_per_version=2, page_size=10, commit_size=4
    )


@pytest.fixture
def app(fake_registry: FakeRegistry) -> nuget.NuGetApp:
    feed = _feed()
    fake_registry.mount("nuget", feed)
    return feed


def _types(export: list[dict[str, object]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in export:
        counts[str(item["type"])] = counts.get(str(item["type"]), 0) + 1
    return counts


def _grow(app: nuget.NuGetApp) -> None:
    """The catalog moves on: new versions, deletes, unlist, deprecation, a reflow, a new id."""
    app.publish(
        "Synthetic.Pkg3",
        "2.0.0",
        deps={"net8.0": [("Synthetic.Pkg1", "[1.0.0, 2.0.0)"), ("Brand.New.Dep", "[1.0.0, )")]},
        repository="https://github.com/synthetic/pkg3",
        dlls=["Synthetic.Pkg3", "Synthetic.Pkg3.Extras"],
    )
    app.publish("Brand.New.Dep", "1.0.0")
    app.delete("Synthetic.Pkg5", "1.1.0")
    app.commit()
    app.unlist("Synthetic.Pkg6", "1.0.0")
    app.deprecate("Synthetic.Pkg7", "1.2.0", ["Legacy"], "use something else")
    app.reflow("Synthetic.Pkg8", "1.0.0")
    app.commit()
    for minor in range(3):
        app.delete("Synthetic.Pkg9", f"1.{minor}.0")
    app.publish("Brand.New", "1.0.0", deps={"any": [("Synthetic.Pkg2", "")]})
    app.commit()
    app.reflow("Synthetic.Pkg8", "1.0.0")  # the same version again: processed idempotently
    app.commit()


def test_ingest_writes_packages_versions_and_edges(ssc: Ssc, app: nuget.NuGetApp) -> None:
    summary = ssc.json("ingest", "nuget")
    assert summary["new_packages_ingested"] == 24 and summary["errors"] == 0
    assert summary["total_in_registry"] == 24 and summary["pending_left"] == 0
    export = ssc.export()
    # One edge per dependency id: net6.0 and netstandard2.0 groups share their first id.
    assert _types(export) == {"package": 24, "version": 72, "requires": 144}
    package = next(i for i in export if i.get("purl") == "pkg:nuget/synthetic.pkg7")
    assert package == {
        "type": "package",
        "ecosystem": "nuget",
        "name": "synthetic.pkg7",
        "purl": "pkg:nuget/synthetic.pkg7",
        "vendor": "synthetic",
        "repository_url": "https://github.com/synthetic/pkg7",
        "import_names": ["Synthetic.Pkg7"],
        "status": "extracted",
    }
    edges = [
        i
        for i in export
        if i["type"] == "requires" and i["from"] == "pkg:nuget/synthetic.pkg7@1.1.0"
    ]
    assert sorted((e["to"], e["constraints"]) for e in edges) == [
        ("pkg:nuget/synthetic.pkg5", "[1.2.0, )"),
        ("pkg:nuget/synthetic.pkg6", "[1.1.0, )"),
    ]
    assert all(e["parent_version_name"] == "pkg:nuget/synthetic.pkg7" for e in edges)


def test_second_ingest_is_a_no_op(
    ssc: Ssc, app: nuget.NuGetApp, fake_registry: FakeRegistry
) -> None:
    ssc("ingest", "nuget")
    first = ssc.export()
    fake_registry.clear_log()
    summary = ssc.json("ingest", "nuget")
    assert summary["new_packages_ingested"] == 0 and summary["skipped_existing"] == 24
    assert ssc.export() == first
    # The archive already holds every page: the listing read the catalog index only.
    assert [p for _, p, _ in fake_registry.requests(r"/catalog0/")] == [
        "/nuget/v3/catalog0/index.json"
    ]


def test_update_equals_fresh_ingest_of_changed_registry(
    ssc: Ssc, app: nuget.NuGetApp, fake_registry: FakeRegistry
) -> None:
    ssc("ingest", "nuget")
    _grow(app)
    fake_registry.clear_log()
    summary = ssc.json("update", "nuget")
    assert summary["packages_changed"] == 6 and summary["packages_processed"] == 6
    assert summary["total_versions"] == 1 and summary["removed_versions"] == 4
    assert summary["errors"] == 0 and summary["cursor_saved"]
    # Only the catalog pages after the watermark were read, and only their new leaves.
    pages = {p for _, p, _ in fake_registry.requests(r"/catalog0/page")}
    assert pages == {"/nuget/v3/catalog0/page7.json", "/nuget/v3/catalog0/page8.json"}
    assert len(fake_registry.requests(r"/catalog0/data/")) == 11
    assert not fake_registry.requests(r"/registration5")
    export = ssc.export()
    by_purl = {i["purl"]: i for i in export if "purl" in i}
    assert "pkg:nuget/synthetic.pkg5@1.1.0" not in by_purl
    assert by_purl["pkg:nuget/synthetic.pkg6@1.0.0"]["yanked"] is True
    assert by_purl["pkg:nuget/synthetic.pkg7@1.2.0"]["deprecated"] == "use something else"
    assert not [i for i in export if i.get("package") == "pkg:nuget/synthetic.pkg9"]
    assert by_purl["pkg:nuget/synthetic.pkg3"]["import_names"] == [
        "Synthetic.Pkg3",
        "Synthetic.Pkg3.Extras",
    ]
    assert by_purl["pkg:nuget/brand.new.dep"]["status"] == "pending"  # a new edge's target
    ssc("ingest", "nuget")  # the new ids: Brand.New from the listing, the pending dependency
    fresh = ssc.with_graph("fresh.sqlite")
    fresh("ingest", "nuget")
    assert ssc.export() == fresh.export()
    again = ssc.json("update", "nuget")  # re-run: nothing committed after the watermark
    assert again["packages_changed"] == 0 and again["cursor_saved"]
    assert ssc.export() == fresh.export()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("job", "watch", "threshold"),
    [
        ("update", r"\.nupkg$", 8),  # killed while writing the changed packages
        ("update", r"/catalog0/data/", 12),  # killed while archiving the new leaves
        ("ingest", r"/catalog0/data/", 40),  # killed in the middle of the first catalog walk
    ],
    ids=["update-writing", "update-walking", "ingest-walking"],
)
def test_killed_run_then_rerun_loses_and_skips_nothing(
    ssc: Ssc, fake_registry: FakeRegistry, job: str, watch: str, threshold: int
) -> None:
    app = _feed()
    fake_registry.mount("nuget", app)
    if job == "update":
        ssc("ingest", "nuget")
        for index in range(20):  # enough new leaves to span several pages
            app.publish(
                f"Synthetic.Pkg{index}", "3.0.0", deps={"net8.0": [("Synthetic.Pkg0", "[1.0.0, )")]}
            )
            if index % 3 == 2:
                app.commit()
        app.delete("Synthetic.Pkg21", "1.0.0")
        app.commit()
    fresh = ssc.with_graph("fresh.sqlite")
    fresh("ingest", "nuget")
    expected = fresh.export()
    before = ssc.export() if job == "update" else []  # an ingest starts with no graph
    fake_registry.clear_log()
    fake_registry.latency = 0.2  # the requests left after the kill point take >= 1.2 s
    process = ssc.popen(job, "nuget", "--concurrency", "2", env={"SSC_WRITE_BATCH_SIZE": "2"})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(fake_registry.requests(watch)) < threshold:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.communicate()  # reaps it and closes its pipes
    fake_registry.latency = 0.0
    assert ssc.export() != expected  # the kill left work undone
    if job == "update":
        assert ssc.export() != before or watch != r"\.nupkg$"
    ssc(job, "nuget")
    if job == "ingest":
        ssc("ingest", "nuget")  # pending dependencies first, then the rest of the listing
    assert ssc.export() == expected
    assert ssc.json("update", "nuget")["packages_changed"] == 0


@pytest.mark.slow
def test_faults_lose_nothing_and_a_second_run_completes(
    ssc: Ssc, fake_registry: FakeRegistry
) -> None:
    app = _feed()
    fake_registry.mount("nuget", app)
    faults = Faults(
        rate_429=0.08,
        rate_500=0.05,
        rate_timeout=0.02,
        rate_malformed=0.02,
        timeout_seconds=1.0,
        seed=7,
    )
    env: dict[str, str | None] = {"SSC_HTTP_TIMEOUT": "0.5", "SSC_HTTP_RETRIES": "2"}
    fake_registry.faults = faults
    first = ssc("ingest", "nuget", expect=None, env=env)
    assert first.returncode in (0, 1, 4)  # failed packages recorded, or the walk gave up
    fake_registry.faults = Faults()
    ssc("ingest", "nuget")
    ssc("ingest", "nuget")  # dependencies a failed package left pending
    _grow(app)
    for seed in (8, 9):
        fake_registry.faults = Faults(rate_429=0.15, rate_500=0.1, rate_malformed=0.05, seed=seed)
        second = ssc("update", "nuget", expect=None, env={**env, "SSC_HTTP_RETRIES": "1"})
        assert second.returncode in (0, 1, 4)
    fake_registry.faults = Faults()
    ssc("update", "nuget")
    ssc("ingest", "nuget")
    fresh = ssc.with_graph("fresh.sqlite")
    fresh("ingest", "nuget")
    assert ssc.export() == fresh.export()
