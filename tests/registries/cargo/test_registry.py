"""crates.io client against the fake registry: dump listing and diff, sparse index, import names."""

from __future__ import annotations

import asyncio
import gzip
import io
import tarfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from ssc_cli.errors import HttpStatusError, MalformedPayload, PackageNotFound
from ssc_cli.http import Http, HttpConfig
from ssc_cli.models import Ecosystem, KnownPackage, PackageRecord
from ssc_cli.registries import open_registry
from ssc_cli.registries.cargo.client import CargoRegistry
from ssc_cli.registries.cargo.dump import canonical, iso_utc, moment_key
from ssc_cli.registries.cargo.parse import crate_import_names, index_path
from ssc_cli.settings import Settings
from tests.fakeregistry.cargo import CargoApp, FakeDep, _targz
from tests.fakeregistry.server import FakeRegistry, Faults


class MemoryView:
    """A StoreView over records held in a dict (what the graph would hold after writing them)."""

    def __init__(self) -> None:
        self.records: dict[str, PackageRecord] = {}
        self.cursors: dict[str, dict[str, Any]] = {}

    def write(self, record: PackageRecord) -> None:
        self.records[record.name] = record

    def cursor(self, key: str) -> dict[str, Any] | None:
        return self.cursors.get(key)

    def tokens(self) -> Iterator[tuple[str, str | None]]:
        for name, record in self.records.items():
            yield name, record.token

    def known(self, names: Iterable[str]) -> Mapping[str, KnownPackage]:
        return {
            n: KnownPackage("extracted", r.token, frozenset(v.name for v in r.versions))
            for n in names
            if (r := self.records.get(n)) is not None
        }


def small_app() -> CargoApp:
    app = CargoApp()
    app.publish("libc", "0.2.0", repository="https://github.com/rust-lang/libc")
    app.publish("libc", "0.2.1", license="MIT/Apache-2.0")
    app.publish(
        "Serde-Json",
        "1.0.0",
        [
            FakeDep("libc", "^0.2"),
            FakeDep("libc", "0.1", alias="libc_old"),
            FakeDep("winapi", "0.3", target="cfg(windows)"),
            FakeDep("rand", "*", optional=True),
            FakeDep("cc", "1", kind=1),
            FakeDep("quickcheck", "1", kind=2),
        ],
        modules=["de", "ser", "value"],
        repository="git+https://github.com/serde-rs/json.git",
    )
    for name in ("winapi", "rand", "cc", "quickcheck"):
        app.publish(name, "1.0.0")
    app.publish("tool", "0.1.0", has_lib=False)
    return app


def settings_for(server: FakeRegistry, tmp_path: Path, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "cache_dir": tmp_path / "cache",
        "crates_index_url": server.url("crates-index"),
        "crates_static_url": server.url("crates-static"),
        "crates_api_url": server.url("crates-api"),
        "http_rate_limit": False,
        "http_retries": 4,
        "http_backoff_base": 0.0,
    }
    return Settings(**(values | extra))


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def with_registry(settings: Settings, body: Any) -> Any:
    async with Http(HttpConfig.from_settings(settings)) as http:
        registry = open_registry(Ecosystem.CARGO, settings, http)
        assert isinstance(registry, CargoRegistry)
        try:
            return await body(registry, http)
        finally:
            registry.close()


@pytest.fixture
def server() -> Iterator[tuple[FakeRegistry, CargoApp]]:
    app = small_app()
    with FakeRegistry() as registry:
        app.mount_on(registry)
        yield registry, app


def test_index_path_rules() -> None:
    assert index_path("a") == "1/a"
    assert index_path("ab") == "2/ab"
    assert index_path("abc") == "3/a/abc"
    assert index_path("Base64") == "ba/se/base64"


