"""PyPI, npm and Maven served from a realistic `Universe`, in their real wire formats.

Payloads are rendered per request from the universe (nothing per package is cached), padded
with the fields the real registries send so their sizes per version are those of the genuine
payloads in shared/fixtures/real (docs/scale.md §1). Each app counts its requests by kind.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import threading
import time
from collections import Counter
from datetime import datetime
from urllib.parse import parse_qs, unquote

from packaging.utils import canonicalize_name

from ssc_cli.registries.maven.indexer import INDEX_PREFIX, artifact_record
from tests.fakeregistry.maven import _chunk, _index_date, make_jar
from tests.fakeregistry.npm import DEFAULT_FILES, make_tarball
from tests.fakeregistry.pypi import SIMPLE_JSON, make_wheel
from tests.fakeregistry.realistic import Package, Universe
from tests.fakeregistry.server import NOT_FOUND, FakeRegistry, Request, Response, json_response

_LOREM = (
    "A small library that does one thing well and keeps its dependencies few. It parses the "
    "input, validates it against a schema and hands back typed records with helpful errors. "
)


def _text(size: int) -> str:
    return (_LOREM * (size // len(_LOREM) + 1))[:size]


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _digest(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()


class _Counted:
    """Request counts by kind, thread-safe; with `stamps` on, the time of each request too."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.stamps: list[tuple[float, str]] | None = None
        self._lock = threading.Lock()

    def count(self, kind: str) -> None:
        with self._lock:
            self.counts[kind] += 1
            if self.stamps is not None:
                self.stamps.append((time.monotonic(), kind))


# -- PyPI ---------------------------------------------------------------------------------


