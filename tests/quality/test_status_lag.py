"""`ssc status --lag`: each registry's head against the stored update cursor, one small request
per registry, against fake registries that move on between runs (issue 12 item 4)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from ssc_cli.http import Http, HttpConfig
from ssc_cli.registries.cargo.client import CargoRegistry
from ssc_cli.registries.interface import CursorLag
from ssc_cli.settings import load_settings
from tests.conftest import Ssc
from tests.fakeregistry import nuget, pypi, rubygems
from tests.fakeregistry.maven import MavenApp, simple_pom
from tests.fakeregistry.npm import NpmApp
from tests.fakeregistry.rubygems import FakeGemVersion, RubyGemsApp
from tests.fakeregistry.server import FakeRegistry
from tests.quality.test_metrics import value

pytestmark = pytest.mark.slow

MEASURED = ("pypi", "npm", "maven", "nuget", "rubygems")


class World:
    """The fake registries of the test, and how to move each one on."""

    def __init__(self, server: FakeRegistry) -> None:
        self.pypi = pypi.synthetic(3, versions=2, deps=1, wheels=False)
        server.mount("pypi", self.pypi)
        self.npm = NpmApp()
        self.npm.publish("base", "1.0.0")
        self.npm.publish("lib-a", "1.0.0", dependencies={"base": "^1.0.0"})
        self.npm.mount(server)
        self.maven = MavenApp.default()
        server.mount("maven", self.maven)
        self.nuget = nuget.synthetic(4, versions_per_package=2, deps_per_version=1)
        server.mount("nuget", self.nuget)
        self.rubygems: RubyGemsApp = rubygems.synthetic(4)
        server.mount("rubygems", self.rubygems)

    def advance(self) -> dict[str, int]:
        """New releases everywhere; the lag each registry's head should now show."""
        for version in ("9.0.0", "9.1.0"):
            self.pypi.release("pkg-00001", version)  # one serial each
        self.pypi.touch("pkg-00002")
        for version in ("1.1.0", "1.2.0", "1.3.0", "1.4.0"):
            self.npm.publish("lib-a", version)  # one feed sequence each
        for version in ("7.0", "7.1"):  # one incremental chunk each
            pom = simple_pom("org.example", "core", version)
            self.maven.add("org.example", "core", version, pom, packages=["org.example.core"])
            self.maven.publish()
        before = _moment(self.nuget.head)
        self.nuget.publish("Synthetic.Pkg1", "9.0.0")
        self.nuget.commit()
        self.nuget.publish("Synthetic.Pkg2", "9.0.0")
        self.nuget.commit()
        size = len(self.rubygems.versions_file)
        self.rubygems.publish("gem00001", FakeGemVersion("9.0.0"))
        self.rubygems.publish("gem00002", FakeGemVersion("9.0.0"))
        return {
            "pypi": 3,
            "npm": 4,
            "maven": 2,
            "nuget": int((_moment(self.nuget.head) - before).total_seconds()),
            "rubygems": len(self.rubygems.versions_file) - size,
        }


def _moment(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp[:26] + "+00:00")


@pytest.fixture
def world(fake_registry: FakeRegistry) -> World:
    return World(fake_registry)


def _lags(ssc: Ssc, *args: str) -> dict[str, Any]:
    report = ssc.json("status", *args)
    assert report["exit_code"] == 0
    return {
        row["ecosystem"]: row["cursor_lag"] for row in report["datasets"] if row["job"] == "update"
    }


def _by_registry(server: FakeRegistry) -> dict[str, list[tuple[str, str, int]]]:
    seen: dict[str, list[tuple[str, str, int]]] = {}
    for method, path, status in server.requests():
        seen.setdefault(path.split("/")[1], []).append((method, path, status))
    return seen


def _synced(ssc: Ssc) -> None:
    for eco in MEASURED:
        ssc("ingest", eco)
        ssc("update", eco)


