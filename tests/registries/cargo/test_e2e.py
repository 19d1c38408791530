"""`ssc ingest cargo` / `ssc update cargo` end to end against the fake crates.io."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Ssc
from tests.fakeregistry.cargo import CargoApp, FakeDep
from tests.fakeregistry.server import FakeRegistry, Faults

pytestmark = pytest.mark.slow


def registry_app() -> CargoApp:
    """Forty synthetic crates plus the awkward shapes: renames, cfg targets, non-runtime kinds."""
    app = CargoApp.synthetic(40, seed=11)
    app.publish("winapi", "0.3.9", repository="https://github.com/retep998/winapi-rs")
    app.publish(
        "Serde-Json",
        "1.0.0",
        [
            FakeDep("crate-00001", "^1.0", alias="one"),
            FakeDep("winapi", "0.3", target="cfg(windows)"),
            FakeDep("crate-00002", "1", kind=2),
            FakeDep("crate-00003", "*", optional=True),
        ],
        modules=["de", "ser"],
        repository="https://github.com/serde-rs/json",
    )
    return app


def change(app: CargoApp) -> None:
    """New versions, a yank, a deleted version, a new crate and a new dependency on it."""
    app.publish("crate-00005", "2.0.0", [FakeDep("crate-00001", "^1.1")], modules=["v2"])
    app.yank("crate-00007", "1.0.0")
    app.delete_version("crate-00009", "1.2.0")
    app.publish("fresh-crate", "0.1.0", [FakeDep("winapi", "0.3")])
    app.publish("Serde-Json", "1.0.1", [FakeDep("fresh-crate", "0.1"), FakeDep("winapi", "*")])


def cargo_export(ssc: Ssc) -> list[dict[str, Any]]:
    return ssc.export("--ecosystem", "cargo")


def test_update_matches_a_fresh_ingest(ssc: Ssc, fake_registry: FakeRegistry) -> None:
    app = registry_app().mount_on(fake_registry)
    first = ssc.json("ingest", "cargo")
    assert first["new_packages_ingested"] == 42
    before = cargo_export(ssc)
    change(app)

    fake_registry.clear_log()
    summary = ssc.json("update", "cargo")
    assert summary["packages_changed"] == 5  # 00005, 00007, 00009, Serde-Json, fresh-crate
    assert summary["errors"] == 0 and summary["cursor_saved"] is True
    # The dump, then one .crate per changed crate: nothing else.
    paths = [p for _, p, _ in fake_registry.requests()]
    assert paths.count("/crates-static/db-dump.tar.gz") == 1
    assert len(paths) == 1 + 5 and not any("crates-index" in p for p in paths)

    updated = cargo_export(ssc)
    assert updated != before
    fresh = ssc.with_graph("fresh.sqlite")
    fresh("ingest", "cargo")
    assert cargo_export(fresh) == updated

    versions = {r["purl"]: r for r in updated if r["type"] == "version"}
    assert versions["pkg:cargo/crate-00007@1.0.0"]["yanked"] is True
    assert "pkg:cargo/crate-00009@1.2.0" not in versions
    edges = [r for r in updated if r["type"] == "requires"]
    serde = {
        (e["to"], e["constraints"], e["target"])
        for e in edges
        if e["from"].startswith("pkg:cargo/serde-json@")
    }
    assert serde == {
        ("pkg:cargo/crate-00001", "^1.0", None),  # the alias `one` points at the real crate
        ("pkg:cargo/winapi", "0.3", "cfg(windows)"),
        ("pkg:cargo/fresh-crate", "0.1", None),
        ("pkg:cargo/winapi", "any", None),
    }

    fake_registry.clear_log()
    again = ssc.json("update", "cargo")
    assert again["packages_changed"] == 0
    assert fake_registry.requests() == [("GET", "/crates-static/db-dump.tar.gz", 304)]
    assert cargo_export(ssc) == updated


def test_faults_lose_nothing(ssc: Ssc, fake_registry: FakeRegistry) -> None:
    """Ingest and update through 429s, 500s, mangled and cut-off bodies; then compare."""
    app = registry_app().mount_on(fake_registry)
    fake_registry.faults = Faults(
        rate_429=0.06, rate_500=0.06, rate_malformed=0.06, rate_truncated=0.04, seed=5
    )
    patient = {"SSC_HTTP_RETRIES": "8"}
    ssc("ingest", "cargo", expect=None, env=patient)
    change(app)
    ssc("update", "cargo", expect=None, env=patient)
    statuses = {status for _, _, status in fake_registry.requests()}
    assert {429, 500} <= statuses
    fake_registry.faults = Faults()
    # Whatever failed above carries its error and is retried by the next update.
    ssc("update", "cargo", expect=0)
    fresh = ssc.with_graph("fresh.sqlite")
    fresh("ingest", "cargo")
    assert cargo_export(ssc) == cargo_export(fresh)
