"""A registry answering 5xx or 429 to everything is down (exit 4), not N package failures (exit 1)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from ssc_cli.errors import HttpStatusError, RegistryUnavailable
from ssc_cli.graph.sqlite import SqliteStore
from ssc_cli.http import Http, HttpConfig
from ssc_cli.models import Ecosystem
from ssc_cli.pipeline.extract import UNREACHABLE_STREAK
from tests.conftest import Ssc
from tests.fakeregistry import pypi
from tests.fakeregistry.server import FakeRegistry, Faults, Request, Response

PACKAGES = UNREACHABLE_STREAK + 15


@pytest.fixture
def app(fake_registry: FakeRegistry) -> pypi.PyPIApp:
    registry = pypi.synthetic(PACKAGES, versions=2, deps=1)
    fake_registry.mount("pypi", registry)
    return registry


@pytest.fixture
def names(app: pypi.PyPIApp, tmp_path: Path) -> Path:
    listed = tmp_path / "names.txt"
    listed.write_text("".join(f"pkg-{i:05d}\n" for i in range(PACKAGES)))
    return listed


@pytest.mark.parametrize("status", [503, 429])
def test_a_registry_failing_every_package_is_unreachable(
    ssc: Ssc, fake_registry: FakeRegistry, names: Path, status: int
) -> None:
    # Every package endpoint fails after the HTTP layer's retries; the listing is not involved.
    fake_registry.faults = Faults(always={r"^/pypi/pypi/": status}, retry_after=0)
    env = {"SSC_HTTP_RETRIES": "1"}
    result = ssc("ingest", "pypi", "--names-from", str(names), "--json", expect=4, env=env)
    error = json.loads(result.stdout.splitlines()[-1])
    assert error["exit_code"] == 4 and error["kind"] == "RegistryUnavailable"
    assert f"unreachable for {UNREACHABLE_STREAK} packages in a row" in result.stderr
    assert f"HTTP {status}" in result.stderr
    # It stopped at the streak instead of trying (and failing) every remaining package.
    fetched = {path for _m, path, _s in fake_registry.requests(r"^/pypi/pypi/")}
    assert len(fetched) < PACKAGES
    # The packages it did try are recorded with their reason, and nothing was written.
    packages = [i for i in ssc.export() if i["type"] == "package"]
    assert all(p["status"] != "extracted" for p in packages)


def test_one_broken_package_among_working_ones_is_still_a_package_failure(
    ssc: Ssc, fake_registry: FakeRegistry, names: Path
) -> None:
    fake_registry.faults = Faults(always={r"^/pypi/pypi/pkg-00003/": 503})
    summary = ssc.json(
        "ingest",
        "pypi",
        "--names-from",
        str(names),
        "--no-follow-deps",
        expect=1,
        env={"SSC_HTTP_RETRIES": "1"},
    )
    assert [f["package"] for f in summary["failures"]] == ["pkg-00003"]
    assert "503" in summary["failures"][0]["reason"]
    assert summary["new_packages_ingested"] == PACKAGES - 1


def test_an_update_against_a_failing_registry_moves_no_cursor(
    ssc: Ssc, fake_registry: FakeRegistry, names: Path, app: pypi.PyPIApp
) -> None:
    ssc("ingest", "pypi", "--names-from", str(names), "--no-follow-deps")
    app.release("pkg-00001", "9.0.0")  # a change the update would pick up
    before = ssc.export()
    fake_registry.faults = Faults(always={r"^/pypi/pypi/": 502})
    ssc("update", "pypi", "--full", expect=4, env={"SSC_HTTP_RETRIES": "1"})
    assert ssc.export() == before
    store = SqliteStore.from_uri(ssc.graph_uri)
    try:
        assert store.cursor(Ecosystem.PYPI, "update") is None
    finally:
        store.close()


class _Status:
    """Answers every path with the status in its name: /503, /404, ..."""

    def handle(self, request: Request) -> Response:
        return Response(int(request.path.strip("/")), b"status")


def test_only_a_still_retryable_status_means_the_registry_is_failing(
    fake_registry: FakeRegistry, tmp_path: Path
) -> None:
    fake_registry.mount("status", _Status())
    config = HttpConfig(
        user_agent="ssc-test/1", rate_limits=False, retries=1, backoff_base=0.01, backoff_max=0.02
    )

    async def outcome(status: int) -> HttpStatusError:
        async with Http(config) as http:
            with pytest.raises(HttpStatusError) as info:
                await http.get(fake_registry.url("status") + f"/{status}")
            return info.value

    for status in (500, 502, 503, 504, 429):
        error = asyncio.run(outcome(status))
        assert isinstance(error, RegistryUnavailable) and error.status == status
        assert "after 2 attempts" in str(error)
    for status in (403, 404, 410):
        error = asyncio.run(outcome(status))
        assert not isinstance(error, RegistryUnavailable) and error.status == status