class PyPIScale(_Counted):
    """`/simple/` (PEP 691 JSON), `/pypi/{name}/json`, `/pypi/{name}/{version}/json`, wheels."""

    def __init__(self, universe: Universe) -> None:
        super().__init__()
        self.u = universe
        self._normalized: dict[str, int] | None = None

    def serial(self, index: int) -> int:
        """Day-0 serials are 1..n in index order; a change on a later day gets n + its event."""
        event = self.u.latest_event(index)
        return index + 1 if event is None else self.u.n + event

    def _index(self, name: str) -> int | None:
        if self._normalized is None:
            self._normalized = {canonicalize_name(n): i for i, n in enumerate(self.u.names)}
        return self._normalized.get(name)

    def handle(self, request: Request) -> Response:
        path = request.path
        if path in ("/simple/", "/simple"):
            self.count("listing")
            return self._listing()
        match = re.fullmatch(r"/pypi/([^/]+)/(?:([^/]+)/)?json", path)
        if match:
            self.count("version" if match.group(2) else "project")
            return self._project(request, match.group(1), match.group(2))
        match = re.fullmatch(r"/files/(\d+)/([^/]+)", path)
        if match:
            self.count("file")
            package = self.u.package(int(match.group(1)))
            module = canonicalize_name(package.name).replace("-", "_")
            body = make_wheel(module, package.versions[-1], [f"{module}/__init__.py"])
            return Response(200, body, content_type="application/octet-stream")
        return NOT_FOUND

    def _listing(self) -> Response:
        projects = [
            {"name": name, "_last-serial": self.serial(i)} for i, name in enumerate(self.u.names)
        ]
        top = self.u.n + len(self.u.events)
        body = {"meta": {"_last-serial": top, "api-version": "1.1"}, "projects": projects}
        response = json_response(body)
        response.content_type = SIMPLE_JSON
        return response

    def _project(self, request: Request, name: str, version: str | None) -> Response:
        index = self._index(name)
        if index is None:
            return NOT_FOUND
        package = self.u.package(index)
        normalized = canonicalize_name(package.name)
        if name != normalized:
            suffix = f"/{version}/json" if version else "/json"
            return Response(301, b"", {"Location": f"{request.base_url}/pypi/{normalized}{suffix}"})
        if version is not None and version not in package.versions:
            return NOT_FOUND
        k = package.versions.index(version) if version else len(package.versions) - 1
        info = self._info(package, k)
        body: dict[str, object] = {
            "info": info,
            "last_serial": self.serial(index),
            "urls": self._files(request, package, k),
            "vulnerabilities": [],
        }
        if version is None:
            body["releases"] = {
                v: self._files(request, package, j) for j, v in enumerate(package.versions)
            }
        return json_response(body)

    def _info(self, package: Package, k: int) -> dict[str, object]:
        names = self.u.names
        owner = f"owner{package.index % 997}"
        requires = [
            f"{names[t]}>={(t % 3)}.0" + ("; python_version >= '3.8'" if t % 7 == 0 else "")
            for t in package.deps_of(k)
        ]
        if package.index % 5 == 0:
            requires.append("pytest>=7; extra == 'test'")
        return {
            "author": f"Author {owner}",
            "author_email": f"{owner}@example.org",
            "classifiers": [
                "Development Status :: 4 - Beta",
                "License :: OSI Approved :: MIT License",
                "Programming Language :: Python :: 3",
            ],
            "description": _text(package.text_bytes),
            "description_content_type": "text/markdown",
            "home_page": None,
            "keywords": "",
            "license": "MIT",
            "name": package.name,
            "package_url": f"https://pypi.org/project/{package.name}/",
            "project_urls": {"Source": f"https://github.com/{owner}/{package.name.lower()}"},
            "requires_dist": requires or None,
            "requires_python": ">=3.8",
            "summary": _text(60),
            "version": package.versions[k],
            "yanked": False,
            "yanked_reason": None,
        }

    def _files(self, request: Request, package: Package, k: int) -> list[dict[str, object]]:
        version = package.versions[k]
        module = canonicalize_name(package.name).replace("-", "_")
        uploaded = package.release_dates[k]
        files = []
        for filename, kind, size in (
            (f"{module}-{version}-py3-none-any.whl", "bdist_wheel", 20_000 + package.index % 9000),
            (f"{module}-{version}.tar.gz", "sdist", 30_000 + package.index % 7000),
        ):
            digest = _digest(package.index, filename)
            files.append(
                {
                    "comment_text": "",
                    "digests": {
                        "blake2b_256": digest,
                        "md5": digest[:32],
                        "sha256": digest,
                    },
                    "downloads": -1,
                    "filename": filename,
                    "has_sig": False,
                    "md5_digest": digest[:32],
                    "packagetype": kind,
                    "python_version": "py3" if kind == "bdist_wheel" else "source",
                    "requires_python": ">=3.8",
                    "size": size,
                    "upload_time": uploaded.strftime("%Y-%m-%dT%H:%M:%S"),
                    "upload_time_iso_8601": _iso(uploaded),
                    "url": f"{request.base_url}/files/{package.index}/{filename}",
                    "yanked": False,
                    "yanked_reason": None,
                }
            )
        return files


# -- npm ----------------------------------------------------------------------------------