def test_iso_utc_spellings() -> None:
    assert iso_utc("2017-05-12 01:33:56.398153") == "2017-05-12T01:33:56.398153Z"
    assert iso_utc("2016-05-20T17:24:17.084103+00:00") == "2016-05-20T17:24:17.084103Z"
    assert iso_utc("2016-05-20T17:24:17Z") == "2016-05-20T17:24:17Z"
    assert iso_utc("2023-05-03T02:09:39.114520526Z") == "2023-05-03T02:09:39.114520Z"
    assert iso_utc("") is None
    assert canonical("Foo-Bar") == "foo_bar"
    # Text order of the fixed-width key is time order, with or without a fractional part.
    assert moment_key("2024-01-01T00:00:13Z") < moment_key("2024-01-01T00:00:13.500000Z")
    assert moment_key("2024-01-01T00:00:13.500000Z") < moment_key("2024-01-01T00:00:14Z")


def test_listing_and_fetch_from_dump(server: tuple[FakeRegistry, CargoApp], tmp_path: Path) -> None:
    registry, _ = server
    settings = settings_for(registry, tmp_path)

    async def body(cargo: CargoRegistry, http: Http) -> tuple[list[str], PackageRecord, int]:
        names = [n async for n in cargo.list_names()]
        before = http.counters.requests
        record = await cargo.fetch("serde-json")
        return names, record, http.counters.requests - before

    names, record, requests = run(with_registry(settings, body))
    assert names == ["libc", "Serde-Json", "winapi", "rand", "cc", "quickcheck", "tool"]
    assert requests == 1  # only the .crate: everything else came from the dump
    assert record.name == "serde-json"
    assert record.repository_url == "https://github.com/serde-rs/json"
    assert record.vendor == "serde-rs"
    # The lib name keeps the published case: Rust code writes `use Serde_Json::de`.
    assert record.import_names == [
        "Serde_Json",
        "Serde_Json::de",
        "Serde_Json::ser",
        "Serde_Json::value",
    ]
    (version,) = record.versions
    assert version.release_date is not None and version.release_date.endswith("Z")
    assert version.licenses == {"license": "MIT OR Apache-2.0"}
    reqs = {(r.name, r.target, r.constraints) for r in version.requirements or []}
    # Runtime only by default: optional (rand), build (cc) and dev (quickcheck) are left out.
    assert reqs == {("libc", None, "^0.2"), ("winapi", "cfg(windows)", "0.3")}
    libc = next(r for r in version.requirements or [] if r.name == "libc")
    assert libc.extra == {"also": ["0.1"]}  # the renamed second libc points at the real crate
    assert run(with_registry(settings, lambda c, h: _listing_cursor(c)))["timestamp"].endswith("Z")


async def _listing_cursor(cargo: CargoRegistry) -> dict[str, Any]:
    _ = [n async for n in cargo.list_names()]
    cursor = cargo.listing_cursor()
    assert cursor is not None
    return cursor


def test_dump_and_index_paths_agree(server: tuple[FakeRegistry, CargoApp], tmp_path: Path) -> None:
    """A crate read from the sparse index (+ API) equals its dump record, token included."""
    registry, _ = server
    settings = settings_for(registry, tmp_path, dependency_kinds="runtime,optional,build,dev")

    async def body(cargo: CargoRegistry, http: Http) -> tuple[PackageRecord, PackageRecord]:
        from_index = await cargo.fetch("serde_json")  # no dump loaded: index, `_`→`-` retry
        _ = [n async for n in cargo.list_names()]
        return from_index, await cargo.fetch("serde-json")

    from_index, from_dump = run(with_registry(settings, body))
    assert from_index == from_dump
    reqs = {
        (r.name, r.kind, r.optional, r.constraints)
        for r in from_dump.versions[0].requirements or []
    }
    assert ("rand", "optional", True, "any") in reqs
    assert ("cc", "build", False, "1") in reqs
    assert ("quickcheck", "dev", False, "1") in reqs


def test_index_fetch_alias_and_missing(
    server: tuple[FakeRegistry, CargoApp], tmp_path: Path
) -> None:
    registry, app = server
    app.publish("user", "1.0.0", [FakeDep("rand", "0.8", alias="rand08")])
    settings = settings_for(registry, tmp_path, import_names=False)

    async def body(cargo: CargoRegistry, http: Http) -> PackageRecord:
        with pytest.raises(PackageNotFound):
            await cargo.fetch("no-such-crate")
        return await cargo.fetch("user")

    record = run(with_registry(settings, body))
    (req,) = record.versions[0].requirements or []
    assert (req.name, req.extra, req.raw_constraints) == ("rand", {"alias": "rand08"}, "0.8")
    assert record.import_names is None  # not read: the stored names stay
    assert not registry.requests(r"\.crate$")


