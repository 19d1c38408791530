"""RubyGems end to end through the real command: ingest, /versions appends, update, export, faults."""

from __future__ import annotations

import pytest

from tests.conftest import Ssc
from tests.fakeregistry import rubygems
from tests.fakeregistry.rubygems import FakeGemVersion, RubyGemsApp
from tests.fakeregistry.server import FakeRegistry, Faults


@pytest.fixture
def app(fake_registry: FakeRegistry) -> RubyGemsApp:
    registry = rubygems.synthetic(40)
    fake_registry.mount("rubygems", registry)
    return registry


def _types(export: list[dict[str, object]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in export:
        counts[str(item["type"])] = counts.get(str(item["type"]), 0) + 1
    return counts


def _expected_edges(app: RubyGemsApp) -> int:
    return sum(len(v.dependencies) for g in app.gems.values() for v in g.versions)


def test_ingest_writes_gems_versions_and_edges(ssc: Ssc, app: RubyGemsApp) -> None:
    summary = ssc.json("ingest", "rubygems")
    assert summary["new_packages_ingested"] == 40 and summary["errors"] == 0
    assert summary["total_in_registry"] == 40 and summary["listing_complete"]
    export = ssc.export()
    assert _types(export) == {"package": 40, "version": 120, "requires": _expected_edges(app)}
    package = next(i for i in export if i.get("purl") == "pkg:gem/gem00007")
    assert package == {
        "type": "package",
        "ecosystem": "rubygems",
        "name": "gem00007",
        "purl": "pkg:gem/gem00007",
        "vendor": "owner7",
        "repository_url": "https://github.com/owner7/gem00007",
        "import_names": ["gem00007", "gem00007/core"],
        "status": "extracted",
    }
    edges = [i for i in export if i["type"] == "requires" and i["from"] == "pkg:gem/gem00007@1.4.0"]
    assert {e["to"] for e in edges} == {"pkg:gem/gem00006", "pkg:gem/gem00000"}
    assert all(e["parent_version_name"] == "pkg:gem/gem00007" for e in edges)
    assert {e["constraints"] for e in edges} == {"< 3, >= 1.0"}
    assert {e["raw_constraints"] for e in edges} == {"< 3&>= 1.0"}
    versions = sorted(
        (i["serial_number"], i["name"], i["release_date"])
        for i in export
        if i["type"] == "version" and i["package"] == "pkg:gem/gem00007"
    )
    assert [v[:2] for v in versions] == [(0, "0.4.0"), (1, "1.4.0"), (2, "2.4.0")]
    assert versions[0][2] == "2026-01-08T00:00:00.000Z"


def test_update_equals_fresh_ingest_of_changed_registry(
    ssc: Ssc, app: RubyGemsApp, fake_registry: FakeRegistry
) -> None:
    ssc("ingest", "rubygems")
    # /versions grows: a new version with a new dependency, a yank, a platform build of an
    # existing version with a platform-only dependency, and a brand-new gem.
    app.publish(
        "gem00003",
        FakeGemVersion(
            "3.0.0",
            dependencies=[("gem00001", ">= 1"), ("brand-new", "~> 1.0")],
            created_at="2026-10-01T00:00:00.000Z",
            metadata={"source_code_uri": "https://github.com/owner3/gem00003"},
            files=["lib/gem00003.rb", "lib/gem00003/v3.rb"],
        ),
    )
    app.yank("gem00004", "1.1.0")
    app.publish(
        "gem00005",
        FakeGemVersion(
            "2.2.0", platform="java", dependencies=[("gem00002", ">= 0")], licenses=["MIT"]
        ),
    )
    app.publish("brand-new", FakeGemVersion("1.0.0", files=["lib/brand_new.rb"]))
    fake_registry.clear_log()
    summary = ssc.json("update", "rubygems")
    assert summary["packages_processed"] == 3 and summary["errors"] == 0
    assert summary["total_versions"] == 1 and summary["removed_versions"] == 1
    # The feed cost one Range request; each changed gem a constant: /info, versions, .gem.
    paths = [path for _, path, _ in fake_registry.requests(r"^/rubygems/")]
    assert [s for _, p, s in fake_registry.requests(r"/versions$")] == [206]
    per_gem = [p for p in paths if not p.endswith("/versions")]
    assert len(per_gem) <= 4 * 3  # the budget: a small constant per changed gem
    assert set(per_gem) == set(
        [
            "/rubygems/info/gem00003",
            "/rubygems/api/v1/versions/gem00003.json",
            "/rubygems/gems/gem00003-3.0.0.gem",
            "/rubygems/info/gem00004",
            "/rubygems/api/v1/versions/gem00004.json",
            "/rubygems/gems/gem00004-2.1.0.gem",
            "/rubygems/info/gem00005",
            "/rubygems/api/v1/versions/gem00005.json",
            "/rubygems/gems/gem00005-2.2.0.gem",
        ]
    )
    export = ssc.export()
    java_only = [
        i
        for i in export
        if i["type"] == "requires" and i["from"] == "pkg:gem/gem00005@2.2.0" and i["target"]
    ]
    assert [(e["to"], e["target"], e["constraints"]) for e in java_only] == [
        ("pkg:gem/gem00002", "java", "any")
    ]
    assert not any(i.get("purl") == "pkg:gem/gem00004@1.1.0" for i in export)  # yanked: gone
    ssc("ingest", "rubygems")  # brand-new: new gems are ingest's job (and it is pending here)
    fresh = ssc.with_graph("fresh.sqlite")
    fresh("ingest", "rubygems")
    assert ssc.export() == fresh.export()
    fake_registry.clear_log()
    again = ssc.json("update", "rubygems")
    assert again["packages_processed"] == 0 and again["packages_changed"] == 0
    assert [s for _, _, s in fake_registry.requests(r"/versions$")] == [304]
    assert len(fake_registry.requests()) == 1


def test_month_rollover_reconciles_without_refetching_everything(
    ssc: Ssc, app: RubyGemsApp, fake_registry: FakeRegistry
) -> None:
    ssc("ingest", "rubygems")
    app.publish("gem00010", FakeGemVersion("9.0.0", created_at="2026-11-20T00:00:00.000Z"))
    app.yank("gem00011", "0.3.0")
    app.rebuild(created_at="2026-12-01T00:00:00+00:00")
    fake_registry.clear_log()
    summary = ssc.json("update", "rubygems")
    assert summary["packages_processed"] == 2 and summary["errors"] == 0
    assert len(fake_registry.requests(r"/info/")) == 2  # the MD5s told which gems changed
    fresh = ssc.with_graph("fresh.sqlite")
    fresh("ingest", "rubygems")
    assert ssc.export() == fresh.export()
    app.publish("gem00012", FakeGemVersion("9.9.9"))
    fake_registry.clear_log()
    assert ssc.json("update", "rubygems")["packages_processed"] == 1
    assert [s for _, _, s in fake_registry.requests(r"/versions$")] == [206]  # appends again


def test_faulty_registry_loses_nothing(ssc: Ssc, fake_registry: FakeRegistry) -> None:
    app = rubygems.synthetic(60)
    fake_registry.mount("rubygems", app)
    ssc("ingest", "rubygems")
    for i in range(0, 60, 6):
        app.publish(rubygems.synthetic_name(i), FakeGemVersion("7.0.0", files=["lib/x.rb"]))
    app.yank(rubygems.synthetic_name(1), "0.3.0")
    fake_registry.faults = Faults(
        rate_429=0.08,
        rate_500=0.05,
        rate_timeout=0.02,
        rate_malformed=0.05,
        rate_truncated=0.03,
        timeout_seconds=1.5,
        seed=5,
    )
    env = {"SSC_HTTP_TIMEOUT": "0.5", "SSC_HTTP_RETRIES": "2"}
    first = ssc.json("update", "rubygems", expect=None, env=env)
    assert all(f["reason"] for f in first["failures"])
    fake_registry.faults = Faults()
    second = ssc.json("update", "rubygems")
    assert second["errors"] == 0
    clean = ssc.with_graph("clean.sqlite")
    clean("ingest", "rubygems")
    assert ssc.export() == clean.export()
    assert ssc.json("update", "rubygems")["packages_processed"] == 0


def test_faulty_ingest_then_clean_rerun_matches(ssc: Ssc, fake_registry: FakeRegistry) -> None:
    fake_registry.mount("rubygems", rubygems.synthetic(50))
    clean = ssc.with_graph("clean.sqlite")
    clean("ingest", "rubygems")
    expected = clean.export()
    fake_registry.faults = Faults(
        rate_429=0.1, rate_500=0.05, rate_malformed=0.05, rate_truncated=0.02, seed=21
    )
    ssc.json("ingest", "rubygems", expect=None, env={"SSC_HTTP_RETRIES": "1"})
    fake_registry.faults = Faults()
    second = ssc.json("ingest", "rubygems")
    assert second["errors"] == 0 and second["pending_left"] == 0
    assert ssc.export() == expected


def test_mixed_case_gem_names(ssc: Ssc, fake_registry: FakeRegistry) -> None:
    app = RubyGemsApp()
    app.add("RedCloth", FakeGemVersion("4.3.2"), homepage="https://github.com/jgarber/redcloth")
    app.add("uses-redcloth", FakeGemVersion("1.0", dependencies=[("RedCloth", "~> 4.3")]))
    app.rebuild()
    fake_registry.mount("rubygems", app)
    names = ssc.home / "names.txt"
    names.write_text("uses-redcloth\n")
    ssc("ingest", "rubygems", "--names-from", str(names))  # RedCloth found as a dependency
    export = ssc.export()
    red = next(i for i in export if i.get("purl") == "pkg:gem/redcloth")
    assert red["status"] == "extracted" and red["vendor"] == "jgarber"
    app.publish("RedCloth", FakeGemVersion("4.3.3"))
    assert ssc.json("update", "rubygems")["packages_processed"] == 1  # no cursor yet: by MD5
    versions = {i["name"] for i in ssc.export() if i.get("package") == "pkg:gem/redcloth"}
    assert versions == {"4.3.2", "4.3.3"}
