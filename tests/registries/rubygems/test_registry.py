"""RubyGems client against the fake rubygems.org: listing, fetch, import names, the /versions feed."""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import io
import shutil
import tarfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from ssc_cli.errors import HttpStatusError, MalformedPayload, PackageNotFound, PayloadTooLarge
from ssc_cli.http import Http, HttpConfig
from ssc_cli.models import Ecosystem, KnownPackage, PackageRecord
from ssc_cli.registries import open_registry
from ssc_cli.registries.interface import ChangeSet
from ssc_cli.registries.rubygems import client as rubygems_client
from ssc_cli.registries.rubygems import gem as rubygems_gem
from ssc_cli.registries.rubygems.client import RubyGemsRegistry
from ssc_cli.registries.rubygems.gem import gem_data_members, require_paths
from ssc_cli.settings import Settings
from tests.fakeregistry.rubygems import FakeGemVersion, RubyGemsApp, build_gem
from tests.fakeregistry.server import FakeRegistry, Faults


class MemoryView:
    """A StoreView over a dict of records, as the graph would hold them after writing."""

    def __init__(self) -> None:
        self.records: dict[str, PackageRecord] = {}
        self.statuses: dict[str, str] = {}
        self.saved: dict[str, Any] | None = None

    def store(self, record: PackageRecord) -> None:
        self.records[record.name] = record
        self.statuses[record.name] = "extracted"

    def cursor(self, key: str) -> dict[str, Any] | None:
        return self.saved if key == "update" else None

    def tokens(self) -> Iterator[tuple[str, str | None]]:
        for name in sorted(self.records):
            yield name, self.records[name].token

    def known(self, names: Iterable[str]) -> Mapping[str, KnownPackage]:
        out = {}
        for name in names:
            if name in self.statuses:
                record = self.records.get(name)
                out[name] = KnownPackage(
                    self.statuses[name],
                    record.token if record else None,
                    frozenset(v.name for v in record.versions) if record else frozenset(),
                )
        return out


def base_app() -> RubyGemsApp:
    app = RubyGemsApp(created_at="2026-11-01T00:00:00+00:00")
    app.add(
        "rack",
        FakeGemVersion("2.2.0", created_at="2026-01-01T10:00:00.000Z", licenses=["MIT"]),
        FakeGemVersion(
            "3.0.0",
            created_at="2026-02-01T10:00:00.000Z",
            licenses=["MIT"],
            metadata={"source_code_uri": "https://github.com/rack/rack"},
            files=["lib/rack.rb", "lib/rack/request.rb", "lib/rack/request_test.rb"],
        ),
    )
    app.add(
        "nokogiri",
        FakeGemVersion(
            "1.16.0",
            dependencies=[("racc", "~> 1.4"), ("mini_portile2", "~> 2.8.2")],
            created_at="2026-03-01T00:00:00.000Z",
            metadata={"source_code_uri": "https://github.com/sparklemotion/nokogiri"},
            files=["lib/nokogiri.rb", "lib/nokogiri/xml/node.rb", "lib/nokogiri/html_spec.rb"],
        ),
        FakeGemVersion(
            "1.16.0",
            platform="x86_64-linux",
            dependencies=[("racc", "~> 1.4")],
            created_at="2026-03-01T00:05:00.000Z",
        ),
        FakeGemVersion(
            "1.16.0",
            platform="java",
            dependencies=[("racc", "~> 1.4"), ("jar-dependencies", ">= 0")],
            created_at="2026-03-01T00:06:00.000Z",
        ),
    )
    app.add(
        "RedCloth",
        FakeGemVersion("4.3.2", dependencies=[("rack", ">= 0")], licenses=None),
        homepage="http://github.com/jgarber/redcloth",
    )
    app.add("racc", FakeGemVersion("1.7.0"))
    app.rebuild()
    return app


@pytest.fixture
def server() -> Iterator[FakeRegistry]:
    with FakeRegistry() as registry:
        yield registry