def test_binary_crate_has_no_import_names(
    server: tuple[FakeRegistry, CargoApp], tmp_path: Path
) -> None:
    registry, _ = server
    record = run(with_registry(settings_for(registry, tmp_path), lambda c, h: c.fetch("tool")))
    assert record.import_names == []
    assert registry.requests(r"/crates-static/crates/tool/tool-0.1.0.crate$")


def test_crate_import_names_reads_lib_section() -> None:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as archive:
        for name, data in {
            "my-crate-1.0.0/Cargo.toml": b'[package]\nname = "my-crate"\n[lib]\nname = "mine"\npath = "lib/mine.rs"\n',
            "my-crate-1.0.0/lib/mine.rs": b"",
            "my-crate-1.0.0/lib/net/mod.rs": b"",
            "my-crate-1.0.0/lib/io.rs": b"",
            "my-crate-1.0.0/src/ignored.rs": b"",
            "my-crate-1.0.0/build.rs": b"",
        }.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    data = gzip.compress(raw.getvalue())
    assert crate_import_names(data, "my-crate", max_entries=100) == [
        "mine",
        "mine::io",
        "mine::net",
    ]
    with pytest.raises(MalformedPayload):
        crate_import_names(b"not a tarball", "x", max_entries=10)


def test_changes_diff_against_the_graph(
    server: tuple[FakeRegistry, CargoApp], tmp_path: Path
) -> None:
    registry, app = server
    settings = settings_for(registry, tmp_path, import_names=False)
    view = MemoryView()

    async def ingest(cargo: CargoRegistry, http: Http) -> None:
        async for name in cargo.list_names():
            view.write(await cargo.fetch(name))
        cursor = cargo.listing_cursor()
        assert cursor is not None
        view.cursors["update"] = cursor

    run(with_registry(settings, ingest))

    async def changes(cargo: CargoRegistry, http: Http) -> Any:
        return await cargo.changes(view)

    unchanged = run(with_registry(settings, changes))
    assert unchanged.names == [] and unchanged.cursor == view.cursors["update"]

    app.publish("libc", "0.2.2")
    app.yank("winapi", "1.0.0")
    app.delete_version("rand", "1.0.0")
    app.publish("rand", "1.1.0")
    app.publish("brand-new", "0.1.0", [FakeDep("libc", "0.2")])
    changed = run(with_registry(settings, changes))
    assert changed.names == ["brand-new", "libc", "rand", "winapi"]
    assert changed.cursor["timestamp"] > view.cursors["update"]["timestamp"]
    assert changed.notes["changed"] == 3 and changed.notes["new"] == 1

    # Written back, the same dump has nothing more to say; an older cursor-equal dump neither.
    async def apply(cargo: CargoRegistry, http: Http) -> Any:
        result = await cargo.changes(view)
        for name in result.names:
            view.write(await cargo.fetch(name))
        view.cursors["update"] = result.cursor
        return await cargo.changes(view)

    assert run(with_registry(settings, apply)).names == []
    winapi = view.records["winapi"].versions[0]
    assert winapi.yanked is True
    assert [v.name for v in view.records["rand"].versions] == ["1.1.0"]
    registry.clear_log()
    again = run(with_registry(settings, changes))
    assert again.names == [] and again.notes["dump_not_modified"] is True
    assert registry.requests() == [("GET", "/crates-static/db-dump.tar.gz", 304)]


