"""Fake crates.io: db-dump.tar.gz, the sparse index, .crate files and the web API, built from state.

`app.mount_on(server)` mounts its three hosts as the prefixes tests/conftest.py points
SSC_CRATES_STATIC_URL, SSC_CRATES_INDEX_URL and SSC_CRATES_API_URL at (`crates-static`,
`crates-index`, `crates-api`); `handle` alone serves them below `/static`, `/index`, `/api/v1`.
Every mutation advances a logical clock, so the dump's metadata.json timestamp moves on and
crates and versions carry creation times a test can reason about.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
import tarfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from tests.fakeregistry.server import FakeRegistry, Request, Response, json_response

_KIND_NAMES = {0: "normal", 1: "build", 2: "dev"}
# The columns of the real dump (crates.io `dump-db.toml`), in its order.
CRATES_COLUMNS = [
    "id", "name", "created_at", "updated_at", "description", "homepage", "documentation",
    "readme", "repository", "max_upload_size", "max_features", "trustpub_only",
]  # fmt: skip
VERSIONS_COLUMNS = [
    "id", "crate_id", "num", "updated_at", "created_at", "downloads", "features", "yanked",
    "license", "crate_size", "published_by", "checksum", "links", "rust_version", "has_lib",
    "bin_names", "edition", "description", "homepage", "documentation", "repository",
    "categories", "keywords", "num_no_build", "semver_no_prerelease",
]  # fmt: skip
DEPENDENCIES_COLUMNS = [
    "id", "version_id", "crate_id", "req", "optional", "default_features", "features",
    "target", "kind", "explicit_name",
]  # fmt: skip
API_NOT_FOUND = {"errors": [{"detail": "Not Found"}]}


@dataclass
class FakeDep:
    """A dependency as Cargo.toml declares it: `crate` is the real crate, `alias` its rename."""

    crate: str
    req: str = "*"
    kind: int = 0  # 0 normal, 1 build, 2 dev (the dump's encoding)
    optional: bool = False
    target: str | None = None
    alias: str | None = None


@dataclass
class FakeVersion:
    num: str
    id: int
    created_at: datetime
    license: str | None = "MIT OR Apache-2.0"
    yanked: bool = False
    deps: list[FakeDep] = field(default_factory=list)
    modules: list[str] = field(default_factory=list)
    has_lib: bool = True


@dataclass
class FakeCrate:
    name: str
    id: int
    created_at: datetime
    updated_at: datetime
    repository: str | None = None
    homepage: str | None = None
    versions: list[FakeVersion] = field(default_factory=list)


def _pg(moment: datetime) -> str:
    """PostgreSQL's COPY spelling of a timestamp without time zone."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "+00:00"


def index_path(name: str) -> str:
    lower = name.lower()
    if len(lower) <= 2:
        return f"{len(lower)}/{lower}"
    if len(lower) == 3:
        return f"3/{lower[0]}/{lower}"
    return f"{lower[:2]}/{lower[2:4]}/{lower}"