def make_registry(
    server: FakeRegistry, tmp_path: Path, **overrides: Any
) -> tuple[RubyGemsRegistry, Http]:
    settings = Settings(
        rubygems_url=server.url("rubygems"),
        cache_dir=tmp_path / "cache",
        data_dir=tmp_path / "data",
        http_rate_limit=False,
        **overrides,
    )
    http = Http(
        HttpConfig(
            user_agent="test",
            rate_limits=False,
            cache_dir=tmp_path / "http",
            retries=4,
            backoff_base=0.0,
        )
    )
    registry = open_registry(Ecosystem.RUBYGEMS, settings, http)
    assert isinstance(registry, RubyGemsRegistry)
    return registry, http


async def _names(registry: RubyGemsRegistry) -> list[str]:
    return [name async for name in registry.list_names()]


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# -- listing and fetch ----------------------------------------------------------------------


def test_list_names_skips_header_and_separator(server: FakeRegistry, tmp_path: Path) -> None:
    server.mount("rubygems", base_app())
    registry, http = make_registry(server, tmp_path)

    async def go() -> list[str]:
        async with http:
            return await _names(registry)

    names = run(go())
    assert names == ["RedCloth", "nokogiri", "racc", "rack"]
    cursor = registry.listing_cursor()
    assert cursor is not None and cursor["offset"] > 0 and cursor["created_at"]


def test_fetch_collapses_platforms_into_one_version(server: FakeRegistry, tmp_path: Path) -> None:
    server.mount("rubygems", base_app())
    registry, http = make_registry(server, tmp_path)

    async def go() -> PackageRecord:
        async with http:
            return await registry.fetch("nokogiri")

    record = run(go())
    assert record.name == "nokogiri" and record.complete
    assert [v.name for v in record.versions] == ["1.16.0"]
    version = record.versions[0]
    assert version.extra["platforms"] == ["ruby", "java", "x86_64-linux"]
    assert version.release_date == "2026-03-01T00:00:00.000Z"
    reqs = {(r.name, r.constraints, r.target) for r in version.requirements or []}
    # ruby build's deps untargeted; java-only jar-dependencies keeps its platform
    assert reqs == {
        ("racc", "~> 1.4", None),
        ("mini_portile2", "~> 2.8.2", None),
        ("jar-dependencies", "any", "java"),
    }
    jar = next(r for r in version.requirements or [] if r.name == "jar-dependencies")
    assert jar.raw_constraints == ">= 0" and jar.kind == "runtime"
    assert record.repository_url == "https://github.com/sparklemotion/nokogiri"
    assert record.vendor == "sparklemotion"
    assert record.import_names == ["nokogiri", "nokogiri/xml/node"]
    assert record.licenses == {"licenses": ["MIT"]}
    assert record.token and len(record.token) == 32


def test_fetch_uses_published_spelling_and_gem_page_for_repository(
    server: FakeRegistry, tmp_path: Path
) -> None:
    server.mount("rubygems", base_app())
    registry, http = make_registry(server, tmp_path)

    async def go() -> PackageRecord:
        async with http:
            return await registry.fetch("redcloth")  # the graph's spelling, e.g. from the queue

    record = run(go())
    assert record.name == "redcloth"
    assert record.repository_url == "https://github.com/jgarber/redcloth"
    assert record.versions[0].licenses == {}
    req = record.versions[0].requirements or []
    assert [(r.name, r.constraints) for r in req] == [("rack", "any")]
    assert server.requests(r"^/rubygems/names$"), "the 404 was retried with /names spelling"
    assert server.requests(r"/info/RedCloth$")


def test_fetch_unknown_gem_is_not_found(server: FakeRegistry, tmp_path: Path) -> None:
    server.mount("rubygems", base_app())
    registry, http = make_registry(server, tmp_path)

    async def go() -> None:
        async with http:
            await registry.fetch("no-such-gem")

    with pytest.raises(PackageNotFound):
        run(go())


def test_import_names_switch_off(server: FakeRegistry, tmp_path: Path) -> None:
    server.mount("rubygems", base_app())
    registry, http = make_registry(server, tmp_path, import_names=False)

    async def go() -> PackageRecord:
        async with http:
            return await registry.fetch("rack")

    record = run(go())
    assert record.import_names is None  # not read: the stored names stay
    assert not server.requests(r"\.gem$")
    assert [v.name for v in record.versions] == ["2.2.0", "3.0.0"]