def test_first_update_without_cursor_diffs_stored_only(
    server: tuple[FakeRegistry, CargoApp], tmp_path: Path
) -> None:
    registry, app = server
    settings = settings_for(registry, tmp_path, import_names=False)
    view = MemoryView()
    view.write(run(with_registry(settings, lambda c, h: c.fetch("libc"))))  # index path, no dump
    app.publish("ghost", "0.1.0")
    view.write(run(with_registry(settings, lambda c, h: c.fetch("ghost"))))
    del app.crates["ghost"]  # deleted by its owner
    app.publish("other", "1.0.0")
    result = run(with_registry(settings, lambda c, h: c.changes(view)))
    # libc: same data as the dump, same token. ghost: not in the dump, re-checked.
    # other: new, but new crates are only looked for once a cursor exists.
    assert result.names == ["ghost"]
    assert result.cursor["timestamp"]

    async def ghost(cargo: CargoRegistry, http: Http) -> None:
        await cargo.changes(view)
        with pytest.raises(PackageNotFound):
            await cargo.fetch("ghost")

    run(with_registry(settings, ghost))


def test_corrupt_dump_is_downloaded_again(tmp_path: Path) -> None:
    app = small_app()
    with FakeRegistry(faults=Faults(rate_malformed=0.5, only=r"db-dump", seed=3)) as registry:
        app.mount_on(registry)
        settings = settings_for(registry, tmp_path, import_names=False)
        names = run(with_registry(settings, lambda c, h: _names(c)))
        assert "libc" in names
        assert len(registry.requests("db-dump")) >= 2


async def _names(cargo: CargoRegistry) -> list[str]:
    return [n async for n in cargo.list_names()]


def test_hopeless_dump_raises(tmp_path: Path) -> None:
    with FakeRegistry(faults=Faults(rate_malformed=1.0, only=r"db-dump")) as registry:
        small_app().mount_on(registry)
        settings = settings_for(registry, tmp_path, http_retries=1)
        with pytest.raises(MalformedPayload, match="after 2 downloads"):
            run(with_registry(settings, lambda c, h: _names(c)))


def test_crate_file_failures(tmp_path: Path) -> None:
    """A missing .crate (S3's 403) gives no import names; a 5xx fails the crate for a retry."""
    app = small_app()
    with FakeRegistry(
        faults=Faults(always={r"/libc-0\.2\.1\.crate$": 403, r"/cc-": 503})
    ) as server:
        app.mount_on(server)
        settings = settings_for(server, tmp_path, http_retries=0)

        async def body(cargo: CargoRegistry, http: Http) -> PackageRecord:
            with pytest.raises(HttpStatusError):
                await cargo.fetch("cc")
            return await cargo.fetch("libc")

        record = run(with_registry(settings, body))
        assert record.import_names == [] and len(record.versions) == 2


class BadDumpApp(CargoApp):
    """Serves a well-formed tarball whose CSV is not: a dump a broken exporter could produce."""

    def __init__(self, members: dict[str, bytes]) -> None:
        super().__init__()
        self.members = members

    def dump_bytes(self) -> bytes:
        return _targz(self.members)


@pytest.mark.parametrize(
    ("members", "problem"),
    [
        ({"d/metadata.json": b'{"timestamp": "2024-01-01T00:00:00Z"}'}, "lacks crates.csv"),
        (
            {
                "d/metadata.json": b'{"timestamp": "2024-01-01T00:00:00Z"}',
                "d/data/crates.csv": b"id,name,created_at\nnot-a-number,x,2024-01-01 00:00:00\n",
            },
            "unreadable crates.io dump",
        ),
        (
            {
                "d/metadata.json": b'{"timestamp": "2024-01-01T00:00:00Z"}',
                "d/data/crates.csv": b"id,name,created_at,repository,homepage\n1,x\n",
            },
            "2 fields, expected 5",
        ),
        ({"d/metadata.json": b"{}"}, "metadata.json is unusable"),
    ],
    ids=["missing-members", "bad-value", "short-row", "bad-metadata"],
)
def test_unusable_dumps_are_named(tmp_path: Path, members: dict[str, bytes], problem: str) -> None:
    with FakeRegistry() as server:
        BadDumpApp(members).mount_on(server)
        settings = settings_for(server, tmp_path, http_retries=1)
        with pytest.raises(MalformedPayload, match=problem):
            run(with_registry(settings, lambda c, h: _names(c)))
        assert len(server.requests("db-dump")) == 2  # downloaded again once, then given up