class NpmScale(_Counted):
    """Full packuments (gzipped), one tarball per package, and the replication feed."""

    def __init__(self, universe: Universe) -> None:
        super().__init__()
        self.u = universe
        self.tarball = make_tarball(DEFAULT_FILES)
        import base64

        self.integrity = (
            "sha512-" + base64.b64encode(hashlib.sha512(self.tarball).digest()).decode()
        )
        self.shasum = hashlib.sha1(self.tarball).hexdigest()

    def mount(self, server: FakeRegistry) -> tuple[str, str]:
        """Serve under /npm and /npm-replicate; returns (SSC_NPM_URL, SSC_NPM_REPLICATE_URL)."""
        server.mount("npm", self)
        server.mount("npm-replicate", _Replicate(self))
        return server.url("npm"), server.url("npm-replicate") + "/registry"

    def seq(self, index: int) -> int:
        event = self.u.latest_event(index)
        return index + 1 if event is None else self.u.n + event

    def rev(self, package: Package) -> str:
        return f"{package.generation}-{_digest(package.name, package.generation)[:32]}"

    def handle(self, request: Request) -> Response:
        path = request.path
        if path == "/-/ping":
            return json_response({})
        if "/-/" in path:
            self.count("tarball")
            return Response(200, self.tarball, content_type="application/octet-stream")
        self.count("packument")
        index = self.u.index_of(unquote(path.lstrip("/")))
        if index is None:
            return Response(404, b'{"error":"Not found"}')
        data = json.dumps(self._packument(request, self.u.package(index))).encode()
        headers: dict[str, str] = {}
        if "gzip" in request.headers.get("accept-encoding", ""):
            data = gzip.compress(data, compresslevel=6, mtime=0)
            headers["Content-Encoding"] = "gzip"
        return Response(200, data, headers, ranges=False)

    def _packument(self, request: Request, package: Package) -> dict[str, object]:
        names = self.u.names
        name = package.name
        basename = name.rsplit("/", 1)[-1]
        owner = f"o{package.index % 997}"
        repository = {"type": "git", "url": f"git+https://github.com/{owner}/{basename}.git"}
        user = {"name": owner, "email": f"{owner}@example.org"}
        versions: dict[str, object] = {}
        times: dict[str, str] = {}
        for k, version in enumerate(package.versions):
            deps = {names[t]: f"^{t % 4}.{t % 3}.0" for t in package.deps_of(k)}
            versions[version] = {
                "name": name,
                "version": version,
                "description": _text(80),
                "main": "index.js",
                "scripts": {"test": "node test.js", "build": "tsc -p ."},
                "repository": repository,
                "keywords": ["util", "fake"],
                "author": user,
                "license": "MIT",
                "dependencies": deps,
                "devDependencies": {"typescript": "^5.0.0", "mocha": "^10.0.0"},
                "gitHead": _digest(name, version)[:40],
                "_id": f"{name}@{version}",
                "_nodeVersion": "20.11.0",
                "_npmVersion": "10.2.4",
                "dist": {
                    "integrity": self.integrity,
                    "shasum": self.shasum,
                    "tarball": f"{request.base_url}/{name}/-/{basename}-{version}.tgz",
                    "fileCount": len(DEFAULT_FILES),
                    "unpackedSize": 2048 + k,
                    "signatures": [
                        {
                            "keyid": "SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA",
                            "sig": "MEUCIQ" + _digest(name, version, "sig")[:90],
                        }
                    ],
                },
                "_npmUser": user,
                "directories": {},
                "maintainers": [user],
                "_hasShrinkwrap": False,
            }
            times[version] = _iso(package.release_dates[k])
        times["created"] = _iso(package.release_dates[0])
        times["modified"] = _iso(package.release_dates[-1])
        return {
            "_id": name,
            "_rev": self.rev(package),
            "name": name,
            "description": _text(80),
            "dist-tags": {"latest": package.versions[-1]},
            "versions": versions,
            "time": times,
            "maintainers": [user],
            "author": user,
            "repository": repository,
            "license": "MIT",
            "readme": _text(package.text_bytes),
            "readmeFilename": "README.md",
        }

    def changes(self, request: Request) -> Response:
        if request.headers.get("npm-replication-opt-in") != "true":
            return json_response({"error": "bad_request", "reason": "opt-in header required"}, 400)
        query = parse_qs(request.query)
        since = int(query.get("since", ["0"])[0] or 0)
        limit = min(10_000, int(query.get("limit", ["1000"])[0]))
        self.count("changes")
        rows: list[dict[str, object]] = []
        n = self.u.n
        # Day-0 rows (seq = index + 1) of packages unchanged since, then the change events
        # in order, each package once at its latest event (CouchDB keeps one row per doc).
        index = since
        while index < n and len(rows) < limit:
            if self.u.latest_event(index) is None:
                rows.append(self._row(index, index + 1))
            index += 1
        event = max(0, since - n)
        events = self.u.events
        while event < len(events) and len(rows) < limit:
            number, target = events[event]
            if self.u.latest_event(target) == number:
                rows.append(self._row(target, n + number))
            event += 1
        last_seq = rows[-1]["seq"] if rows else since
        return json_response({"results": rows, "last_seq": last_seq}, etag=False)

    def _row(self, index: int, seq: int) -> dict[str, object]:
        days = self.u.changed_on.get(index, [])
        generation = 1 + len(days)
        name = self.u.names[index]
        rev = f"{generation}-{_digest(name, generation)[:32]}"
        return {"seq": seq, "id": name, "changes": [{"rev": rev}]}

    def root(self) -> Response:
        head = self.u.n + len(self.u.events)
        return json_response(
            {"db_name": "registry", "doc_count": self.u.n, "update_seq": head}, etag=False
        )