def test_missing_gem_file_leaves_import_names_empty(server: FakeRegistry, tmp_path: Path) -> None:
    server.faults = Faults(always={r"\.gem$": 404})
    server.mount("rubygems", base_app())
    registry, http = make_registry(server, tmp_path)

    async def go() -> PackageRecord:
        async with http:
            return await registry.fetch("rack")

    record = run(go())
    assert record.import_names == [] and len(record.versions) == 2


def test_transient_gem_file_failure_fails_the_gem(server: FakeRegistry, tmp_path: Path) -> None:
    server.faults = Faults(always={r"\.gem$": 503})
    server.mount("rubygems", base_app())
    registry, http = make_registry(server, tmp_path)

    async def go() -> PackageRecord:
        async with http:
            return await registry.fetch("rack")

    with pytest.raises(HttpStatusError):  # retried by the next run, not written without names
        run(go())


def test_corrupted_gem_transfer_is_refetched(server: FakeRegistry, tmp_path: Path) -> None:
    server.faults = Faults(rate_malformed=0.5, only=r"\.gem$", seed=1)  # 1st bad, 2nd good
    server.mount("rubygems", base_app())
    registry, http = make_registry(server, tmp_path)

    async def go() -> PackageRecord:
        async with http:
            return await registry.fetch("rack")

    assert run(go()).import_names == ["rack", "rack/request"]
    assert len(server.requests(r"\.gem$")) > 1  # the damaged copy was caught by its checksum


def test_dev_dependencies_opt_in(server: FakeRegistry, tmp_path: Path) -> None:
    app = base_app()
    app.add("minitest", FakeGemVersion("5.0.0"))
    app.add(
        "devgem",
        FakeGemVersion(
            "1.0", dependencies=[("rack", "< 4, >= 2")], dev_dependencies=[("minitest", "~> 5")]
        ),
    )
    app.rebuild()
    server.mount("rubygems", app)
    registry, http = make_registry(server, tmp_path, dependency_kinds="runtime,dev")

    async def go() -> tuple[PackageRecord, PackageRecord]:
        async with http:
            first = await registry.fetch("devgem")
            known = KnownPackage("extracted", first.token, frozenset({"1.0"}))
            return first, await registry.fetch("devgem", known)

    first, again = run(go())
    reqs = {(r.name, r.kind, r.constraints) for r in first.versions[0].requirements or []}
    assert reqs == {("rack", "runtime", "< 4, >= 2"), ("minitest", "dev", "~> 5")}
    assert again.versions[0].requirements is None  # known version: no per-version request
    assert len(server.requests(r"/api/v2/")) == 1


def test_damaged_info_is_refetched_not_parsed(server: FakeRegistry, tmp_path: Path) -> None:
    server.faults = Faults(rate_malformed=0.5, only=r"/info/", seed=3)
    server.mount("rubygems", base_app())
    registry, http = make_registry(server, tmp_path)

    async def go() -> PackageRecord:
        async with http:
            return await registry.fetch("rack")

    record = run(go())
    assert [v.name for v in record.versions] == ["2.2.0", "3.0.0"]
    assert record.token == hashlib.md5(base_app().info_body("rack")).hexdigest()
    assert len(server.requests(r"/info/rack$")) > 1  # the damaged body was not parsed


# -- .gem reading ---------------------------------------------------------------------------


def test_gem_members_are_read_with_caps() -> None:
    files = [f"lib/x/f{i}.rb" for i in range(20)]
    gem = build_gem("x", FakeGemVersion("1.0", files=files))
    assert gem_data_members(gem, max_entries=5, max_unpacked=10**6) == files[:5]
    with pytest.raises(PayloadTooLarge):
        gem_data_members(gem, max_entries=100, max_unpacked=100)
    with pytest.raises(MalformedPayload):
        gem_data_members(b"not a tar at all" * 64, max_entries=10, max_unpacked=10**6)


