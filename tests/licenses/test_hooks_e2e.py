"""Classification at the end of ingest and update (only changed signals), and `ssc classify`."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Ssc
from tests.fakeregistry.npm import NpmApp
from tests.fakeregistry.server import FakeRegistry
from tests.licenses.spdx_data import SPDX_DIR, require_real_fixtures

pytestmark = pytest.mark.slow


@pytest.fixture
def npm(ssc: Ssc, fake_registry: FakeRegistry) -> NpmApp:
    require_real_fixtures("spdx")
    app = NpmApp()
    app.publish("mit-lib", "1.0.0", license="MIT")
    app.publish("old-style", "0.1.0", license={"type": "BSD-3-Clause", "url": "https://x/LICENSE"})
    app.publish("closed", "1.0.0", license="UNLICENSED")
    app.publish("changing", "1.0.0", license="GPL-2.0")
    app.publish("changing", "2.0.0", license="MIT")
    app.publish("nothing", "1.0.0", license=None)
    npm_url, replicate = app.mount(fake_registry)
    ssc.env["SSC_NPM_URL"], ssc.env["SSC_NPM_REPLICATE_URL"] = npm_url, replicate
    return app


def _packages(ssc: Ssc) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in ssc.export("--ecosystem", "npm") if p["type"] == "package"}


def _classify_runs(ssc: Ssc) -> int:
    db = sqlite3.connect(Path(ssc.graph_uri.split("sqlite:///", 1)[1]))
    try:
        return int(db.execute("SELECT count(*) FROM runs WHERE job = 'classify'").fetchone()[0])
    finally:
        db.close()


def test_ingest_then_update_classify_only_what_changed(ssc: Ssc, npm: NpmApp) -> None:
    unsynced = ssc.json("ingest", "npm")
    assert unsynced["classified"]["packages"] == 0
    assert "ssc licenses sync" in unsynced["classified"]["skipped"]
    ssc("licenses", "sync", str(SPDX_DIR))  # classifies the five stored packages
    packages = _packages(ssc)
    assert {n: p["oss_status"] for n, p in packages.items()} == {
        "mit-lib": "open_source",
        "old-style": "open_source",
        "closed": "proprietary",
        "changing": "open_source",
        "nothing": "unknown",
    }
    changing = packages["changing"]
    assert (changing["license_expression"], changing["license_raw"]) == ("MIT", "MIT")
    versions = {
        v["name"]: v
        for v in ssc.export("--ecosystem", "npm")
        if v["type"] == "version" and v["package"] == "pkg:npm/changing"
    }
    assert versions["1.0.0"]["license_expression"] == "GPL-2.0-only"  # its own signals differ
    assert "oss_status" not in versions["2.0.0"]  # the package's

    npm.publish("changing", "3.0.0", license="BUSL-1.1")
    npm.publish("mit-lib", "1.0.1", license="MIT")  # a new version, same signals: reclassified
    runs = _classify_runs(ssc)
    update = ssc.json("update", "npm")
    assert update["classified"]["packages"] == 2
    assert update["classified"]["verdicts_changed"] == 1
    assert update["classified"]["by_status"] == {"open_source": 1, "proprietary": 1, "unknown": 0}
    assert _packages(ssc)["changing"]["oss_reason"] == "source-available"
    assert _classify_runs(ssc) == runs + 1

    # By hand: nothing changed since, so nothing is classified unless --all.
    assert ssc.json("classify", "npm")["packages_classified"] == 0
    dry = ssc.json("classify", "--all", "--dry-run")
    assert dry["packages_classified"] == 5 and dry["run_id"] is None
    everything = ssc.json("classify", "npm", "--all")
    assert everything["packages_checked"] == 5 and everything["packages_classified"] == 5
    assert everything["verdicts_changed"] == 0
    assert everything["reasons"]["marker-unlicensed"] == 1

    shown = ssc.json("graph", "show", "npm", "changing")
    assert shown["oss_status"] == "proprietary" and shown["license_ids"] == ["BUSL-1.1"]
    plain = ssc("graph", "show", "npm", "changing").stdout
    assert "BUSL-1.1" in plain and "proprietary" in plain and "source-available" in plain