class _Replicate:
    def __init__(self, app: NpmScale) -> None:
        self.app = app

    def handle(self, request: Request) -> Response:
        if request.path == "/":
            return self.app.root()
        if request.path == "/registry/_changes":
            return self.app.changes(request)
        return NOT_FOUND


# -- Maven --------------------------------------------------------------------------------

BASE_MS = 1_700_000_000_000


class MavenScale(_Counted):
    """The Indexer export (full chunk + one incremental per day), metadata, POMs and jars."""

    def __init__(self, universe: Universe) -> None:
        super().__init__()
        self.u = universe
        self.chain_id = "1700000000000"
        self._full: bytes | None = None
        self.incrementals: dict[int, bytes] = {}
        self._coords = {self._coord(i): i for i in range(universe.n)}

    def _coord(self, index: int) -> tuple[str, str]:
        group, _, artifact = self.u.names[index].partition(":")
        return group, artifact

    def _when(self, package: Package, k: int) -> int:
        return int(package.release_dates[k].timestamp() * 1000)

    def full_chunk(self) -> bytes:
        """Built on first request: every GAV as of day 0 (later days are incrementals)."""
        if self._full is None:
            records: list[dict[str, str]] = [{"DESCRIPTOR": "NexusIndex", "IDXINFO": "1.0|central"}]
            for index in range(self.u.n):
                package = self.u.package(index)
                group, artifact = self._coord(index)
                base = len(package.versions) - len(self.u.changed_on.get(index, []))
                records.extend(
                    artifact_record(group, artifact, v, modified_ms=self._when(package, k))
                    for k, v in enumerate(package.versions[:base])
                )
            self._full = _chunk(records, BASE_MS)
        return self._full

    def publish_day(self, changed: list[int]) -> None:
        """The incremental chunk of the universe's latest day (call after advance_day)."""
        self.full_chunk()
        records = []
        for index in changed:
            package = self.u.package(index)
            group, artifact = self._coord(index)
            k = len(package.versions) - 1
            records.append(
                artifact_record(
                    group, artifact, package.versions[k], modified_ms=self._when(package, k)
                )
            )
        self.incrementals[self.u.day] = _chunk(records, BASE_MS + self.u.day * 86_400_000)

    def properties(self) -> str:
        lines = [
            "#Maven Indexer Writer",
            "nexus.index.id=central",
            f"nexus.index.chain-id={self.chain_id}",
            f"nexus.index.timestamp={_index_date(BASE_MS + self.u.day * 86_400_000)}",
            f"nexus.index.time={_index_date(BASE_MS)}",
            f"nexus.index.last-incremental={self.u.day}",
        ]
        for position, number in enumerate(sorted(self.incrementals, reverse=True)):
            lines.append(f"nexus.index.incremental-{position}={number}")
        return "\n".join(lines) + "\n"

    def handle(self, request: Request) -> Response:
        path = request.path
        if path.startswith("/.index/"):
            self.count("index")
            name = path.removeprefix("/.index/")
            if name == f"{INDEX_PREFIX}.properties":
                return Response(200, self.properties().encode(), content_type="text/plain")
            if name == f"{INDEX_PREFIX}.gz":
                return Response(200, self.full_chunk(), content_type="application/x-gzip")
            middle = name.removeprefix(f"{INDEX_PREFIX}.").removesuffix(".gz")
            if middle.isdigit() and int(middle) in self.incrementals:
                return Response(
                    200, self.incrementals[int(middle)], content_type="application/x-gzip"
                )
            return NOT_FOUND
        parts = [p for p in path.split("/") if p]
        if len(parts) >= 3 and parts[-1] == "maven-metadata.xml":
            self.count("metadata")
            index = self._coords.get((".".join(parts[:-2]), parts[-2]))
            if index is None:
                return NOT_FOUND
            return Response(200, self._metadata(self.u.package(index)), content_type="text/xml")
        if len(parts) >= 4:
            index = self._coords.get((".".join(parts[:-3]), parts[-3]))
            if index is None:
                return NOT_FOUND
            package = self.u.package(index)
            version, filename = parts[-2], parts[-1]
            if version not in package.versions:
                return NOT_FOUND
            k = package.versions.index(version)
            stem = f"{parts[-3]}-{version}"
            if filename == f"{stem}.pom":
                self.count("pom")
                return Response(200, self._pom(package, k), content_type="text/xml")
            if filename == f"{stem}.jar":
                self.count("jar")
                group, _ = self._coord(index)
                body = make_jar([group, f"{group}.internal"])
                return Response(200, body, content_type="application/java-archive")
        return NOT_FOUND

    def _metadata(self, package: Package) -> bytes:
        group, artifact = self._coord(package.index)
        items = "\n".join(f"      <version>{v}</version>" for v in package.versions)
        latest = package.versions[-1]
        stamp = package.release_dates[-1].strftime("%Y%m%d%H%M%S")
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n<metadata>\n'
            f"  <groupId>{group}</groupId>\n  <artifactId>{artifact}</artifactId>\n"
            f"  <versioning>\n    <latest>{latest}</latest>\n    <release>{latest}</release>\n"
            f"    <versions>\n{items}\n    </versions>\n"
            f"    <lastUpdated>{stamp}</lastUpdated>\n  </versioning>\n</metadata>\n"
        ).encode()

    def _pom(self, package: Package, k: int) -> bytes:
        group, artifact = self._coord(package.index)
        version = package.versions[k]
        deps = []
        for t in package.deps_of(k):
            dg, da = self._coord(t)
            scope = "<scope>test</scope>" if t % 5 == 0 else ""
            deps.append(
                f"    <dependency>\n      <groupId>{dg}</groupId>\n      <artifactId>{da}</artifactId>\n"
                f"      <version>{t % 3}.{t % 5}.0</version>{scope}\n    </dependency>"
            )
        owner = group.split(".")[1]
        pom = f"""<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 https://maven.apache.org/xsd/maven-4.0.0.xsd">
  <modelVersion>4.0.0</modelVersion>
  <groupId>{group}</groupId>
  <artifactId>{artifact}</artifactId>
  <version>{version}</version>
  <packaging>jar</packaging>
  <name>{artifact}</name>
  <description>{_text(package.text_bytes)}</description>
  <url>https://github.com/{owner}/{artifact}</url>
  <licenses>
    <license>
      <name>The Apache Software License, Version 2.0</name>
      <url>https://www.apache.org/licenses/LICENSE-2.0.txt</url>
      <distribution>repo</distribution>
    </license>
  </licenses>
  <developers>
    <developer><id>{owner}</id><name>Developer {owner}</name><email>{owner}@example.org</email></developer>
  </developers>
  <scm>
    <connection>scm:git:https://github.com/{owner}/{artifact}.git</connection>
    <developerConnection>scm:git:ssh://git@github.com/{owner}/{artifact}.git</developerConnection>
    <url>https://github.com/{owner}/{artifact}</url>
    <tag>v{version}</tag>
  </scm>
  <properties>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
    <maven.compiler.release>11</maven.compiler.release>
  </properties>
  <dependencies>
{chr(10).join(deps)}
  </dependencies>
</project>
"""
        return pom.encode()
