"""ssc doctor against the fake registries: every registry setting probed, a wrong one named."""

from __future__ import annotations

import json

from tests.conftest import Ssc
from tests.fakeregistry import cargo, nuget, pypi, rubygems
from tests.fakeregistry.maven import MavenApp
from tests.fakeregistry.npm import NpmApp
from tests.fakeregistry.server import FakeRegistry


def _mount_all(fake_registry: FakeRegistry) -> None:
    fake_registry.mount("pypi", pypi.synthetic(3))
    NpmApp.synthetic(3).mount(fake_registry)
    fake_registry.mount("maven", MavenApp.synthetic(3))
    fake_registry.mount("nuget", nuget.synthetic(3))
    cargo.CargoApp.synthetic(3).mount_on(fake_registry)
    fake_registry.mount("rubygems", rubygems.synthetic(3))


def test_doctor_probes_every_registry_without_downloading_listings(
    ssc: Ssc, fake_registry: FakeRegistry
) -> None:
    _mount_all(fake_registry)
    fake_registry.clear_log()
    checks = ssc.json("doctor")
    registry_checks = [c for c in checks if c["check"].startswith("registry ")]
    assert {c["check"] for c in registry_checks} == {
        f"registry {e}" for e in ("pypi", "npm", "maven", "nuget", "cargo", "rubygems")
    }
    assert all(c["ok"] for c in checks), checks
    # Listings can be hundreds of MB on the real registries: doctor only asks for headers.
    assert {method for method, _path, _status in fake_registry.requests()} == {"HEAD"}
    assert len(fake_registry.requests()) == len(registry_checks) == 8


def test_doctor_names_the_setting_that_points_at_no_registry(
    ssc: Ssc, fake_registry: FakeRegistry
) -> None:
    _mount_all(fake_registry)
    wrong = fake_registry.url("pypi") + "/wrong-root"
    result = ssc("doctor", "--ecosystem", "pypi", "--json", expect=4, env={"SSC_PYPI_URL": wrong})
    [check] = [c for c in json.loads(result.stdout) if c["check"] == "registry pypi"]
    assert check["ok"] is False and "HTTP 404" in check["detail"]
    assert "SSC_PYPI_URL" in check["detail"]
