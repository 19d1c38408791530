"""Every genuine crates.io payload in ../shared/fixtures/real/crates parses into records."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from ssc_cli.errors import PackageNotFound
from ssc_cli.http import Http, HttpConfig
from ssc_cli.models import PackageRecord
from ssc_cli.registries.cargo.client import CargoRegistry
from ssc_cli.registries.cargo.parse import (
    index_path,
    parse_api_crate,
    parse_api_dependencies,
    parse_index_file,
)
from ssc_cli.settings import Settings
from tests.conftest import SHARED_FIXTURES, real_fixtures, require_real_fixtures
from tests.fakeregistry.server import NOT_FOUND, FakeRegistry, Request, Response

REAL = SHARED_FIXTURES / "crates"
FILES = real_fixtures("crates")


def test_fixture_folder_present() -> None:
    require_real_fixtures("crates")
    assert len(FILES) >= 11


class FixtureApp:
    """Serves one real sparse index file at its index path, and the real API document if any."""

    def __init__(self, crate: str, index_body: bytes, api_body: bytes | None) -> None:
        self.crate, self.index_body, self.api_body = crate, index_body, api_body

    def handle(self, request: Request) -> Response:
        if request.path == f"/index/{index_path(self.crate)}":
            return Response(200, self.index_body, content_type="text/plain")
        if request.path == f"/api/v1/crates/{self.crate}" and self.api_body is not None:
            return Response(200, self.api_body)
        return NOT_FOUND


def fetch_via_client(path: Path, kinds: str, tmp_path: Path) -> PackageRecord:
    """The sparse index file through the whole client, as the queue path would fetch it."""
    crate = path.name.rsplit("-", 1)[-1]
    api = path.parent / f"api-v1-crates-{crate}.json"
    app = FixtureApp(crate, path.read_bytes(), api.read_bytes() if api.exists() else None)
    with FakeRegistry() as server:
        server.mount("c", app)
        settings = Settings(
            data_dir=tmp_path / "d",
            cache_dir=tmp_path / "c",
            crates_index_url=server.url("c") + "/index",
            crates_static_url=server.url("c") + "/static",
            crates_api_url=server.url("c") + "/api/v1",
            http_rate_limit=False,
            dependency_kinds=kinds,
            import_names=False,
        )

        async def go() -> PackageRecord:
            async with Http(HttpConfig.from_settings(settings)) as http:
                return await CargoRegistry(settings, http).fetch(crate)

        return asyncio.run(go())


def _check_api(path: Path, payload: Any) -> None:
    name = path.name.removeprefix("api-v1-crates-").removesuffix(".json")
    if name == "not-found":
        with pytest.raises(PackageNotFound):
            parse_api_crate(payload, "no-such-crate", str(path))
        return
    if name == "version-dependencies":
        (dep,) = parse_api_dependencies(payload, "parameters_lib", str(path))
        assert (dep.crate, dep.req, dep.kind, dep.optional) == ("regex", "^1.5.0", "runtime", False)
        return
    crate = parse_api_crate(payload, name, str(path))
    assert crate.name == name
    assert crate.repository and crate.repository.startswith("https://github.com/")
    expected = {  # versions listed, yanked among them, newest number, its licence
        "bitflags": (21, 3, "1.0.1", "MIT/Apache-2.0"),
        "regex": (92, 3, "1.0.0", "MIT/Apache-2.0"),
        "xdg": (11, 0, "3.0.0-pre1", "Apache-2.0/MIT"),
        "parameters_lib": (4, 0, "0.2.2", "MIT"),
        "libc": (0, 0, None, None),  # fetched without versions (`include=` omitted them)
        "sentry": (0, 0, None, None),
    }[name]
    first = crate.versions[0] if crate.versions else None
    assert (
        len(crate.versions),
        sum(v.yanked for v in crate.versions),
        first.num if first else None,
        first.license if first else None,
    ) == expected
    assert all(v.created_at and v.created_at.endswith("Z") for v in crate.versions)


def _check_index(path: Path, tmp_path: Path) -> None:
    text = path.read_text()
    parsed = parse_index_file(text, path.name, str(path))
    assert len(parsed.versions) == len(text.splitlines())
    everything = fetch_via_client(path, "runtime,optional,build,dev", tmp_path / "all")
    runtime = fetch_via_client(path, "runtime", tmp_path / "rt")
    versions = {v.name: v for v in runtime.versions}
    assert runtime.name == parsed.name.lower()
    if parsed.name == "amethyst":
        assert len(versions) == 19
        newest = versions["0.10.1"]
        assert newest.yanked is True
        reqs = {r.name: r for r in newest.requirements or []}
        assert len(reqs) == 22 and reqs["winit"].constraints == "^0.18"
        assert reqs["crossbeam-channel"].kind == "runtime"
        all_kinds = {r.kind for v in everything.versions for r in v.requirements or []}
        assert all_kinds == {"runtime", "optional", "build", "dev"}
        targeted = [r for v in everything.versions for r in v.requirements or [] if r.target]
        assert targeted and {r.target for r in targeted} == {"cfg(windows)"}
    elif parsed.name == "libc":
        assert len(versions) == 65
        assert {n for n, v in versions.items() if v.yanked} == {"0.1.9", "0.1.11"}
        assert versions["0.2.50"].release_date == "2019-03-05T11:06:03Z"
        # libc's only dependency is optional (rustc-dep-of-std): none by default.
        assert not any(v.requirements for v in runtime.versions)
        optional = [r for v in everything.versions for r in v.requirements or []]
        assert len(optional) == 8 and {r.name for r in optional} == {"rustc-std-workspace-core"}
        assert all(r.optional and r.kind == "optional" for r in optional)
        assert runtime.repository_url == "https://github.com/rust-lang/libc"
    elif parsed.name == "sentry":
        assert sorted(versions) == ["0.1.0", "0.1.1", "0.1.2"]
        reqs = versions["0.1.0"].requirements or []
        assert {(r.name, r.constraints) for r in reqs} == {
            ("chrono", "^0.2.22"),
            ("hyper", "^0.9.5"),
            ("time", "^0.1.35"),
        }
        assert versions["0.1.0"].release_date == "2016-05-20T17:24:17Z"
        assert (runtime.repository_url, runtime.vendor) == (
            "https://github.com/getsentry/sentry-rust",
            "getsentry",
        )
    else:
        pytest.fail(f"new fixture {path}: add assertions for it")


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(REAL)) for p in FILES])
def test_real_payload(path: Path, tmp_path: Path) -> None:
    if path.name.startswith("api-v1-crates-"):
        _check_api(path, json.loads(path.read_bytes()))
    elif path.name.startswith("sparse-index-"):
        _check_index(path, tmp_path)
    else:
        pytest.fail(f"unrecognised crates fixture {path}")
