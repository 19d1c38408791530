"""Every registry client, with a payload (or a redirect) pointing somewhere ssc must not go.

The somewhere is a canary server on another loopback port: it must see no request at all, and
the run must name the refused URL and the reason in the package's recorded failure.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Ssc
from tests.fakeregistry import nuget, pypi, rubygems
from tests.fakeregistry.cargo import CargoApp
from tests.fakeregistry.hostile import Canary, steer
from tests.fakeregistry.maven import MavenApp
from tests.fakeregistry.npm import NpmApp
from tests.fakeregistry.server import FakeRegistry, Request

pytestmark = pytest.mark.slow


@pytest.fixture
def canary() -> Iterator[Canary]:
    trap = Canary().start()
    try:
        yield trap
    finally:
        trap.stop()


def _refused(summary: dict[str, Any]) -> list[str]:
    return [f["reason"] for f in summary["failures"] if "refused, never fetched" in f["reason"]]


def _assert_refused_everywhere(summary: dict[str, Any], canary: Canary, count: int) -> None:
    reasons = _refused(summary)
    assert len(reasons) == count, summary["failures"]
    assert all("a loopback address" in r and "SSC_HTTP_ALLOWED_HOSTS" in r for r in reasons)
    assert summary["http"]["refused"] >= count
    assert canary.hits == []


def test_pypi_wheel_and_sdist_urls_elsewhere(
    ssc: Ssc, fake_registry: FakeRegistry, canary: Canary
) -> None:
    app = pypi.synthetic(3, versions=1, deps=0)
    app.release("pkg-00001", "9.0.0", wheel_modules=None, sdist_modules=["pkg_00001/x.py"])
    fake_registry.mount("pypi", app)
    own = fake_registry.url("pypi").encode() + b"/files/"
    steer(fake_registry, "pypi", rewrites=[(own, canary.url("/files/").encode())])
    summary = ssc.json("ingest", "pypi", expect=1)
    _assert_refused_everywhere(summary, canary, 3)
    assert summary["new_packages_ingested"] == 0
    # The refusal is recorded in the store with the package, as every failure is.
    shown = ssc.json("graph", "show", "pypi", "pkg-00001")
    assert "refused" in str(shown)


def test_pypi_json_redirected_off_host(
    ssc: Ssc, fake_registry: FakeRegistry, canary: Canary
) -> None:
    fake_registry.mount("pypi", pypi.synthetic(2, versions=1, deps=0))
    steer(fake_registry, "pypi", redirects=[("/pypi/pkg-00001/json", lambda r: canary.url("/j"))])
    summary = ssc.json("ingest", "pypi", expect=1)
    _assert_refused_everywhere(summary, canary, 1)
    assert "redirect to" in _refused(summary)[0]
    assert summary["new_packages_ingested"] == 1


def test_npm_tarball_elsewhere(ssc: Ssc, fake_registry: FakeRegistry, canary: Canary) -> None:
    app = NpmApp()
    app.publish("left", "1.0.0")
    app.publish("right", "1.0.0", dependencies={"left": "^1"})
    app.mount(fake_registry)
    own = fake_registry.url("npm").encode() + b"/right/-/"
    steer(fake_registry, "npm", rewrites=[(own, canary.url("/right/-/").encode())])
    summary = ssc.json("ingest", "npm", expect=1)
    _assert_refused_everywhere(summary, canary, 1)
    assert summary["failures"][0]["package"] == "right"


def test_nuget_package_base_elsewhere(
    ssc: Ssc, fake_registry: FakeRegistry, canary: Canary
) -> None:
    """The service index names the flat container: .nuspec and .nupkg URLs come from it."""
    fake_registry.mount("nuget", nuget.synthetic(2, versions_per_package=1, deps_per_version=0))
    own = fake_registry.url("nuget").encode() + b"/v3-flatcontainer/"
    steer(fake_registry, "nuget", rewrites=[(own, canary.url("/flat/").encode())])
    summary = ssc.json("ingest", "nuget", expect=1)
    _assert_refused_everywhere(summary, canary, 2)


def test_nuget_catalog_leaves_elsewhere_stop_the_walk(
    ssc: Ssc, fake_registry: FakeRegistry, canary: Canary
) -> None:
    """A catalog page whose leaves point elsewhere: nothing is skipped silently, the run stops."""
    fake_registry.mount("nuget", nuget.synthetic(2, versions_per_package=1, deps_per_version=0))
    own = fake_registry.url("nuget").encode() + b"/v3/catalog0/data/"
    steer(fake_registry, "nuget", rewrites=[(own, canary.url("/data/").encode())])
    result = ssc("ingest", "nuget", "--json", expect=4)
    assert "refused, never fetched" in result.stderr and "a loopback address" in result.stderr
    assert canary.hits == []
    assert ssc.export() == []


def test_nuget_registration_page_elsewhere(
    ssc: Ssc, fake_registry: FakeRegistry, canary: Canary, tmp_path: Any
) -> None:
    fake_registry.mount("nuget", nuget.synthetic(2, versions_per_package=1, deps_per_version=0))
    steer(
        fake_registry,
        "nuget",
        redirects=[("/v3/registration5-gz-semver2/", lambda r: canary.url(r.path))],
    )
    names = tmp_path / "names.txt"
    names.write_text("synthetic.pkg0\n")
    summary = ssc.json("ingest", "nuget", "--names-from", str(names), expect=1)
    _assert_refused_everywhere(summary, canary, 1)


def test_rubygems_gem_redirected_elsewhere(
    ssc: Ssc, fake_registry: FakeRegistry, canary: Canary
) -> None:
    fake_registry.mount("rubygems", rubygems.synthetic(2, versions_per_package=1))
    steer(fake_registry, "rubygems", redirects=[(r"^/gems/", lambda r: canary.url(r.path))])
    summary = ssc.json("ingest", "rubygems", expect=1)
    _assert_refused_everywhere(summary, canary, 2)


def test_maven_pom_and_jar_redirected_elsewhere(
    ssc: Ssc, fake_registry: FakeRegistry, canary: Canary
) -> None:
    fake_registry.mount("maven", MavenApp.synthetic(2, versions_per_package=1))
    steer(fake_registry, "maven", redirects=[(r"a1/.*\.(pom|jar)$", lambda r: canary.url(r.path))])
    summary = ssc.json("ingest", "maven", expect=1)
    _assert_refused_everywhere(summary, canary, 1)
    assert summary["failures"][0]["package"] == "org.synth:a1"


def test_cargo_crate_file_redirected_elsewhere(
    ssc: Ssc, fake_registry: FakeRegistry, canary: Canary
) -> None:
    CargoApp.synthetic(2, versions=1, deps=0).mount_on(fake_registry)

    def away(request: Request) -> str:
        return canary.url(request.path)

    steer(fake_registry, "crates-static", redirects=[(r"^/crates/", away)])
    summary = ssc.json("ingest", "cargo", expect=1)
    _assert_refused_everywhere(summary, canary, 2)