def test_the_lag_is_the_registry_head_minus_the_stored_cursor(
    ssc: Ssc, world: World, fake_registry: FakeRegistry
) -> None:
    _synced(ssc)
    fake_registry.clear_log()
    assert set(_lags(ssc).values()) == {None}  # offline by default: not asked, not measured
    assert fake_registry.requests() == []

    right_after = _lags(ssc, "--lag")
    for eco in MEASURED:
        assert right_after[eco]["value"] == 0, right_after[eco]
        assert right_after[eco]["reason"] is None
    assert {eco: right_after[eco]["unit"] for eco in MEASURED} == {
        "pypi": "serials",
        "npm": "sequence",
        "maven": "chunks",
        "nuget": "seconds",
        "rubygems": "bytes",
    }
    cargo = right_after["cargo"]  # never updated here; and never measured (a large download)
    assert cargo["value"] is None and "no update cursor" in cargo["reason"]

    expected = world.advance()
    assert all(lag > 0 for lag in expected.values()), expected
    fake_registry.clear_log()
    behind = _lags(ssc, "--lag")
    assert {eco: behind[eco]["value"] for eco in MEASURED} == expected
    assert behind["pypi"]["head"] == world.pypi.serial
    assert behind["npm"]["head"] == world.npm.seq
    assert behind["rubygems"]["head"] == len(world.rubygems.versions_file)

    # One small request per registry (NuGet: the service index names the catalog index).
    requests = _by_registry(fake_registry)
    assert requests.pop("pypi") == [("HEAD", "/pypi/simple/", 200)]
    assert requests.pop("npm-replicate") == [("GET", "/npm-replicate/", 200)]
    assert [(m, p) for m, p, _ in requests.pop("maven")] == [
        ("GET", "/maven/.index/nexus-maven-repository-index.properties")
    ]
    assert [(m, p) for m, p, _ in requests.pop("nuget")] == [
        ("GET", "/nuget/v3/index.json"),
        ("GET", "/nuget/v3/catalog0/index.json"),
    ]
    assert requests.pop("rubygems") == [("HEAD", "/rubygems/versions", 200)]
    assert requests == {}

    # The table shows each lag with its unit; the metrics file carries it too.
    metrics = ssc.home / "metrics"
    table = ssc("status", "--lag", env={"SSC_METRICS_DIR": str(metrics)}).stdout
    prom = metrics / "ssc_status.prom"
    for eco in MEASURED:
        labels = {"command": "update", "ecosystem": eco, "unit": behind[eco]["unit"]}
        assert value(prom, "ssc_status_cursor_lag", **labels) == expected[eco]
    line = next(row for row in table.splitlines() if row.startswith("update npm "))
    assert f" {expected['npm']} sequence " in line

    # An update catches up: the lag is back to zero.
    for eco in MEASURED:
        ssc("update", eco)
    caught_up = _lags(ssc, "--lag")
    assert {eco: caught_up[eco]["value"] for eco in MEASURED} == dict.fromkeys(MEASURED, 0)


def test_an_unreachable_registry_leaves_its_lag_null_with_the_error(
    ssc: Ssc, world: World, fake_registry: FakeRegistry
) -> None:
    for eco in ("npm", "rubygems"):
        ssc("ingest", eco)
        ssc("update", eco)
    world.rubygems.publish("gem00001", FakeGemVersion("9.0.0"))
    fake_registry.faults.always[r"^/npm-replicate/$"] = 503
    result = ssc("status", "--lag", "--json")
    assert result.returncode == 0  # never exit 4 for a lag: status still reports
    rows = {row["dataset"]: row for row in json.loads(result.stdout)["datasets"]}
    npm = rows["update npm"]["cursor_lag"]
    assert npm["value"] is None and "503" in npm["reason"]
    assert rows["update rubygems"]["cursor_lag"]["value"] > 0  # the others are still measured
    table = ssc("status", "--lag")
    assert "update npm: no lag: registry not reached" in table.stderr
    line = next(row for row in table.stdout.splitlines() if row.startswith("update npm "))
    assert " ? " in line


def test_a_head_below_the_cursor_gives_no_value_but_the_reason(
    ssc: Ssc, world: World, fake_registry: FakeRegistry
) -> None:
    for version in ("1.1.0", "1.2.0"):
        world.npm.publish("lib-a", version)
    ssc("ingest", "npm")
    ssc("update", "npm")
    world.npm.reset_feed()  # a rebuilt replica: update_seq restarts below the stored cursor
    lag = _lags(ssc, "--lag")["npm"]
    assert lag["value"] is None and lag["head"] < lag["cursor"]
    assert "replica was rebuilt" in lag["reason"]


def test_crates_is_not_measured_and_costs_no_request(
    tmp_path: Path, fake_registry: FakeRegistry
) -> None:
    settings = load_settings(
        None,
        data_dir=str(tmp_path),
        cache_dir=str(tmp_path / "cache"),
        crates_index_url=fake_registry.url("crates-index"),
        crates_static_url=fake_registry.url("crates-static"),
        crates_api_url=fake_registry.url("crates-api"),
    )

    async def measure() -> CursorLag:
        async with Http(HttpConfig.from_settings(settings)) as http:
            crates = CargoRegistry(settings, http)
            return await crates.cursor_lag({"timestamp": "2026-12-01T02:00:00Z"})

    lag = asyncio.run(measure())
    assert lag.value is None and "large download" in (lag.reason or "")
    assert lag.cursor == "2026-12-01T02:00:00Z"
    assert fake_registry.requests() == []