def _tar(members: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_gem_size_cap_counts_decompressed_bytes() -> None:
    # 8 MiB of zeros gzip to a few KiB: a cap on the compressed stream never sees them
    data = gzip.compress(_tar([("lib/bomb.rb", bytes(8 * 2**20))]), mtime=0)
    assert len(data) < 2**16
    gem = _tar([("metadata.gz", gzip.compress(b"---\n")), ("data.tar.gz", data)])
    with pytest.raises(PayloadTooLarge):
        gem_data_members(gem, max_entries=100, max_unpacked=2**20)
    assert gem_data_members(gem, max_entries=100, max_unpacked=16 * 2**20) == ["lib/bomb.rb"]


def test_damaged_data_tar_gz_is_malformed() -> None:
    good = gzip.compress(_tar([("lib/a.rb", b"# a\n" * 4096)]), mtime=0)
    damaged = good[:40] + bytes(64) + good[104:]
    for data in (damaged, b"\x1f\x8b\x08\x00junk", good[: len(good) // 2]):
        gem = _tar([("data.tar.gz", data)])
        with pytest.raises(MalformedPayload):
            gem_data_members(gem, max_entries=100, max_unpacked=10**6)


def test_gem_archive_is_read_off_the_event_loop(
    server: FakeRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.mount("rubygems", base_app())
    registry, http = make_registry(server, tmp_path)
    threads: list[threading.Thread] = []

    def spy(gem: bytes, *, max_entries: int, max_unpacked: int) -> list[str]:
        threads.append(threading.current_thread())
        return rubygems_gem.gem_data_members(
            gem, max_entries=max_entries, max_unpacked=max_unpacked
        )

    monkeypatch.setattr(rubygems_client, "gem_data_members", spy)

    async def go() -> tuple[PackageRecord, threading.Thread]:
        async with http:
            return await registry.fetch("rack"), threading.current_thread()

    record, loop_thread = run(go())
    assert record.import_names == ["rack", "rack/request"]
    assert threads and all(t is not loop_thread for t in threads)


def test_import_names_come_from_the_newest_release_not_a_prerelease(
    server: FakeRegistry, tmp_path: Path
) -> None:
    app = RubyGemsApp()
    app.add(
        "rails",
        FakeGemVersion("7.1.0", files=["lib/rails.rb", "lib/rails/stable.rb"]),
        FakeGemVersion("8.0.0.rc1", files=["lib/rails.rb", "lib/rails/beta.rb"]),
    )
    app.add("edge", FakeGemVersion("0.1.0.pre", files=["lib/edge.rb"]))
    app.rebuild()
    server.mount("rubygems", app)
    registry, http = make_registry(server, tmp_path)

    async def go() -> list[PackageRecord]:
        async with http:
            return [await registry.fetch("rails"), await registry.fetch("edge")]

    rails, edge = run(go())
    assert rails.import_names == ["rails", "rails/stable"]
    assert [p for _, p, _ in server.requests(r"\.gem$")][0].endswith("/rails-7.1.0.gem")
    assert edge.import_names == ["edge"]  # nothing but prereleases: the newest of them


def test_require_paths() -> None:
    members = [
        "lib/foo.rb",
        "./lib/foo/bar.rb",
        "lib/foo/bar_spec.rb",
        "lib/foo/baz_test.rb",
        "lib/foo/data.yml",
        "test/helper.rb",
        "ext/foo/extconf.rb",
    ]
    assert require_paths(members) == ["foo", "foo/bar"]


# -- /versions feed -------------------------------------------------------------------------


def _ingest(server: FakeRegistry, tmp_path: Path, view: MemoryView) -> None:
    """One ingest run (its own HTTP client, as a separate process would have)."""
    registry, http = make_registry(server, tmp_path)

    async def go() -> None:
        async with http:
            for name in [n async for n in registry.list_names()]:
                view.store(await registry.fetch(name))
            view.saved = registry.listing_cursor()

    run(go())


def _update(server: FakeRegistry, tmp_path: Path, view: MemoryView) -> ChangeSet:
    """One update run: changes, refetch, then save the cursor (after the writes)."""
    registry, http = make_registry(server, tmp_path)

    async def go() -> ChangeSet:
        async with http:
            changes = await registry.changes(view)
            for name in changes.names:
                try:
                    view.store(await registry.fetch(name, None))
                except PackageNotFound:
                    view.records.pop(name, None)
                    view.statuses[name] = "missing"
            view.saved = changes.cursor
            return changes

    return run(go())


def test_update_reads_only_appended_lines(server: FakeRegistry, tmp_path: Path) -> None:
    app = server.mount("rubygems", base_app())
    assert isinstance(app, RubyGemsApp)
    view = MemoryView()
    _ingest(server, tmp_path, view)

    app.publish("rack", FakeGemVersion("3.1.0", dependencies=[("racc", ">= 1")]))
    app.yank("rack", "2.2.0")
    app.publish("brand-new", FakeGemVersion("0.1.0"))
    server.clear_log()
    changes = _update(server, tmp_path, view)

    assert changes.names == ["rack"]  # brand-new is not stored: ingest's business
    assert changes.notes["mode"] == "append" and changes.notes["digest"] == "verified"
    versions_requests = server.requests(r"/versions$")
    assert [status for _, _, status in versions_requests] == [206]
    assert [v.name for v in view.records["rack"].versions] == ["3.0.0", "3.1.0"]
    assert changes.cursor is not None and changes.cursor["offset"] == len(app.versions_file)

    server.clear_log()
    again = _update(server, tmp_path, view)
    assert again.names == [] and again.notes["mode"] == "unchanged"
    assert [s for _, _, s in server.requests(r"/versions$")] == [304]


def test_update_skips_gems_already_current(server: FakeRegistry, tmp_path: Path) -> None:
    app = server.mount("rubygems", base_app())
    assert isinstance(app, RubyGemsApp)
    view = MemoryView()
    _ingest(server, tmp_path, view)
    app.publish("racc", FakeGemVersion("1.8.0"))
    run(_fetch_store(server, tmp_path, view, "racc"))  # refreshed by a run that crashed later
    assert _update(server, tmp_path, view).names == []


async def _fetch_store(server: FakeRegistry, tmp_path: Path, view: MemoryView, name: str) -> None:
    registry, http = make_registry(server, tmp_path)
    async with http:
        view.store(await registry.fetch(name))


def test_month_rollover_triggers_full_reconcile(server: FakeRegistry, tmp_path: Path) -> None:
    app = server.mount("rubygems", base_app())
    assert isinstance(app, RubyGemsApp)
    view = MemoryView()
    _ingest(server, tmp_path, view)
    app.publish("racc", FakeGemVersion("1.8.0"))
    app.yank("rack", "2.2.0")
    app.rebuild(created_at="2026-12-01T00:00:00+00:00")  # recomputed: shorter or different
    changes = _update(server, tmp_path, view)
    assert changes.notes["mode"] == "full"
    assert changes.notes["rebuilt"] == {
        "from": "2026-11-01T00:00:00+00:00",
        "to": "2026-12-01T00:00:00+00:00",
    }
    assert changes.names == ["racc", "rack"]
    assert (
        changes.cursor is not None and changes.cursor["created_at"] == "2026-12-01T00:00:00+00:00"
    )
    assert [v.name for v in view.records["racc"].versions] == ["1.7.0", "1.8.0"]
    app.publish("rack", FakeGemVersion("3.2.0"))
    follow = _update(server, tmp_path, view)
    assert follow.notes["mode"] == "append" and follow.names == ["rack"]


def test_shrunken_file_answers_416_and_recovers(server: FakeRegistry, tmp_path: Path) -> None:
    app = server.mount("rubygems", base_app())
    assert isinstance(app, RubyGemsApp)
    view = MemoryView()
    _ingest(server, tmp_path, view)
    del app.gems["RedCloth"]  # removed gem: the rebuilt file is shorter
    app.rebuild()
    changes = _update(server, tmp_path, view)
    assert changes.notes["mode"] == "full" and "416" in changes.notes["reason"]
    assert changes.names == ["redcloth"]
    assert view.statuses["redcloth"] == "missing"


def test_lost_local_copy_or_no_cursor_reconciles_by_md5(
    server: FakeRegistry, tmp_path: Path
) -> None:
    app = server.mount("rubygems", base_app())
    assert isinstance(app, RubyGemsApp)
    view = MemoryView()
    _ingest(server, tmp_path, view)
    for path in (tmp_path / "data" / "rubygems").iterdir():
        path.unlink()
    app.publish("rack", FakeGemVersion("3.1.0"))
    changes = _update(server, tmp_path, view)
    assert changes.notes["mode"] == "full" and changes.names == ["rack"]

    view.saved = None
    app.publish("racc", FakeGemVersion("1.9.0"))
    assert _update(server, tmp_path, view).names == ["racc"]


def test_digest_mismatch_falls_back_to_full_refetch(server: FakeRegistry, tmp_path: Path) -> None:
    app = server.mount("rubygems", base_app())
    assert isinstance(app, RubyGemsApp)
    view = MemoryView()
    _ingest(server, tmp_path, view)
    # Same length prefix, different content: a rebuilt file the Range cannot reveal alone.
    original = app.versions_file
    app.publish("racc", FakeGemVersion("1.8.0"))
    tampered = bytearray(app.versions_file)
    at = original.index(b"rack ")
    tampered[at : at + 4] = b"rick"
    app.versions_file = bytes(tampered)
    changes = _update(server, tmp_path, view)
    assert changes.notes["mode"] == "full" and "digest" in changes.notes["reason"]
    assert "racc" in changes.names and "rack" in changes.names  # rack left the file


def test_feed_faults_never_skip_changes(server: FakeRegistry, tmp_path: Path) -> None:
    app = server.mount("rubygems", base_app())
    assert isinstance(app, RubyGemsApp)
    view = MemoryView()
    _ingest(server, tmp_path, view)
    app.publish("rack", FakeGemVersion("3.1.0"))
    server.faults = Faults(rate_malformed=0.1, rate_500=0.1, rate_truncated=0.1, seed=11)
    changes = _update(server, tmp_path, view)
    assert changes.names == ["rack"]
    assert [v.name for v in view.records["rack"].versions] == ["2.2.0", "3.0.0", "3.1.0"]


def test_digest_headers_and_foreign_cursors() -> None:
    from ssc_cli.registries.rubygems.feed import FeedCursor, parse_digest

    digest = hashlib.sha256(b"abc").digest()
    b64 = base64.b64encode(digest).decode()
    assert parse_digest({"Repr-Digest": f"sha-512=:AAAA:, sha-256=:{b64}:"}) == digest
    assert parse_digest({"digest": f"SHA-256={b64}"}) == digest
    assert parse_digest({"Repr-Digest": "sha-256=:not base64!:"}) is None
    assert parse_digest({}) is None
    assert FeedCursor.from_dict({"serial": 12}) is None  # another client's cursor: reconcile
    assert FeedCursor.from_dict({"kind": "versions_offset", "url": "u"}) is None
    cursor = FeedCursor("u", 10, "ab", "2026-11-01", None)
    assert FeedCursor.from_dict(cursor.as_dict()) == cursor


def test_without_a_digest_the_file_head_reveals_a_rebuild(
    server: FakeRegistry, tmp_path: Path
) -> None:
    app = server.mount("rubygems", base_app())
    assert isinstance(app, RubyGemsApp)
    app.publish_digest = False
    view = MemoryView()
    _ingest(server, tmp_path, view)
    # Rebuilt with the same lines (only the header's month differs), then one append: the
    # byte before the cursor is still a newline and no digest can tell.
    app.rebuild(created_at="2026-12-01T00:00:00+00:00")
    app.publish("rack", FakeGemVersion("3.1.0"))
    changes = _update(server, tmp_path, view)
    assert changes.notes["mode"] == "full" and "head" in changes.notes["reason"]
    assert changes.names == ["rack"]
    app.publish("racc", FakeGemVersion("1.8.0"))
    plain = _update(server, tmp_path, view)
    assert plain.notes["mode"] == "append" and plain.notes["digest"] == "absent"
    assert plain.names == ["racc"]


def test_local_copy_lives_in_the_data_dir_so_a_fresh_cache_still_appends(
    server: FakeRegistry, tmp_path: Path
) -> None:
    app = server.mount("rubygems", base_app())
    assert isinstance(app, RubyGemsApp)
    view = MemoryView()
    _ingest(server, tmp_path, view)
    assert [p.name for p in (tmp_path / "data" / "rubygems").iterdir()]
    shutil.rmtree(tmp_path / "cache", ignore_errors=True)  # a CronJob pod's ephemeral cache
    shutil.rmtree(tmp_path / "http", ignore_errors=True)
    app.publish("rack", FakeGemVersion("3.1.0"))
    changes = _update(server, tmp_path, view)
    assert changes.notes["mode"] == "append" and changes.names == ["rack"]
