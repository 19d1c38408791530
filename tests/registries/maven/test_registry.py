"""MavenRegistry against the fake repository over real HTTP: listing, fetch, changes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import pytest

from ssc_cli.errors import HttpStatusError, MalformedPayload, PackageNotFound, RegistryError
from ssc_cli.http import Http, HttpConfig
from ssc_cli.models import KnownPackage, PackageRecord
from ssc_cli.registries.maven.client import MavenRegistry
from ssc_cli.registries.maven.parse import (
    jar_import_names,
    parse_directory_listing,
    usable_version,
)
from ssc_cli.settings import Settings
from tests.fakeregistry.maven import MavenApp, app_pom, make_jar, simple_pom
from tests.fakeregistry.server import FakeRegistry, Faults

T = TypeVar("T")


class MemoryView:
    """A StoreView over a dict of stored packages and a cursor."""

    def __init__(self, stored: Mapping[str, Iterable[str]], cursor: dict[str, Any] | None) -> None:
        self.stored = {name: frozenset(versions) for name, versions in stored.items()}
        self.saved = cursor

    def cursor(self, key: str) -> dict[str, Any] | None:
        assert key == "update"
        return self.saved

    def tokens(self) -> Iterator[tuple[str, str | None]]:
        return iter([(name, None) for name in sorted(self.stored)])

    def known(self, names: Iterable[str]) -> Mapping[str, KnownPackage]:
        return {
            n: KnownPackage("extracted", None, self.stored[n]) for n in names if n in self.stored
        }


class Harness:
    def __init__(self, server: FakeRegistry, app: MavenApp, tmp: Path) -> None:
        self.server, self.app, self.tmp = server, app, tmp

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "maven_url": self.server.url("maven"),
            "data_dir": self.tmp / "data",
            "cache_dir": self.tmp / "cache",
            "http_rate_limit": False,
        }
        return Settings(**{**values, **overrides})

    def run(self, body: Callable[[MavenRegistry], Awaitable[T]], **overrides: Any) -> T:
        async def main() -> T:
            config = HttpConfig(
                user_agent="test",
                rate_limits=False,
                cache_dir=self.tmp / "http",
                retries=1,
                backoff_base=0.01,
            )
            async with Http(config) as http:
                return await body(MavenRegistry(self.settings(**overrides), http))

        return asyncio.run(main())

    def fetch(self, name: str, known: KnownPackage | None = None, **kw: Any) -> PackageRecord:
        return self.run(lambda r: r.fetch(name, known), **kw)

    def names(self) -> tuple[list[str], dict[str, Any] | None]:
        async def body(registry: MavenRegistry) -> tuple[list[str], dict[str, Any] | None]:
            names = [n async for n in registry.list_names()]
            return names, registry.listing_cursor()

        return self.run(body)


@pytest.fixture
def maven(tmp_path: Path) -> Iterator[Harness]:
    with FakeRegistry() as server:
        app = MavenApp.default()
        server.mount("maven", app)
        yield Harness(server, app, tmp_path)


def test_list_names_collapses_the_index_to_group_artifact(maven: Harness) -> None:
    names, cursor = maven.names()
    assert names == [
        "com.acme:util",
        "org.example:app",
        "org.example:bom",
        "org.example:core",
        "org.example:lib-a",
        "org.example:parent",
    ]
    assert cursor is not None and cursor["chain_id"] == "1318453614498"
    assert cursor["last_incremental"] == 0


def test_fetch_resolves_the_effective_pom(maven: Harness) -> None:
    maven.names()  # the local index gives release dates
    record = maven.fetch("org.example:app")
    assert record.name == "org.example:app"
    assert record.extra == {"group_id": "org.example", "artifact_id": "app"}
    assert record.purl == "pkg:maven/org.example/app"
    assert record.repository_url == "https://github.com/example/project"
    assert record.vendor == "example"
    assert record.import_names == ["org.example.app", "org.example.shaded"]
    assert record.licenses["licenses"][0]["name"] == "Apache License, Version 2.0"
    assert [v.name for v in record.versions] == ["1.0", "1.1"]
    v11 = record.versions[1]
    assert v11.release_date is not None and v11.release_date.endswith("+00:00")
    reqs = {r.name: r for r in v11.requirements or []}
    assert sorted(reqs) == [
        "com.acme:runtime-only",
        "com.acme:util",
        "org.example:core",
        "org.example:lib-a",
        "org.slf4j:slf4j-api",
    ]
    assert (reqs["org.example:core"].constraints, reqs["org.example:core"].raw_constraints) == (
        "1.1",
        "${project.version}",
    )
    assert reqs["com.acme:util"].constraints == "2.1" and reqs["com.acme:util"].extra["managed"]
    assert all(r.kind == "runtime" for r in reqs.values())


def test_dependency_kinds_setting_adds_test_provided_optional(maven: Harness) -> None:
    record = maven.fetch(
        "org.example:app", dependency_kinds="runtime,test,provided,optional", import_names=False
    )
    reqs = {r.name: r for r in record.versions[0].requirements or []}
    assert reqs["junit:junit"].kind == "test" and reqs["junit:junit"].constraints == "4.13.2"
    assert reqs["javax.servlet:servlet-api"].kind == "provided"
    optional = reqs["com.acme:optional-thing"]
    assert (optional.kind, optional.optional, optional.constraints) == (
        "optional",
        True,
        "[1.0,2.0)",
    )
    assert record.import_names is None  # not read: the stored names stay
    assert not maven.server.requests(r"\.jar$")


def test_known_versions_cost_no_requests_and_poms_are_cached_forever(maven: Harness) -> None:
    first = maven.fetch("org.example:app")
    maven.server.clear_log()
    known = KnownPackage("extracted", None, frozenset({"1.0", "1.1"}))
    again = maven.fetch("org.example:app", known)
    assert all(v.requirements is None for v in again.versions)
    # Licences come from the POM cache, so an update does not blank them.
    assert [v.licenses for v in again.versions] == [v.licenses for v in first.versions]
    assert not maven.server.requests(r"\.pom$")

    maven.app.add("org.example", "app", "1.2", app_pom("1.2"), packages=["org.example.app"])
    maven.server.clear_log()
    newer = maven.fetch("org.example:app", known)
    assert [v.requirements is None for v in newer.versions] == [True, True, False]
    # Only the new version's POM is fetched: the parent and the BOM are in the cache.
    assert [p for _, p, _ in maven.server.requests(r"\.pom$")] == [
        "/maven/org/example/app/1.2/app-1.2.pom"
    ]


def test_placeholder_and_snapshot_versions_are_dropped(maven: Harness) -> None:
    maven.app.extra_metadata_versions[("org.example", "core")] = [
        "1.2-SNAPSHOT",
        "${project.version}",
        "LATEST",
        "RELEASE",
    ]
    record = maven.fetch("org.example:core")
    assert [v.name for v in record.versions] == ["1.0", "1.1"]
    assert not usable_version("1.0-SNAPSHOT") and usable_version("1.0-RC1")


def test_release_date_falls_back_to_the_pom_last_modified(maven: Harness) -> None:
    maven.app.add(
        "org.example",
        "core",
        "2.0",
        simple_pom("org.example", "core", "2.0"),
        modified_ms=1_700_000_000_000,
        in_index=False,
    )
    maven.names()
    record = maven.fetch("org.example:core")
    dates = {v.name: v.release_date for v in record.versions}
    assert dates["2.0"] == "2023-11-14T22:13:20+00:00"
    assert dates["1.0"] is not None and dates["1.0"] != dates["2.0"]


def test_missing_metadata_falls_back_to_the_directory_listing(maven: Harness) -> None:
    maven.app.no_metadata.add(("org.example", "core"))
    record = maven.fetch("org.example:core")
    assert [v.name for v in record.versions] == ["1.0", "1.1"]
    assert maven.server.requests(r"/org/example/core/$")


def test_unknown_and_malformed_packages(maven: Harness) -> None:
    with pytest.raises(PackageNotFound):
        maven.fetch("org.example:nothing")
    with pytest.raises(PackageNotFound):
        maven.fetch("no-colon")
    maven.app.add("org.example", "broken", "1.0", "<project><artifactId>x</artifactId>")
    with pytest.raises(MalformedPayload, match="broken-1.0.pom"):
        maven.fetch("org.example:broken")


def test_missing_jar_gives_no_import_names_but_a_failing_host_fails_the_package(
    maven: Harness,
) -> None:
    maven.server.faults = Faults(always={r"core-1\.1\.jar$": 404})
    assert maven.fetch("org.example:core").import_names == []
    maven.server.faults = Faults(always={r"core-1\.1\.jar$": 503})
    with pytest.raises(HttpStatusError):
        maven.fetch("org.example:core")


def test_garbled_downloads_are_fetched_again(maven: Harness) -> None:
    maven.app.garble_once |= {
        "/.index/nexus-maven-repository-index.gz",
        "/.index/nexus-maven-repository-index.properties",
        "/org/example/core/maven-metadata.xml",
        "/org/example/core/1.1/core-1.1.pom",
    }
    names, _ = maven.names()
    assert len(names) == 6
    record = maven.fetch("org.example:core")
    assert [v.name for v in record.versions] == ["1.0", "1.1"]
    assert record.versions[1].licenses == {
        "licenses": [{"name": "MIT", "url": "https://opensource.org/licenses/MIT"}]
    }
    assert not maven.app.garble_once
    # The garbled metadata was not kept for revalidation: a second fetch parses fine.
    assert [v.name for v in maven.fetch("org.example:core").versions] == ["1.0", "1.1"]


def test_relocation_is_kept_on_the_package(maven: Harness) -> None:
    maven.app.add(
        "org.old",
        "thing",
        "1.0",
        "<project><groupId>org.old</groupId><artifactId>thing</artifactId><version>1.0</version>"
        "<distributionManagement><relocation><groupId>org.example</groupId></relocation>"
        "</distributionManagement></project>",
        packaging="pom",
    )
    record = maven.fetch("org.old:thing")
    assert record.extra["relocation"] == "org.example:thing"
    assert record.versions[0].requirements == []


def test_pom_without_jar_has_no_import_names(maven: Harness) -> None:
    record = maven.fetch("org.example:parent")
    assert record.import_names == []
    assert not maven.server.requests(r"\.jar$")


def test_jar_import_names_rules() -> None:
    members = [
        "META-INF/MANIFEST.MF",
        "META-INF/versions/11/com/x/Y.class",
        "module-info.class",
        "com/google/common/base/Strings.class",
        "com/google/common/base/Strings$1.class",
        "com/google/common/collect/Lists.class",
        "com/google/thirdparty/publicsuffix/P.class",
        "only$nested/A.class",
    ]
    assert jar_import_names(members) == [
        "com.google.common.base",
        "com.google.common.collect",
        "com.google.thirdparty.publicsuffix",
    ]


def test_directory_listing_parser() -> None:
    html = (
        '<a href="../">../</a><a href="https://r/x/1.0/">1.0/</a><a href="2.0/">2.0/</a>'
        '<a href="maven-metadata.xml">maven-metadata.xml</a>'
    )
    assert parse_directory_listing(html) == ["1.0", "2.0"]


# -- changes ---------------------------------------------------------------------------------


def changes(
    maven: Harness, view: MemoryView
) -> tuple[list[str], dict[str, Any] | None, dict[str, Any]]:
    async def body(
        registry: MavenRegistry,
    ) -> tuple[list[str], dict[str, Any] | None, dict[str, Any]]:
        found = await registry.changes(view)
        return found.names, found.cursor, found.notes

    return maven.run(body)


STORED = {
    "org.example:app": ["1.0", "1.1"],
    "org.example:core": ["1.0", "1.1"],
    "com.acme:util": ["2.1"],
}


def test_incremental_chunks_name_the_changed_stored_packages(maven: Harness) -> None:
    _, cursor = maven.names()
    maven.app.add("org.example", "app", "1.2", app_pom("1.2"), packages=["org.example.app"])
    maven.app.add("org.example", "extra", "0.1", simple_pom("org.example", "extra", "0.1"))
    maven.app.publish()
    names, new_cursor, notes = changes(maven, MemoryView(STORED, cursor))
    assert names == ["org.example:app"]
    assert notes["mode"] == "incremental" and notes["chunks"] == 1
    assert new_cursor is not None and new_cursor["last_incremental"] == 1
    assert maven.server.requests(r"index\.1\.gz$")
    assert not maven.server.requests(r"index\.gz$")[1:]  # the full chunk only once (listing)
    # Nothing published since: nothing changed, no chunk downloaded.
    maven.server.clear_log()
    assert changes(maven, MemoryView(STORED, new_cursor))[0] == []
    assert not maven.server.requests(r"\.gz$")


def test_garbled_incremental_chunk_is_fetched_again(maven: Harness) -> None:
    _, cursor = maven.names()
    maven.app.add("org.example", "core", "1.2", simple_pom("org.example", "core", "1.2"))
    maven.app.publish()
    maven.app.garble_once.add("/.index/nexus-maven-repository-index.1.gz")
    names, _, notes = changes(maven, MemoryView(STORED, cursor))
    assert names == ["org.example:core"] and notes["mode"] == "incremental"
    assert len(maven.server.requests(r"index\.1\.gz$")) == 2


def test_rerun_after_a_crash_repeats_the_same_changes(maven: Harness) -> None:
    _, cursor = maven.names()
    maven.app.add("org.example", "core", "1.2", simple_pom("org.example", "core", "1.2"))
    maven.app.publish()
    first = changes(maven, MemoryView(STORED, cursor))
    # The cursor was not saved (the writes did not commit): the same chunk gives the same names.
    second = changes(maven, MemoryView(STORED, cursor))
    assert first[0] == second[0] == ["org.example:core"]


def test_chain_change_reloads_and_diffs_against_the_graph(maven: Harness) -> None:
    _, cursor = maven.names()
    maven.app.add("com.acme", "util", "2.2", simple_pom("com.acme", "util", "2.2"))
    maven.app.reset_chain("999")
    names, new_cursor, notes = changes(maven, MemoryView(STORED, cursor))
    assert notes["mode"] == "full"
    assert names == ["com.acme:util"]
    assert new_cursor is not None and new_cursor["chain_id"] == "999"


def test_gap_in_incrementals_reloads_fully(maven: Harness) -> None:
    _, cursor = maven.names()
    for version in ("1.2", "1.3", "1.4"):
        maven.app.add("org.example", "core", version, simple_pom("org.example", "core", version))
        maven.app.publish()
    maven.app.drop_incrementals(keep=1)
    names, new_cursor, notes = changes(maven, MemoryView(STORED, cursor))
    assert notes["mode"] == "full" and names == ["org.example:core"]
    assert new_cursor is not None and new_cursor["last_incremental"] == 3


def test_first_update_without_cursor_diffs_the_whole_index(maven: Harness) -> None:
    stale = {**STORED, "org.example:core": ["1.0"]}
    names, cursor, notes = changes(maven, MemoryView(stale, None))
    assert notes["mode"] == "full" and names == ["org.example:core"]
    assert cursor is not None and cursor["last_incremental"] == 0


def test_stub_packages_touched_by_the_index_are_not_refetched_by_an_update(
    maven: Harness,
) -> None:
    _, cursor = maven.names()
    maven.app.add("org.example", "lib-a", "2.1", simple_pom("org.example", "lib-a", "2.1"))
    maven.app.publish()

    class WithStub(MemoryView):
        def known(self, names: Iterable[str]) -> Mapping[str, KnownPackage]:
            found = dict(super().known(names))
            if "org.example:lib-a" in names:  # an edge target nobody extracted yet
                found["org.example:lib-a"] = KnownPackage("pending", None, frozenset())
            return found

    assert changes(maven, WithStub(STORED, cursor))[0] == []


def test_a_plan_failing_halfway_never_claims_the_table_is_current(maven: Harness) -> None:
    _, cursor = maven.names()
    for version in ("1.2", "1.3"):
        maven.app.add("org.example", "core", version, simple_pom("org.example", "core", version))
        maven.app.publish()
    # Chunk 1 applies, chunk 2 is listed but gone, and the full reload fails as well.
    maven.server.faults = Faults(always={r"index\.2\.gz$": 404, r"index\.gz$": 503})
    with pytest.raises(RegistryError):
        changes(maven, MemoryView(STORED, cursor))

    async def meta(registry: MavenRegistry) -> dict[str, Any] | None:
        return registry.index.meta()

    recorded = maven.run(meta)
    assert recorded is None or recorded["last_incremental"] != 2
    # The rerun reloads fully and sees both new versions.
    maven.server.faults = Faults(always={r"index\.2\.gz$": 404})
    names, new_cursor, notes = changes(maven, MemoryView(STORED, cursor))
    assert notes["mode"] == "full" and names == ["org.example:core"]
    assert new_cursor is not None and new_cursor["last_incremental"] == 2
    assert maven.run(meta) == new_cursor


# -- known versions, missing POMs ------------------------------------------------------------


def test_a_cold_pom_cache_keeps_the_licences_of_known_versions(maven: Harness) -> None:
    first = maven.fetch("org.example:app")
    known = KnownPackage("extracted", None, frozenset({"1.0", "1.1"}))
    cold = maven.tmp / "cold-cache"
    again = maven.fetch("org.example:app", known, cache_dir=cold)
    assert [v.licenses for v in again.versions] == [v.licenses for v in first.versions]
    assert again.versions[0].licenses  # not the empty dict that would blank the stored ones
    assert [v.release_date for v in again.versions] == [v.release_date for v in first.versions]
    assert all(v.requirements is None for v in again.versions)  # their edges are stored
    # The POMs were read once into the new cache; the next fetch costs none.
    maven.server.clear_log()
    maven.fetch("org.example:app", known, cache_dir=cold)
    assert not maven.server.requests(r"\.pom$")


def test_a_version_without_pom_is_not_stored_as_dependency_free_and_is_completed_later(
    maven: Harness,
) -> None:
    _, cursor = maven.names()
    maven.server.faults = Faults(always={r"core-1\.1\.pom$": 404})
    record = maven.fetch("org.example:core")
    by_version = {v.name: v for v in record.versions}
    assert by_version["1.0"].requirements == []  # a real POM without dependencies
    assert by_version["1.1"].requirements is None  # unknown, not "none"
    stored = {**STORED, "org.example:core": ["1.0", "1.1"]}
    # Nothing was published, yet the next update retries the package.
    names, _, notes = changes(maven, MemoryView(stored, cursor))
    assert names == ["org.example:core"] and notes["pom_gaps"] == 1

    maven.server.faults = Faults()
    maven.app.artifacts[("org.example", "core")]["1.1"].pom = simple_pom(
        "org.example", "core", "1.1", [("com.acme", "util", "2.1")]
    )
    known = KnownPackage("extracted", None, frozenset({"1.0", "1.1"}))
    completed = {v.name: v for v in maven.fetch("org.example:core", known).versions}
    assert completed["1.0"].requirements is None
    assert [r.name for r in completed["1.1"].requirements or []] == ["com.acme:util"]
    assert changes(maven, MemoryView(stored, cursor))[0] == []
    # A filled gap keeps rewriting that version's edges, so a run killed before the graph
    # write committed (the POM already cached) cannot lose them.
    again = {v.name: v for v in maven.fetch("org.example:core", known).versions}
    assert [r.name for r in again["1.1"].requirements or []] == ["com.acme:util"]


def test_a_pom_that_never_appears_is_retried_a_bounded_number_of_times(maven: Harness) -> None:
    _, cursor = maven.names()
    maven.server.faults = Faults(always={r"core-1\.1\.pom$": 404})
    known = KnownPackage("extracted", None, frozenset({"1.0", "1.1"}))
    stored = {**STORED, "org.example:core": ["1.0", "1.1"]}
    rounds = 0
    while changes(maven, MemoryView(stored, cursor))[0] or rounds == 0:
        maven.fetch("org.example:core", known if rounds else None)
        rounds += 1
        assert rounds < 10
    assert rounds == 5


# -- import names ----------------------------------------------------------------------------


def test_a_jar_over_the_entry_cap_is_not_read_again(maven: Harness) -> None:
    maven.app.artifacts[("org.example", "core")]["1.1"].jar = make_jar(
        [f"org.example.p{n}" for n in range(20)]
    )
    record = maven.fetch("org.example:core", archive_max_entries=10)
    assert record.import_names == []
    # One tail read: the cap is known from the end-of-central-directory record, no retry.
    assert len(maven.server.requests(r"core-1\.1\.jar$")) == 1
