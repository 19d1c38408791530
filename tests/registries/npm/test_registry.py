"""The npm client against the fake registry over real HTTP: listing, changes, packuments."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from ssc_cli.errors import HttpStatusError, MalformedPayload, PackageNotFound, RegistryError
from ssc_cli.http import Http, HttpConfig
from ssc_cli.models import Ecosystem, KnownPackage
from ssc_cli.registries import open_registry
from ssc_cli.registries.npm.client import NPMRegistry, replicate_root_url
from ssc_cli.settings import Settings
from tests.fakeregistry.npm import NpmApp
from tests.fakeregistry.server import FakeRegistry, Faults


class MemoryView:
    """A StoreView over a dict: name -> KnownPackage, plus the update cursor."""

    def __init__(self, packages: Mapping[str, KnownPackage], cursor: dict[str, Any] | None):
        self.packages = dict(packages)
        self._cursor = cursor

    def cursor(self, key: str) -> dict[str, Any] | None:
        return self._cursor if key == "update" else None

    def tokens(self) -> Iterator[tuple[str, str | None]]:
        return iter((n, k.token) for n, k in self.packages.items())

    def known(self, names: Iterable[str]) -> Mapping[str, KnownPackage]:
        return {n: self.packages[n] for n in names if n in self.packages}


def stored(token: str | None, status: str = "extracted") -> KnownPackage:
    return KnownPackage(status, token, frozenset())


@pytest.fixture
def server() -> Iterator[FakeRegistry]:
    with FakeRegistry().start() as fake:
        yield fake


@pytest.fixture
def app(server: FakeRegistry) -> NpmApp:
    npm = NpmApp()
    npm.publish("left-pad", "1.0.0", repository="github:stevemao/left-pad")
    npm.publish(
        "@Scope/Mixed",
        "2.0.0",
        dependencies={"left-pad": "^1.0.0", "alias": "npm:left-pad@1"},
        optional={"fsevents": "^2"},
        files=("package/index.js", "package/lib/x.js", "package/x.d.ts"),
    )
    npm.publish("@Scope/Mixed", "2.1.0", deprecated="old", dependencies={"left-pad": "1"})
    npm.add_design_doc()
    npm.publish("gone", "0.1.0")
    npm.unpublish("gone")
    return npm


def make_registry(
    server: FakeRegistry, app: NpmApp, tmp_path: Path, **overrides: Any
) -> tuple[NPMRegistry, Http]:
    npm_url, replicate_url = app.mount(server)
    settings = Settings(
        npm_url=npm_url,
        npm_replicate_url=replicate_url,
        data_dir=tmp_path / "data",
        cache_dir=tmp_path / "cache",
        http_rate_limit=False,
        **overrides,
    )
    http = Http(
        HttpConfig(
            user_agent="test",
            rate_limits=False,
            cache_dir=tmp_path / "http",
            backoff_base=0.0,
            max_bytes=settings.http_max_bytes,
            timeout=5.0,
        )
    )
    registry = open_registry(Ecosystem.NPM, settings, http)
    assert isinstance(registry, NPMRegistry)
    registry.lag_delay = 0.01
    return registry, http


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def collect(registry: NPMRegistry) -> list[str]:
    return [name async for name in registry.list_names()]


def test_listing_pages_the_feed_and_drops_design_docs_and_deleted(
    server: FakeRegistry, app: NpmApp, tmp_path: Path
) -> None:
    registry, http = make_registry(server, app, tmp_path)
    registry.changes_limit = 2

    async def go() -> list[str]:
        async with http:
            return await collect(registry)

    assert run(go()) == ["left-pad", "@Scope/Mixed"]
    assert registry.listing_cursor() == {"seq": app.seq}
    pages = server.requests(r"/_changes")
    assert len(pages) == 3  # 4 rows at 2 a page, then the empty page
    assert registry.listing_cursor() is not None


def test_update_seq_comes_from_the_replica_root_and_the_feed_from_the_database(
    server: FakeRegistry, app: NpmApp, tmp_path: Path
) -> None:
    registry, http = make_registry(server, app, tmp_path)
    assert registry.replicate_url.endswith("/npm-replicate/registry")

    async def go() -> list[str]:
        async with http:
            names = await collect(registry)
            # what ssc asked before: the database URL itself, which the replica does not serve
            with pytest.raises(HttpStatusError, match="404"):
                await http.get_json(registry.replicate_url + "/")
            return names

    assert run(go()) == ["left-pad", "@Scope/Mixed"]
    paths = [path for _, path, status in server.requests(r"^/npm-replicate") if status == 200]
    assert paths[0] == "/npm-replicate/"
    assert all(p.startswith("/npm-replicate/registry/_changes") for p in paths[1:])


@pytest.mark.parametrize(
    ("database", "root"),
    [
        ("https://replicate.npmjs.com/registry", "https://replicate.npmjs.com/"),
        ("https://replicate.npmjs.com/registry/", "https://replicate.npmjs.com/"),
        ("http://127.0.0.1:8080/mirror/registry", "http://127.0.0.1:8080/mirror/"),
        ("https://replicate.example", "https://replicate.example/"),
    ],
)
def test_replicate_root_url(database: str, root: str) -> None:
    assert replicate_root_url(database) == root


def test_package_changed_after_its_fetch_during_the_listing_is_caught_by_the_first_update(
    server: FakeRegistry, app: NpmApp, tmp_path: Path
) -> None:
    registry, http = make_registry(server, app, tmp_path, import_names=False)
    registry.changes_limit = 1  # packages are fetched while later pages are still unread

    async def go() -> Any:
        async with http:
            tokens: dict[str, str | None] = {}
            async for name in registry.list_names():
                tokens[name] = (await registry.fetch(name)).token
                if name == "left-pad" and listed.count(name) == 0:
                    # its row moves past the head the listing started from: the listing may
                    # name it again (it keeps no set of every name), and a cursor from before
                    # the listing replays it in any case
                    app.publish("left-pad", "1.5.0")
                listed.append(name)
            cursor = registry.listing_cursor()
            view = MemoryView({n: stored(t) for n, t in tokens.items()}, cursor)
            return cursor, tokens, await registry.changes(view)

    listed: list[str] = []
    cursor, tokens, result = run(go())
    current = app.docs["left-pad"]["_rev"]
    # Either the listing named it again and fetched the new revision, or the update refetches it.
    assert tokens["left-pad"] == current or result.names == ["left-pad"]
    assert listed.count("left-pad") <= 2
    assert len(listed) - listed.count("left-pad") == len(set(listed)) - 1  # others once
    assert cursor == {"seq": app.seq - 1}  # update_seq before the listing started
    assert result.cursor == {"seq": app.seq}


def test_short_pages_are_not_the_end_of_the_feed(
    server: FakeRegistry, app: NpmApp, tmp_path: Path
) -> None:
    cursor = {"seq": app.seq}
    revs = {name: doc["_rev"] for name, doc in app.docs.items()}
    app.publish("left-pad", "1.1.0")
    app.add_design_doc("_design/scratch")
    app.deprecate("@Scope/Mixed", "2.0.0", "bad")
    app.page_cap = 1  # the replica answers fewer rows than the limit asked for
    registry, http = make_registry(server, app, tmp_path)

    async def go() -> Any:
        async with http:
            names = await collect(registry)
            view = MemoryView({n: stored(r) for n, r in revs.items()}, cursor)
            return names, await registry.changes(view)

    server.clear_log()
    names, result = run(go())
    assert names == ["left-pad", "@Scope/Mixed"]
    assert result.names == ["@Scope/Mixed", "left-pad"]
    assert result.cursor == {"seq": app.seq}
    # the update stops at the update_seq it read: three rows, three pages, no empty page
    assert result.notes["requests"] == 4


def test_feed_requires_the_opt_in_header_and_we_send_it(
    server: FakeRegistry, app: NpmApp, tmp_path: Path
) -> None:
    registry, http = make_registry(server, app, tmp_path)

    async def go() -> None:
        async with http:
            await collect(registry)

    run(go())
    assert all(status == 200 for _, _, status in server.requests(r"/_changes"))


def test_fetch_scoped_package_keeps_case_and_reads_everything(
    server: FakeRegistry, app: NpmApp, tmp_path: Path
) -> None:
    registry, http = make_registry(server, app, tmp_path)

    async def go() -> Any:
        async with http:
            return await registry.fetch("@Scope/Mixed")

    record = run(go())
    assert server.requests(r"^/npm/@Scope%2FMixed$")
    assert record.name == "@Scope/Mixed" and record.token and record.token.startswith("2-")
    versions = {v.name: v for v in record.versions}
    assert versions["2.1.0"].deprecated == "old"
    # the alias npm:left-pad@1 targets the same package: one edge per (target, kind)
    assert [(r.name, r.constraints) for r in versions["2.0.0"].requirements or []] == [
        ("left-pad", "^1.0.0")
    ]
    assert [r.name for r in versions["2.1.0"].requirements or []] == ["left-pad"]
    assert versions["2.0.0"].release_date and versions["2.0.0"].licenses == {"license": "MIT"}
    # newest version's tarball: 2.1.0 ships the default files
    assert record.import_names == ["@Scope/Mixed", "@Scope/Mixed/lib/util"]


def test_alias_and_direct_dependency_on_the_same_target_keep_the_first(
    server: FakeRegistry, app: NpmApp, tmp_path: Path
) -> None:
    registry, http = make_registry(server, app, tmp_path, dependency_kinds="runtime,optional")

    async def go() -> Any:
        async with http:
            return await registry.fetch("@Scope/Mixed")

    record = run(go())
    reqs = {v.name: v.requirements for v in record.versions}["2.0.0"] or []
    assert [(r.name, r.kind, r.optional) for r in reqs] == [
        ("left-pad", "runtime", False),
        ("fsevents", "optional", True),
    ]


def test_repository_shorthand_and_conditional_get(
    server: FakeRegistry, app: NpmApp, tmp_path: Path
) -> None:
    registry, http = make_registry(server, app, tmp_path, import_names=False)

    async def go() -> Any:
        async with http:
            first = await registry.fetch("left-pad")
            await registry.fetch("left-pad")
            return first, http.counters.not_modified

    record, not_modified = run(go())
    assert record.repository_url == "https://github.com/stevemao/left-pad"
    assert record.vendor == "stevemao" and record.import_names is None  # not read
    assert not_modified == 1
    assert not server.requests(r"\.tgz$")


def test_missing_and_unpublished_packages_are_not_found(
    server: FakeRegistry, app: NpmApp, tmp_path: Path
) -> None:
    app.docs["tombstone"] = {
        "_id": "tombstone",
        "name": "tombstone",
        "time": {"unpublished": {"time": "2021-01-01T00:00:00.000Z"}},
    }
    registry, http = make_registry(server, app, tmp_path)

    async def go(name: str) -> Any:
        async with http:
            return await registry.fetch(name)

    with pytest.raises(PackageNotFound, match="'gone' does not exist"):
        run(go("gone"))
    registry, http = make_registry(server, app, tmp_path)
    with pytest.raises(PackageNotFound, match="unpublished"):
        run(go("tombstone"))


def test_malformed_and_oversized_packuments(
    server: FakeRegistry, app: NpmApp, tmp_path: Path
) -> None:
    app.docs["bad"] = {"name": "bad", "versions": ["1.0.0"]}
    registry, http = make_registry(server, app, tmp_path)

    async def go(name: str) -> Any:
        async with http:
            return await registry.fetch(name)

    with pytest.raises(MalformedPayload, match="'bad'.*/npm/bad"):
        run(go("bad"))
    app.docs["huge"] = {"name": "huge", "versions": {}, "readme": "x" * 5000}
    registry, http = make_registry(server, app, tmp_path, http_max_bytes=2048)
    with pytest.raises(RegistryError, match="exceeds the cap"):
        run(go("huge"))


def test_unreadable_tarball_leaves_import_names_empty(
    server: FakeRegistry, app: NpmApp, tmp_path: Path
) -> None:
    server.faults = Faults(always={r"\.tgz$": 404})
    registry, http = make_registry(server, app, tmp_path)

    async def go() -> Any:
        async with http:
            return await registry.fetch("left-pad")

    record = run(go())
    assert record.import_names == [] and record.versions


def test_faults_are_retried_including_corrupt_gzip(
    server: FakeRegistry, app: NpmApp, tmp_path: Path
) -> None:
    server.faults = Faults(rate_500=0.2, rate_malformed=0.2, rate_truncated=0.2, seed=3)
    registry, http = make_registry(server, app, tmp_path)

    async def go() -> Any:
        async with http:
            names = await collect(registry)
            return names, [await registry.fetch(n) for n in names]

    names, records = run(go())
    assert names == ["left-pad", "@Scope/Mixed"]
    assert [len(r.versions) for r in records] == [1, 2]
    assert http.counters.retries > 0


# -- changes ---------------------------------------------------------------------------------


def changes(registry: NPMRegistry, http: Http, view: MemoryView) -> Any:
    async def go() -> Any:
        async with http:
            return await registry.changes(view)

    return run(go())


def test_incremental_changes_only_stored_packages_with_a_new_revision(
    server: FakeRegistry, app: NpmApp, tmp_path: Path
) -> None:
    cursor = {"seq": app.seq}
    left_rev = app.docs["left-pad"]["_rev"]
    app.publish("left-pad", "1.1.0")
    app.publish("brand-new", "1.0.0")  # not stored: ingest's business, not update's
    app.deprecate("@Scope/Mixed", "2.0.0", "bad")
    app.publish("pending-dep", "1.0.0")
    app.add_design_doc("_design/scratch")
    view = MemoryView(
        {
            "left-pad": stored(left_rev),
            "@Scope/Mixed": stored("1-old"),
            "pending-dep": stored(None, "pending"),
        },
        cursor,
    )
    registry, http = make_registry(server, app, tmp_path)
    result = changes(registry, http, view)
    assert result.names == ["@Scope/Mixed", "left-pad"]
    assert result.cursor == {"seq": app.seq}
    assert result.notes["mode"] == "incremental"


def test_nothing_new_costs_one_request(server: FakeRegistry, app: NpmApp, tmp_path: Path) -> None:
    registry, http = make_registry(server, app, tmp_path)
    result = changes(registry, http, MemoryView({}, {"seq": app.seq}))
    assert result.names == [] and result.cursor == {"seq": app.seq}
    assert len(server.requests(r"^/npm-replicate")) == 1


def test_deleted_stored_package_is_refetched(
    server: FakeRegistry, app: NpmApp, tmp_path: Path
) -> None:
    cursor = {"seq": app.seq}
    rev = app.docs["left-pad"]["_rev"]
    app.unpublish("left-pad")
    registry, http = make_registry(server, app, tmp_path)
    result = changes(registry, http, MemoryView({"left-pad": stored(rev)}, cursor))
    assert result.names == ["left-pad"]
    # a package already known missing whose row is still the deletion is not refetched again
    registry, http = make_registry(server, app, tmp_path)
    again = changes(registry, http, MemoryView({"left-pad": stored(None, "missing")}, cursor))
    assert again.names == []


def test_feed_reset_replays_and_compares_revisions(
    server: FakeRegistry, app: NpmApp, tmp_path: Path
) -> None:
    revs = {name: doc["_rev"] for name, doc in app.docs.items()}
    cursor = {"seq": app.seq}
    app.publish("left-pad", "1.2.0")
    app.reset_feed()
    app.publish("@Scope/Mixed", "3.0.0")
    assert app.seq < cursor["seq"]
    view = MemoryView({n: stored(r) for n, r in revs.items()}, cursor)
    registry, http = make_registry(server, app, tmp_path)
    registry.changes_limit = 2
    result = changes(registry, http, view)
    assert result.notes["mode"] == "reset"
    assert result.names == ["@Scope/Mixed", "left-pad"]
    assert result.cursor == {"seq": app.seq}


def test_first_update_without_cursor_reconciles_from_zero(
    server: FakeRegistry, app: NpmApp, tmp_path: Path
) -> None:
    view = MemoryView(
        {"left-pad": stored(app.docs["left-pad"]["_rev"]), "@Scope/Mixed": stored(None)}, None
    )
    registry, http = make_registry(server, app, tmp_path)
    result = changes(registry, http, view)
    assert result.notes["mode"] == "initial"
    assert result.names == ["@Scope/Mixed"]
    assert result.cursor == {"seq": app.seq}


def test_replica_lag_is_waited_for_then_reported(
    server: FakeRegistry, app: NpmApp, tmp_path: Path
) -> None:
    cursor = {"seq": app.seq}
    app.lag("left-pad", requests=1)
    app.publish("left-pad", "1.3.0")
    registry, http = make_registry(server, app, tmp_path)

    async def go() -> Any:
        async with http:
            await registry.changes(MemoryView({"left-pad": stored("1-x")}, cursor))
            return await registry.fetch("left-pad")

    record = run(go())
    assert "1.3.0" in {v.name for v in record.versions}
    assert len(server.requests(r"^/npm/left-pad$")) == 2

    app.lag("left-pad", requests=100)
    app.publish("left-pad", "1.4.0")
    registry, http = make_registry(server, app, tmp_path)
    with pytest.raises(RegistryError, match="lags"):
        run(go())


def test_damaged_tarball_is_downloaded_again_until_its_digest_matches(
    server: FakeRegistry, app: NpmApp, tmp_path: Path
) -> None:
    server.faults = Faults(only=r"\.tgz$", rate_malformed=0.3, seed=1)
    registry, http = make_registry(server, app, tmp_path)

    async def go() -> Any:
        async with http:
            return [await registry.fetch("left-pad") for _ in range(4)]

    records = run(go())
    assert all(r.import_names == ["left-pad", "left-pad/lib/util"] for r in records)
    assert len(server.requests(r"\.tgz$")) > 4  # at least one body was damaged and refetched


def test_tarball_that_never_matches_its_digest_gives_no_import_names(
    server: FakeRegistry, app: NpmApp, tmp_path: Path
) -> None:
    app._tarballs[("left-pad", "1.0.0")] += b"tampered"
    registry, http = make_registry(server, app, tmp_path)

    async def go() -> Any:
        async with http:
            return await registry.fetch("left-pad")

    assert run(go()).import_names == []
    assert len(server.requests(r"\.tgz$")) == 1 + http.config.retries


def test_tarball_host_failing_fails_the_package_so_it_is_retried(
    server: FakeRegistry, app: NpmApp, tmp_path: Path
) -> None:
    server.faults = Faults(always={r"\.tgz$": 503})
    registry, http = make_registry(server, app, tmp_path)
    http.config.retries = 1

    async def go() -> Any:
        async with http:
            return await registry.fetch("left-pad")

    with pytest.raises(RegistryError, match="503"):
        run(go())


def test_import_names_come_from_the_latest_tag_not_a_newer_prerelease(
    server: FakeRegistry, tmp_path: Path
) -> None:
    app = NpmApp()
    app.publish("tagged", "1.0.0", files=("package/index.js", "package/stable.js"))
    app.publish("tagged", "2.0.0-beta.1", files=("package/index.js", "package/beta.js"), tag=False)
    registry, http = make_registry(server, app, tmp_path)

    async def go() -> Any:
        async with http:
            return await registry.fetch("tagged")

    assert run(go()).import_names == ["tagged", "tagged/stable"]
    assert [p for _, p, _ in server.requests(r"\.tgz$")] == ["/npm/tagged/-/tagged-1.0.0.tgz"]