class CargoApp:
    """Mutable crates.io state served in the real wire formats."""

    def __init__(self, *, start: datetime | None = None, pubtime: bool = True) -> None:
        self.crates: dict[str, FakeCrate] = {}
        self.clock = start or datetime(2024, 1, 1, tzinfo=UTC)
        self.pubtime = pubtime  # index lines carry `pubtime` (crates.io added it in 2025)
        self.revision = 0
        self._ids = {"crate": 0, "version": 0}
        self._lock = threading.RLock()
        self._dump: tuple[int, bytes] | None = None
        self._rows: dict[int, tuple[object, tuple[str, str, str]]] = {}

    # -- state --------------------------------------------------------------------------

    def tick(self) -> datetime:
        with self._lock:
            self.clock += timedelta(minutes=7, seconds=13)
            self.revision += 1
            return self.clock

    def add_crate(
        self, name: str, *, repository: str | None = None, homepage: str | None = None
    ) -> FakeCrate:
        with self._lock:
            key = name.lower().replace("-", "_")
            if key in self.crates:
                return self.crates[key]
            now = self.tick()
            self._ids["crate"] += 1
            crate = FakeCrate(name, self._ids["crate"], now, now, repository, homepage)
            self.crates[key] = crate
            return crate

    def publish(
        self,
        name: str,
        num: str,
        deps: Iterable[FakeDep] = (),
        *,
        license: str | None = "MIT OR Apache-2.0",
        modules: Iterable[str] = (),
        has_lib: bool = True,
        repository: str | None = None,
    ) -> FakeVersion:
        with self._lock:
            crate = self.add_crate(name, repository=repository)
            now = self.tick()
            self._ids["version"] += 1
            version = FakeVersion(
                num, self._ids["version"], now, license, False, list(deps), list(modules), has_lib
            )
            crate.versions.append(version)
            crate.updated_at = now
            return version

    def yank(self, name: str, num: str, yanked: bool = True) -> None:
        with self._lock:
            self._version(name, num).yanked = yanked
            self.tick()  # yanking leaves crates.updated_at alone, as on crates.io

    def delete_version(self, name: str, num: str) -> None:
        """crates.io lets owners delete a version (within 72 hours, few downloads)."""
        with self._lock:
            crate = self.crate(name)
            crate.versions = [v for v in crate.versions if v.num != num]
            crate.updated_at = self.tick()

    def crate(self, name: str) -> FakeCrate:
        return self.crates[name.lower().replace("-", "_")]

    def _version(self, name: str, num: str) -> FakeVersion:
        return next(v for v in self.crate(name).versions if v.num == num)

    @classmethod
    def synthetic(
        cls, n_packages: int, *, versions: int = 3, deps: int = 2, seed: int = 7
    ) -> CargoApp:
        """n crates `crate-00000`…, each with a few versions depending on earlier crates."""
        rng = random.Random(seed)
        app = cls()
        for i in range(n_packages):
            name = f"crate-{i:05d}"
            for v in range(versions):
                targets = rng.sample(range(i), min(deps, i)) if i else []
                app.publish(
                    name,
                    f"1.{v}.0",
                    [FakeDep(f"crate-{t:05d}", f"^1.{rng.randrange(versions)}") for t in targets],
                    modules=["util"] if v == versions - 1 else [],
                    repository=f"https://github.com/owner{i % 97}/{name}",
                )
        return app

    # -- HTTP ---------------------------------------------------------------------------

    def mount_on(self, server: FakeRegistry) -> CargoApp:
        """Serve static.crates.io, index.crates.io and crates.io/api/v1 as three prefixes."""
        for prefix, below in PREFIXES.items():
            server.mount(prefix, _Host(self, below))
        return self

    def handle(self, request: Request) -> Response:
        path = request.path
        with self._lock:
            if path == "/static/db-dump.tar.gz":
                return Response(200, self.dump_bytes(), content_type="application/gzip")
            if path.startswith("/static/crates/"):
                return self._crate_file(path.removeprefix("/static/crates/"))
            if path == "/index/config.json":
                return json_response(
                    {"dl": request.base_url + "/static/crates", "api": request.base_url}
                )
            if path.startswith("/index/"):
                return self._index_file(path.removeprefix("/index/"))
            if path.startswith("/api/v1/crates/"):
                return self._api_crate(path.removeprefix("/api/v1/crates/"))
        return Response(404, b"Not Found", content_type="text/plain")

    def _index_file(self, rest: str) -> Response:
        name = rest.rsplit("/", 1)[-1]
        crate = self.crates.get(name.replace("-", "_"))
        # The index is keyed by the exact lower-case name, not the canonical one.
        if crate is None or crate.name.lower() != name or index_path(name) != rest:
            return Response(404, b"Not Found", content_type="text/plain")
        lines = []
        for version in crate.versions:
            entry: dict[str, object] = {
                "name": crate.name,
                "vers": version.num,
                "deps": [self._index_dep(d) for d in version.deps],
                "cksum": f"{version.id:064x}",
                "features": {},
                "yanked": version.yanked,
                "links": None,
            }
            if self.pubtime:
                entry["pubtime"] = version.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")
            lines.append(json.dumps(entry, separators=(",", ":")))
        return Response(200, ("\n".join(lines) + "\n").encode(), content_type="text/plain")

    def _index_dep(self, dep: FakeDep) -> dict[str, object]:
        out: dict[str, object] = {
            "name": dep.alias or dep.crate,
            "req": dep.req,
            "features": [],
            "optional": dep.optional,
            "default_features": True,
            "target": dep.target,
            "kind": _KIND_NAMES[dep.kind],
        }
        if dep.alias:
            out["package"] = dep.crate
        return out

    def _api_crate(self, name: str) -> Response:
        crate = self.crates.get(name.lower().replace("-", "_"))
        if crate is None:
            return json_response(API_NOT_FOUND, 404)
        versions = [
            {
                "id": v.id,
                "crate": crate.name,
                "num": v.num,
                "created_at": _iso(v.created_at),
                "updated_at": _iso(v.created_at),
                "license": v.license,
                "yanked": v.yanked,
                "dl_path": f"/api/v1/crates/{crate.name}/{v.num}/download",
            }
            for v in sorted(crate.versions, key=lambda v: -v.id)
        ]
        body = {
            "crate": {
                "id": crate.name,
                "name": crate.name,
                "created_at": _iso(crate.created_at),
                "updated_at": _iso(crate.updated_at),
                "repository": crate.repository,
                "homepage": crate.homepage,
                "max_version": crate.versions[-1].num if crate.versions else "0.0.0",
            },
            "versions": versions,
            "keywords": [],
            "categories": [],
        }
        return json_response(body)

    def _crate_file(self, rest: str) -> Response:
        name, _, file = rest.partition("/")
        crate = self.crates.get(name.lower().replace("-", "_"))
        if crate is None or crate.name != name:
            return Response(
                403, b"<Error><Code>AccessDenied</Code></Error>", content_type="application/xml"
            )
        version = next((v for v in crate.versions if file == f"{crate.name}-{v.num}.crate"), None)
        if version is None:
            return Response(
                403, b"<Error><Code>AccessDenied</Code></Error>", content_type="application/xml"
            )
        root = f"{crate.name}-{version.num}"
        files = {f"{root}/Cargo.toml": self._manifest(crate, version).encode()}
        if version.has_lib:
            files[f"{root}/src/lib.rs"] = b"".join(
                f"pub mod {m};\n".encode() for m in version.modules
            )
        else:
            files[f"{root}/src/main.rs"] = b"fn main() {}\n"
        for module in version.modules:
            files[f"{root}/src/{module}.rs"] = b"pub fn f() {}\n"
        return Response(200, _targz(files), content_type="application/gzip")

    def _manifest(self, crate: FakeCrate, version: FakeVersion) -> str:
        lines = ["[package]", f'name = "{crate.name}"', f'version = "{version.num}"']
        if version.license:
            lines.append(f'license = "{version.license}"')
        return "\n".join(lines) + "\n"

    # -- the dump -----------------------------------------------------------------------

    @property
    def timestamp(self) -> datetime:
        return self.clock

    def dump_bytes(self) -> bytes:
        """db-dump.tar.gz of the current state (cached per revision, byte-identical per state)."""
        with self._lock:
            if self._dump is not None and self._dump[0] == self.revision:
                return self._dump[1]
            body = self._build_dump()
            self._dump = (self.revision, body)
            return body

    def _build_dump(self) -> bytes:
        stamp = self.clock
        root = stamp.strftime("%Y-%m-%d-%H%M%S")
        parts: tuple[list[str], list[str], list[str]] = ([], [], [])
        for crate in sorted(self.crates.values(), key=lambda c: c.id):
            for part, text in zip(parts, self._crate_rows(crate), strict=True):
                part.append(text)
        crates, versions, deps = (
            (_Csv(columns).text() + "".join(part)).encode()
            for columns, part in zip(
                (CRATES_COLUMNS, VERSIONS_COLUMNS, DEPENDENCIES_COLUMNS), parts, strict=True
            )
        )
        metadata = {
            "timestamp": stamp.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z",
            "crates_io_commit": "f" * 40,
        }
        files = {
            f"{root}/metadata.json": json.dumps(metadata).encode(),
            f"{root}/README.md": b"# crates.io database dump\n",
            f"{root}/data/crates.csv": crates,
            f"{root}/data/dependencies.csv": deps,
            f"{root}/data/keywords.csv": b"id,keyword,crates_cnt,created_at\n",
            f"{root}/data/versions.csv": versions,
        }
        return _targz(files, level=1)

    def _crate_rows(self, crate: FakeCrate) -> tuple[str, str, str]:
        """One crate's lines of crates.csv, versions.csv, dependencies.csv (cached until it changes)."""
        key = (crate.updated_at, tuple((v.id, v.yanked) for v in crate.versions))
        cached = self._rows.get(crate.id)
        if cached is not None and cached[0] == key:
            return cached[1]
        crates, versions, deps = (
            _Csv(CRATES_COLUMNS, header=False),
            _Csv(VERSIONS_COLUMNS, header=False),
            _Csv(DEPENDENCIES_COLUMNS, header=False),
        )
        crates.row(
            id=crate.id, name=crate.name, created_at=_pg(crate.created_at),
            updated_at=_pg(crate.updated_at), description=f"The {crate.name} crate.\n",
            homepage=crate.homepage or "", documentation="",
            readme="# " + crate.name + "\n\nA readme, with, commas and \"quotes\".\n",
            repository=crate.repository or "", max_upload_size="", max_features="",
            trustpub_only="f",
        )  # fmt: skip
        for v in crate.versions:
            versions.row(
                id=v.id, crate_id=crate.id, num=v.num, updated_at=_pg(v.created_at),
                created_at=_pg(v.created_at), downloads=10, features="{}",
                yanked="t" if v.yanked else "f", license=v.license or "", crate_size=1234,
                published_by="", checksum=f"{v.id:064x}", links="", rust_version="",
                has_lib="t" if v.has_lib else "f", bin_names="{}", edition="2021",
                description="", homepage="", documentation="", repository="",
                categories="{}", keywords="{}", num_no_build=v.num, semver_no_prerelease="",
            )  # fmt: skip
            for position, d in enumerate(v.deps):
                deps.row(
                    id=v.id * 1000 + position, version_id=v.id, crate_id=self.crate(d.crate).id,
                    req=d.req, optional="t" if d.optional else "f", default_features="t",
                    features="{}", target=d.target or "", kind=d.kind,
                    explicit_name=d.alias or "",
                )  # fmt: skip
        rows = (crates.text(), versions.text(), deps.text())
        self._rows[crate.id] = (key, rows)
        return rows


PREFIXES = {"crates-static": "/static", "crates-index": "/index", "crates-api": "/api/v1"}


class _Host:
    """One crates.io host: its paths below the app's combined layout."""

    def __init__(self, app: CargoApp, below: str) -> None:
        self.app, self.below = app, below

    def handle(self, request: Request) -> Response:
        return self.app.handle(replace(request, path=self.below + request.path))


class _Csv:
    """A PostgreSQL COPY … CSV HEADER export held in memory."""

    def __init__(self, columns: list[str], *, header: bool = True) -> None:
        self.columns = columns
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer, lineterminator="\n")
        if header:
            self.writer.writerow(columns)

    def row(self, **values: object) -> None:
        self.writer.writerow([values.get(c, "") for c in self.columns])

    def text(self) -> str:
        return self.buffer.getvalue()


def _targz(files: dict[str, bytes], level: int = 9) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            archive.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), compresslevel=level, mtime=0)
