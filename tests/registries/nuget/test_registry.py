"""NuGet client against the fake feed: catalog walk, archive, watermark, registration, imports."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from ssc_cli.errors import ConfigError, PackageNotFound
from ssc_cli.http import Http, HttpConfig
from ssc_cli.models import KnownPackage, PackageRecord
from ssc_cli.registries.nuget.catalog import CatalogArchive, canonical_ts
from ssc_cli.registries.nuget.client import NuGetRegistry, rebuild_from_archive
from ssc_cli.registries.nuget.parse import hull
from ssc_cli.settings import Settings
from tests.fakeregistry.nuget import NuGetApp
from tests.fakeregistry.server import FakeRegistry, Request, Response, json_response


class View:
    """A StoreView over a plain dict of stored packages and a cursor."""

    def __init__(self, stored: Iterable[str], cursor: dict[str, Any] | None) -> None:
        self.stored = set(stored)
        self._cursor = cursor

    def cursor(self, key: str) -> dict[str, Any] | None:
        return self._cursor if key == "update" else None

    def tokens(self) -> Iterator[tuple[str, str | None]]:
        return iter((name, None) for name in sorted(self.stored))

    def known(self, names: Iterable[str]) -> Mapping[str, KnownPackage]:
        return {n: KnownPackage("extracted", None, frozenset()) for n in names if n in self.stored}


def build_feed() -> NuGetApp:
    app = NuGetApp(page_size=3, registration_page=2, inline_max=3)
    app.publish(
        "Newtonsoft.Json",
        "13.0.1",
        deps={".NETStandard1.0": [("Microsoft.CSharp", "[4.3.0, )")], ".NETFramework4.5": []},
        repository="https://github.com/JamesNK/Newtonsoft.Json.git",
        dlls=["Newtonsoft.Json"],
        project_url="https://www.newtonsoft.com/json",
    )
    app.publish("Microsoft.CSharp", "4.3.0", deps={}, dlls=["Microsoft.CSharp"])
    app.commit()
    app.publish(
        "Newtonsoft.Json",
        "13.0.3",
        deps={
            ".NETStandard1.0": [
                ("Microsoft.CSharp", "[4.3.0, )"),
                ("NETStandard.Library", "[1.6.1, )"),
            ],
            ".NETStandard1.3": [
                ("Microsoft.CSharp", "[4.3.0, )"),
                ("NETStandard.Library", "[2.0.0, )"),
            ],
        },
        repository="https://github.com/JamesNK/Newtonsoft.Json.git",
        dlls=["Newtonsoft.Json"],
    )
    app.publish("NETStandard.Library", "1.6.1", deps={"any": [("Microsoft.CSharp", "")]})
    app.publish("NETStandard.Library", "2.0.0", deps={})
    app.commit()
    app.publish("Legacy.Thing", "1.0.0", listed=False, license_expression=None)
    app.commit()
    return app


@pytest.fixture
def feed(tmp_path: Path) -> Iterator[tuple[FakeRegistry, NuGetApp, Settings]]:
    app = build_feed()
    with FakeRegistry() as server:
        server.mount("nuget", app)
        settings = Settings(
            nuget_url=server.url("nuget") + "/v3/index.json",
            data_dir=tmp_path / "data",
            cache_dir=tmp_path / "cache",
            http_rate_limit=False,
        )
        yield server, app, settings


def run(settings: Settings, work: Any) -> Any:
    async def main() -> Any:
        config = HttpConfig(user_agent="test", rate_limits=False, cache_dir=settings.cache_dir)
        async with Http(config) as http:
            registry = NuGetRegistry(settings, http)
            try:
                return await work(registry)
            finally:
                registry.archive.close()

    return asyncio.run(main())


async def listing(registry: NuGetRegistry) -> list[str]:
    return [name async for name in registry.list_names()]


def test_listing_walks_catalog_into_archive(feed: tuple[FakeRegistry, NuGetApp, Settings]) -> None:
    server, app, settings = feed
    names = run(settings, listing)
    # Page by page, in catalog order, each id once.
    assert names == ["microsoft.csharp", "newtonsoft.json", "netstandard.library", "legacy.thing"]
    pages = sorted((settings.data_dir / "nuget" / "catalog" / "pages").iterdir())
    assert [p.name for p in pages] == ["page0.jsonl.gz", "page1.jsonl.gz"]
    lines = gzip.decompress(pages[0].read_bytes()).decode().splitlines()
    # Oldest commit first; items of one commit in leaf-URL order.
    assert [json.loads(line)["id"] for line in lines] == [
        "Microsoft.CSharp",
        "Newtonsoft.Json",
        "Newtonsoft.Json",
    ]
    assert len(server.requests(r"/data/")) == 6  # every leaf once
    server.clear_log()
    again = run(settings, listing)  # a second listing reads the index and nothing else
    assert sorted(again) == sorted(names)
    assert [path for _, path, _ in server.requests()] == [
        "/nuget/v3/index.json",
        "/nuget/v3/catalog0/index.json",
    ]


def test_fetch_builds_package_from_archive(feed: tuple[FakeRegistry, NuGetApp, Settings]) -> None:
    server, app, settings = feed

    async def work(registry: NuGetRegistry) -> PackageRecord:
        await listing(registry)
        server.clear_log()
        return await registry.fetch("Newtonsoft.Json")

    record = run(settings, work)
    assert record.name == "newtonsoft.json"
    assert record.extra["display_name"] == "Newtonsoft.Json"
    assert record.repository_url == "https://github.com/JamesNK/Newtonsoft.Json"
    assert record.vendor == "JamesNK"
    assert record.import_names == ["Newtonsoft.Json"]
    versions = {v.name: v for v in record.versions}
    assert set(versions) == {"13.0.1", "13.0.3"}
    deps = {r.name: r for r in versions["13.0.3"].requirements or []}
    assert set(deps) == {"microsoft.csharp", "netstandard.library"}
    assert deps["microsoft.csharp"].constraints == "[4.3.0, )"
    assert deps["microsoft.csharp"].extra["frameworks"] == [".NETStandard1.0", ".NETStandard1.3"]
    assert deps["netstandard.library"].constraints == "[1.6.1, )"
    assert deps["netstandard.library"].raw_constraints == "[1.6.1, ) || [2.0.0, )"
    assert deps["netstandard.library"].extra["ranges"] == {
        ".NETStandard1.0": "[1.6.1, )",
        ".NETStandard1.3": "[2.0.0, )",
    }
    old = versions["13.0.1"]
    # `created`, the first commit of that version (`+00:00` spelling kept as published).
    assert old.release_date == app.packages["newtonsoft.json"][1]["13.0.1"].created
    assert old.release_date.endswith("+00:00")
    assert old.licenses == {
        "licenseExpression": "MIT",
        "licenseUrl": "https://licenses.nuget.org/MIT",
        "projectUrl": "https://www.newtonsoft.com/json",
    }
    assert not old.yanked
    # The archive served the leaves; only the nuspec and the nupkg's zip directory were read.
    paths = [path for _, path, _ in server.requests()]
    assert not [p for p in paths if "/catalog0/" in p]
    assert any(p.endswith("newtonsoft.json.nuspec") for p in paths)
    assert any(status == 206 for _, p, status in server.requests(r"\.nupkg$"))


def test_unlisted_and_any_constraint(feed: tuple[FakeRegistry, NuGetApp, Settings]) -> None:
    _, _, settings = feed

    async def work(registry: NuGetRegistry) -> list[PackageRecord]:
        await listing(registry)
        return [await registry.fetch(n) for n in ("legacy.thing", "netstandard.library")]

    legacy, netstandard = run(settings, work)
    (version,) = legacy.versions
    assert version.yanked and version.extra["listed"] is False
    assert version.release_date is not None and not version.release_date.startswith("1900")
    assert version.licenses == {}
    reqs = {v.name: v.requirements for v in netstandard.versions}
    assert reqs["2.0.0"] == []
    (dep,) = reqs["1.6.1"] or []
    assert (dep.name, dep.constraints, dep.extra["frameworks"]) == (
        "microsoft.csharp",
        "any",
        ["any"],
    )


def test_changes_read_only_items_after_watermark(
    feed: tuple[FakeRegistry, NuGetApp, Settings],
) -> None:
    server, app, settings = feed
    cursor = run(settings, lambda r: _listing_cursor(r))
    app.publish(
        "Newtonsoft.Json", "13.0.4-beta1", deps={}, repository=None, dlls=["Newtonsoft.Json"]
    )
    app.delete("NETStandard.Library", "1.6.1")
    app.commit()
    app.reflow("Microsoft.CSharp", "4.3.0")
    app.deprecate("Newtonsoft.Json", "13.0.1", ["Legacy"], "use 13.0.3")
    app.publish("Brand.New", "1.0.0")
    app.commit()
    server.clear_log()
    view = View(
        ["newtonsoft.json", "netstandard.library", "microsoft.csharp", "legacy.thing"], cursor
    )

    async def work(registry: NuGetRegistry) -> tuple[Any, list[PackageRecord]]:
        changes = await registry.changes(view)
        fetched = [await registry.fetch(n) for n in changes.names]
        return changes, fetched

    changes, fetched = run(settings, work)
    assert changes.names == ["microsoft.csharp", "netstandard.library", "newtonsoft.json"]
    assert changes.cursor == {"watermark": app.head}
    assert changes.notes["catalog_leaves"] == 5
    pages = [p for _, p, _ in server.requests(r"/catalog0/page")]
    assert pages == ["/nuget/v3/catalog0/page2.json", "/nuget/v3/catalog0/page3.json"]
    records = {r.name: r for r in fetched}
    assert sorted(v.name for v in records["netstandard.library"].versions) == ["2.0.0"]
    newtonsoft = {v.name: v for v in records["newtonsoft.json"].versions}
    assert set(newtonsoft) == {"13.0.1", "13.0.3", "13.0.4-beta1"}
    assert newtonsoft["13.0.1"].deprecated == "use 13.0.3"
    assert newtonsoft["13.0.1"].extra["deprecation"] == {
        "reasons": ["Legacy"],
        "message": "use 13.0.3",
    }

    # The same cursor again (the batch never committed): nothing is lost, nothing refetched.
    server.clear_log()
    again = run(settings, lambda r: r.changes(view))
    assert again.names == changes.names and again.cursor == changes.cursor
    assert again.notes["catalog_leaves"] == 0
    # From the new watermark: nothing changed.
    later = run(settings, lambda r: r.changes(View(view.stored, changes.cursor)))
    assert later.names == [] and later.cursor == changes.cursor


async def _listing_cursor(registry: NuGetRegistry) -> dict[str, Any] | None:
    await listing(registry)
    return registry.listing_cursor()


def test_package_with_every_version_deleted(feed: tuple[FakeRegistry, NuGetApp, Settings]) -> None:
    _, app, settings = feed
    run(settings, listing)
    mark = app.head
    app.delete("Legacy.Thing", "1.0.0")
    app.commit()

    async def work(registry: NuGetRegistry) -> PackageRecord:
        await registry.changes(View(["legacy.thing"], {"watermark": mark}))
        return await registry.fetch("legacy.thing")

    record = run(settings, work)
    assert record.versions == [] and record.complete
    # id and version may be published again after a delete: the newer item wins.
    mark = app.head
    app.publish("Legacy.Thing", "1.0.0", license_expression="Apache-2.0")
    app.commit()

    async def again(registry: NuGetRegistry) -> PackageRecord:
        await registry.changes(View(["legacy.thing"], {"watermark": mark}))
        return await registry.fetch("legacy.thing")

    (version,) = run(settings, again).versions
    assert version.licenses["licenseExpression"] == "Apache-2.0" and not version.yanked


def test_fetch_outside_archive_uses_registration(
    feed: tuple[FakeRegistry, NuGetApp, Settings],
) -> None:
    server, app, settings = feed
    for minor in range(5):
        app.publish(
            "Big.Package", f"2.{minor}.0", deps={"net8.0": [("Microsoft.CSharp", "[4.0.0, 5.0.0)")]}
        )
    app.commit()

    async def work(registry: NuGetRegistry) -> tuple[PackageRecord, PackageRecord]:
        first = await registry.fetch("BIG.PACKAGE")
        server.clear_log()
        second = await registry.fetch("big.package")  # now described by the archive
        return first, second

    first, second = run(settings, work)
    assert sorted(v.name for v in first.versions) == [f"2.{m}.0" for m in range(5)]
    (dep,) = first.versions[0].requirements or []
    assert dep.constraints == "[4.0.0, 5.0.0)"
    assert first.versions == second.versions
    assert not server.requests(r"/registration5|/catalog0/")
    archive = CatalogArchive(settings.data_dir / "nuget" / "catalog")
    assert archive.knows("big.package") and not archive.from_start
    archive.close()


def test_registration_entries_without_a_leaf_are_kept_apart(tmp_path: Path) -> None:
    """Inlined catalogEntry objects without an @id: every version survives the archive."""
    app = NuGetApp(entry_ids=False)
    for minor in range(3):
        app.publish("No.Leaves", f"1.{minor}.0", deps={"any": [("Microsoft.CSharp", "")]})
    app.commit()
    with FakeRegistry() as server:
        server.mount("nuget", app)
        settings = Settings(
            nuget_url=server.url("nuget") + "/v3/index.json",
            data_dir=tmp_path / "data",
            cache_dir=tmp_path / "cache",
            http_rate_limit=False,
            import_names=False,
        )

        async def work(registry: NuGetRegistry) -> tuple[PackageRecord, PackageRecord]:
            first = await registry.fetch("no.leaves")
            server.clear_log()
            return first, await registry.fetch("no.leaves")  # from the archive this time

        first, again = run(settings, work)
        assert not server.requests(r"/registration5|/catalog0/")
        index = server.url("nuget") + "/v3/registration5-gz-semver2/no.leaves/index.json"
    versions = ["1.0.0", "1.1.0", "1.2.0"]
    assert sorted(v.name for v in first.versions) == versions
    assert sorted(v.name for v in again.versions) == versions
    archive = CatalogArchive(settings.data_dir / "nuget" / "catalog")
    keys = sorted(s.item.leaf_url for s in archive.items_of("no.leaves"))
    archive.close()
    assert keys == [f"{index}#no.leaves@{v}" for v in versions]


def test_registration_pages_not_inlined(feed: tuple[FakeRegistry, NuGetApp, Settings]) -> None:
    server, app, settings = feed
    record = run(settings, lambda r: r.fetch("newtonsoft.json"))
    assert {v.name for v in record.versions} == {"13.0.1", "13.0.3"}
    assert server.requests(r"/registration5-gz-semver2/newtonsoft.json/index.json")


def test_unknown_package_is_not_found(feed: tuple[FakeRegistry, NuGetApp, Settings]) -> None:
    _, _, settings = feed
    with pytest.raises(PackageNotFound):
        run(settings, lambda r: r.fetch("does.not.exist"))


def test_rebuild_offline_matches_fetch(feed: tuple[FakeRegistry, NuGetApp, Settings]) -> None:
    server, _, settings = feed

    async def work(registry: NuGetRegistry) -> dict[str, PackageRecord]:
        names = await listing(registry)
        return {n: await registry.fetch(n) for n in names}

    online = run(settings, work)
    server.stop()  # offline from here
    offline = {r.name: r for r in rebuild_from_archive(settings.data_dir, settings.kinds)}
    assert set(offline) == set(online)
    for name, record in offline.items():
        assert record.versions == online[name].versions
        assert not record.import_names  # offline: no .nupkg was read


def test_import_names_switch(feed: tuple[FakeRegistry, NuGetApp, Settings]) -> None:
    server, _, settings = feed
    settings = settings.model_copy(update={"import_names": False})
    record = run(settings, lambda r: r.fetch("newtonsoft.json"))
    assert not record.import_names and not server.requests(r"\.nupkg$")


def test_runtime_kind_off_drops_edges(feed: tuple[FakeRegistry, NuGetApp, Settings]) -> None:
    _, _, settings = feed
    settings = settings.model_copy(update={"dependency_kinds": "dev"})
    record = run(settings, lambda r: r.fetch("newtonsoft.json"))
    assert all(v.requirements == [] for v in record.versions)


def test_archive_trims_bytes_left_by_a_crash(tmp_path: Path) -> None:
    from ssc_cli.registries.nuget.catalog import CatalogItem

    archive = CatalogArchive(tmp_path)
    item = CatalogItem("http://x/a.json", "details", "2024-01-01T00:00:00.0000000Z", "A", "1.0.0")
    archive.store_page(
        "http://x/page0.json", item.commit_ts, 2, [(item, {"id": "A"})], complete=False
    )
    path = tmp_path / "pages" / "page0.jsonl.gz"
    with path.open("ab") as handle:
        handle.write(gzip.compress(b'{"half": "written"}\n'))  # killed before its index commit
    second = CatalogItem("http://x/b.json", "details", "2024-01-01T00:00:01.0000000Z", "B", "1.0.0")
    archive.store_page(
        "http://x/page0.json", second.commit_ts, 2, [(second, {"id": "B"})], complete=True
    )
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["A", "B"]
    assert [archive.read_leaf(s)["id"] for s in archive.items_of("b")] == ["B"]
    archive.close()


class MirrorIndex:
    """A service index of its own that points into another prefix, as a mirror or proxy does."""

    def __init__(self, target: str, *, catalog: bool = True) -> None:
        self.target = target
        self.catalog = catalog

    def handle(self, request: Request) -> Response:
        if request.path != "/index.json":
            return Response(404, b"")
        resources = [
            # GitHub-style: no trailing slash on the registration base, untyped fallbacks.
            {"@id": f"{self.target}/v3/registration5-gz-semver2", "@type": "RegistrationsBaseUrl"},
            {"@id": f"{self.target}/v3-flatcontainer", "@type": "PackageBaseAddress/3.0.0"},
        ]
        if self.catalog:
            resources.append(
                {"@id": f"{self.target}/v3/catalog0/index.json", "@type": "Catalog/3.0.0"}
            )
        return json_response({"version": "3.0.0", "resources": resources})


def test_resources_come_from_the_service_index(
    feed: tuple[FakeRegistry, NuGetApp, Settings],
) -> None:
    server, _, settings = feed
    server.mount("mirror", MirrorIndex(server.url("nuget")))
    settings = settings.model_copy(update={"nuget_url": server.url("mirror") + "/index.json"})

    async def work(registry: NuGetRegistry) -> tuple[list[str], PackageRecord]:
        return await listing(registry), await registry.fetch("newtonsoft.json")

    names, record = run(settings, work)
    assert "newtonsoft.json" in names and record.import_names == ["Newtonsoft.Json"]
    assert server.requests(r"^/mirror/index.json$")


def test_feed_without_catalog_fetches_by_name_only(
    feed: tuple[FakeRegistry, NuGetApp, Settings],
) -> None:
    server, _, settings = feed
    server.mount("mirror", MirrorIndex(server.url("nuget"), catalog=False))
    settings = settings.model_copy(update={"nuget_url": server.url("mirror") + "/index.json"})
    record = run(settings, lambda r: r.fetch("Microsoft.CSharp"))
    assert [v.name for v in record.versions] == ["4.3.0"]
    with pytest.raises(ConfigError, match="Catalog/3.0.0"):
        run(settings, listing)


@pytest.mark.parametrize(
    ("ranges", "expected"),
    [
        (["[13.0.1, )"], "[13.0.1, )"),
        ([""], "any"),
        (["(, )"], "any"),
        (["[1.6.1, )", "[2.0.0, )"], "[1.6.1, )"),
        (["[1.0, 2.0)", "[1.5, 3.0]"], "[1.0, 3.0]"),
        (["(1.0, 2.0)", "[1.0, 2.0)"], "[1.0, 2.0)"),
        (["[1.0]", "[2.0]"], "[1.0, 2.0]"),
        (["[1.0, )", "(, 0.5]"], "any"),
        (["[4.0.0, 5.0.0)", ""], "any"),
    ],
)
def test_constraint_hull(ranges: list[str], expected: str) -> None:
    assert hull(ranges) == expected


def test_canonical_timestamps_compare_as_instants() -> None:
    assert canonical_ts("2022-03-24T14:52:07.9550798Z") == "2022-03-24T14:52:07.9550798Z"
    assert canonical_ts("2022-03-24T14:52:07.9550798+00:00") == "2022-03-24T14:52:07.9550798Z"
    assert canonical_ts("2022-03-24T14:52:07.95Z") == "2022-03-24T14:52:07.9500000Z"
    assert canonical_ts("2022-03-24T16:52:07+02:00") == "2022-03-24T14:52:07.0000000Z"
    assert canonical_ts("2022-03-24T14:52:07.9Z") > canonical_ts("2022-03-24T14:52:07.10Z")
    with pytest.raises(ValueError):
        canonical_ts("yesterday")


def test_update_after_fetching_by_name_only(feed: tuple[FakeRegistry, NuGetApp, Settings]) -> None:
    """`ingest --names-from` (registration only), then updates without and with a cursor."""
    _, app, settings = feed
    stored = ["newtonsoft.json", "microsoft.csharp"]

    async def fetch_all(registry: NuGetRegistry) -> None:
        for name in stored:
            await registry.fetch(name)

    run(settings, fetch_all)
    first = run(settings, lambda r: r.changes(View(stored, None)))
    # No cursor: start an hour before the registration answered (it trails the catalog).
    assert first.cursor == {"watermark": app.head}
    assert set(first.names) <= set(stored)
    app.publish("Microsoft.CSharp", "4.7.0", deps={})
    app.commit()

    async def update(registry: NuGetRegistry) -> tuple[Any, PackageRecord]:
        changes = await registry.changes(View(stored, first.cursor))
        return changes, await registry.fetch("microsoft.csharp")

    second, record = run(settings, update)
    assert second.names == ["microsoft.csharp"] and second.cursor == {"watermark": app.head}
    assert sorted(v.name for v in record.versions) == ["4.3.0", "4.7.0"]
    third = run(settings, lambda r: r.changes(View(stored, second.cursor)))
    assert third.names == [] and third.cursor == second.cursor


def _append_many(root: Path, tag: str) -> None:
    from ssc_cli.registries.nuget.catalog import CatalogItem

    archive = CatalogArchive(root)
    for n in range(30):
        url = f"http://x/{tag}{n}.json"
        item = CatalogItem(url, "details", f"2024-01-01T00:00:{n:02d}.0000000Z", f"{tag}{n}", "1.0")
        archive.store_page(
            "http://x/page0.json", item.commit_ts, 60, [(item, {"id": f"{tag}{n}"})], complete=False
        )
    archive.close()


def test_two_processes_append_to_one_page(tmp_path: Path) -> None:
    """`ingest` and `update` hold different job locks; their archive writes must not clash."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_append_many, args=(tmp_path, tag)) for tag in "ab"]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    archive = CatalogArchive(tmp_path)
    ids = sorted(archive.ids())
    assert len(ids) == 60
    for lower in ids:
        (stored,) = archive.items_of(lower)
        assert archive.read_leaf(stored)["id"].lower() == lower
    lines = gzip.decompress((tmp_path / "pages" / "page0.jsonl.gz").read_bytes()).splitlines()
    assert len(lines) == 60
    archive.close()


def test_fetch_while_the_first_walk_goes_on(feed: tuple[FakeRegistry, NuGetApp, Settings]) -> None:
    """The ingest fetches between listing chunks: mid-walk, a package must still be whole."""
    server, app, settings = feed

    async def work(registry: NuGetRegistry) -> tuple[list[str], PackageRecord, Any]:
        names = registry.list_names()
        first = [await anext(names), await anext(names)]  # page0's ids; page1 not walked
        record = await registry.fetch("netstandard.library")  # both versions are on page1
        rest = [name async for name in names]
        return first + rest, record, registry.listing_cursor()

    names, record, cursor = run(settings, work)
    assert sorted(v.name for v in record.versions) == ["1.6.1", "2.0.0"]
    assert server.requests(r"/registration5-gz-semver2/netstandard.library/index.json")
    assert sorted(names) == [
        "legacy.thing",
        "microsoft.csharp",
        "netstandard.library",
        "newtonsoft.json",
    ]
    # The registration answered "now": the first update starts an hour before that.
    assert cursor is not None and cursor["watermark"] < app.head
    # Leaves the registration path archived were not fetched again by the walk.
    assert len(server.requests(r"/catalog0/data/")) == 6
