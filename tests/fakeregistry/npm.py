"""A fake npm registry: packuments, real .tgz tarballs and the replication `_changes` feed.

Mount with `NpmApp().mount(server)`, which returns (SSC_NPM_URL, SSC_NPM_REPLICATE_URL).
Wire format as npm serves it (reference/registries.md §2): `GET /{name}` (scoped as
`@scope%2Fname`) answers a gzipped full packument, `GET /{name}/-/{base}-{v}.tgz` the tarball.
The replica has the real path shape and nothing else: its root `GET /npm-replicate/` (as
`https://replicate.npmjs.com/`) gives `update_seq`, and `GET /npm-replicate/registry/_changes?
since=&limit=` one row per document (CouchDB keeps only a document's latest change), `_design/`
rows included, deleted rows for unpublished packages, and the opt-in header required; so
SSC_NPM_REPLICATE_URL is `…/npm-replicate/registry`. `reset_feed()` renumbers the feed from 1,
as the 2021 and 2025 replica rebuilds did; `page_cap` makes pages shorter than asked for.
"""

from __future__ import annotations

import base64
import copy
import functools
import gzip
import hashlib
import io
import json
import random
import tarfile
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, unquote

from tests.fakeregistry.server import NOT_FOUND, FakeRegistry, Request, Response, json_response

_BASE = "__FAKE_NPM_BASE__"
_EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
DEFAULT_FILES = ("package/package.json", "package/index.js", "package/lib/util.js")


class NpmApp:
    """Mutable npm registry state served over HTTP; every method is thread-safe."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        # One row per document id (its latest change); dict order is seq order.
        self.feed: dict[str, dict[str, Any]] = {}
        self.seq = 0
        self.require_opt_in = True
        # Replica lag: name -> (stale packument, requests left to serve it).
        self.lagging: dict[str, tuple[dict[str, Any], int]] = {}
        # Rows per `_changes` page at most, whatever the limit: a short page is not the end.
        self.page_cap: int | None = None
        # name -> what to do right after its packument was served once (a change after a fetch).
        self.after_fetch: dict[str, Callable[[], None]] = {}
        self._revs: dict[str, int] = {}
        self._tarballs: dict[tuple[str, str], bytes] = {}
        self._lock = threading.RLock()

    # -- mounting -------------------------------------------------------------------------

    def mount(self, server: FakeRegistry) -> tuple[str, str]:
        """Serve under /npm and /npm-replicate; returns (npm_url, npm_replicate_url)."""
        server.mount("npm", self)
        server.mount("npm-replicate", _ReplicateApp(self))
        return server.url("npm"), server.url("npm-replicate") + "/registry"

    # -- changing the registry ------------------------------------------------------------

    def publish(
        self,
        name: str,
        version: str,
        *,
        dependencies: dict[str, str] | None = None,
        optional: dict[str, str] | None = None,
        peer: dict[str, str] | None = None,
        dev: dict[str, str] | None = None,
        license: Any = "MIT",
        repository: Any = None,
        files: tuple[str, ...] | None = DEFAULT_FILES,
        deprecated: str | None = None,
        tag: bool = True,
    ) -> None:
        """Publish one version (creating the package); files=None publishes no tarball."""
        with self._lock:
            doc = self.docs.get(name)
            if doc is None:
                doc = self._new_doc(name)
            manifest: dict[str, Any] = {"name": name, "version": version}
            if license is not None:
                manifest["license"] = license
            if repository is not None:
                manifest["repository"] = repository
            for key, value in (
                ("dependencies", dependencies),
                ("optionalDependencies", optional),
                ("peerDependencies", peer),
                ("devDependencies", dev),
            ):
                if value is not None:
                    manifest[key] = dict(value)
            if deprecated is not None:
                manifest["deprecated"] = deprecated
            if files is not None:
                basename = name.rsplit("/", 1)[-1]
                data = make_tarball(tuple(files))
                manifest["dist"] = {
                    "shasum": hashlib.sha1(data).hexdigest(),
                    "integrity": "sha512-"
                    + base64.b64encode(hashlib.sha512(data).digest()).decode(),
                    "tarball": f"{_BASE}/{name}/-/{basename}-{version}.tgz",
                }
                self._tarballs[(name, version)] = data
            doc["versions"][version] = manifest
            doc["time"][version] = self._stamp()
            if tag:
                doc["dist-tags"]["latest"] = version
            if repository is not None:
                doc["repository"] = repository
            if license is not None:
                doc["license"] = license
            self._touch(name)

    def deprecate(self, name: str, version: str, message: str) -> None:
        with self._lock:
            self.docs[name]["versions"][version]["deprecated"] = message
            self._touch(name)

    def unpublish(self, name: str) -> None:
        """Remove the package: its packument 404s and the feed carries a deleted row."""
        with self._lock:
            self.docs.pop(name)
            self._touch(name, deleted=True)

    def add_design_doc(self, doc_id: str = "_design/app") -> None:
        with self._lock:
            self._touch(doc_id)

    def lag(self, name: str, requests: int = 1) -> None:
        """Serve the current packument for the next requests after the next change (replica lag)."""
        with self._lock:
            self.lagging[name] = (copy.deepcopy(self.docs[name]), requests)

    def reset_feed(self) -> None:
        """Renumber the feed from 1 (a rebuilt replica): update_seq drops below old cursors."""
        with self._lock:
            before = self.seq
            for index, row in enumerate(self.feed.values(), start=1):
                row["seq"] = index
            self.seq = len(self.feed)
            if self.seq >= before:
                raise ValueError("reset_feed needs superseded rows to renumber lower")

    # -- synthetic registries -------------------------------------------------------------

    @classmethod
    def synthetic(
        cls, n_packages: int, *, versions: int = 3, deps: int = 2, seed: int = 7
    ) -> NpmApp:
        """n packages (every tenth scoped), each version depending on earlier packages."""
        app = cls()
        rng = random.Random(seed)
        names = [synthetic_name(i) for i in range(n_packages)]
        for index, name in enumerate(names):
            for minor in range(versions):
                picks = rng.sample(range(index), min(deps, index)) if index else []
                app.publish(
                    name,
                    f"1.{minor}.0",
                    dependencies={names[p]: f"^1.{rng.randrange(versions)}.0" for p in picks},
                    repository={
                        "type": "git",
                        "url": f"git+https://github.com/o{index % 97}/{index}.git",
                    },
                )
        return app

    # -- serving --------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        path = request.path
        if path == "/-/ping":  # what `npm ping` (and ssc doctor) asks
            return json_response({})
        if "/-/" in path:
            return self._tarball(path)
        name = unquote(path.lstrip("/"))
        with self._lock:
            lagging = self.lagging.get(name)
            if lagging is not None and lagging[0].get("_rev") != self.docs.get(name, {}).get(
                "_rev"
            ):
                stale, left = lagging
                if left <= 1:
                    self.lagging.pop(name)
                else:
                    self.lagging[name] = (stale, left - 1)
                doc: dict[str, Any] | None = stale
            else:
                doc = self.docs.get(name)
            body = json.dumps(doc) if doc is not None else None
            hook = self.after_fetch.pop(name, None) if body is not None else None
        if hook is not None:
            hook()  # the answer above is already built: it is now one revision behind
        if body is None:
            return Response(404, b'{"error":"Not found"}')
        data = body.replace(_BASE, request.base_url).encode()
        headers: dict[str, str] = {}
        if "gzip" in request.headers.get("accept-encoding", ""):
            data = gzip.compress(data, mtime=0)
            headers["Content-Encoding"] = "gzip"
        return Response(200, data, headers, ranges=False)

    def _tarball(self, path: str) -> Response:
        name, _, filename = path.lstrip("/").partition("/-/")
        name = unquote(name)
        basename = name.rsplit("/", 1)[-1]
        version = filename.removeprefix(basename + "-").removesuffix(".tgz")
        with self._lock:
            data = self._tarballs.get((name, version))
        if data is None:
            return NOT_FOUND
        return Response(200, data, content_type="application/octet-stream")

    def replicate_root(self) -> Response:
        with self._lock:
            info = {"db_name": "registry", "doc_count": len(self.docs), "update_seq": self.seq}
        return json_response(info, etag=False)

    def changes(self, request: Request) -> Response:
        if self.require_opt_in and request.headers.get("npm-replication-opt-in") != "true":
            return json_response({"error": "bad_request", "reason": "opt-in header required"}, 400)
        query = parse_qs(request.query)
        since = int(query.get("since", ["0"])[0] or 0)
        limit = int(query.get("limit", ["1000"])[0])
        if self.page_cap is not None:
            limit = min(limit, self.page_cap)
        with self._lock:
            rows = [dict(row) for row in self.feed.values() if row["seq"] > since][:limit]
        last_seq = rows[-1]["seq"] if rows else since
        return json_response({"results": rows, "last_seq": last_seq}, etag=False)

    # -- internals ------------------------------------------------------------------------

    def _new_doc(self, name: str) -> dict[str, Any]:
        stamp = self._stamp()
        doc: dict[str, Any] = {
            "_id": name,
            "_rev": "",
            "name": name,
            "dist-tags": {},
            "versions": {},
            "time": {"created": stamp, "modified": stamp},
        }
        self.docs[name] = doc
        return doc

    def _stamp(self) -> str:
        return (_EPOCH + timedelta(minutes=self.seq)).strftime("%Y-%m-%dT%H:%M:%S.000Z")

    def _touch(self, doc_id: str, *, deleted: bool = False) -> None:
        generation = self._revs.get(doc_id, 0) + 1
        self._revs[doc_id] = generation
        rev = f"{generation}-{hashlib.md5(f'{doc_id}{generation}'.encode()).hexdigest()}"
        doc = self.docs.get(doc_id)
        if doc is not None:
            doc["_rev"] = rev
            doc["time"]["modified"] = self._stamp()
        self.seq += 1
        self.feed.pop(doc_id, None)
        row: dict[str, Any] = {"seq": self.seq, "id": doc_id, "changes": [{"rev": rev}]}
        if deleted:
            row["deleted"] = True
        self.feed[doc_id] = row


class _ReplicateApp:
    """replicate.npmjs.com: `/` (update_seq) and `/registry/_changes`; any other path 404s."""

    def __init__(self, app: NpmApp) -> None:
        self.app = app

    def handle(self, request: Request) -> Response:
        if request.path == "/":
            return self.app.replicate_root()
        if request.path == "/registry/_changes":
            return self.app.changes(request)
        return NOT_FOUND


def synthetic_name(index: int) -> str:
    return f"@scope{index % 7}/pkg-{index:05d}" if index % 10 == 0 else f"pkg-{index:05d}"


@functools.lru_cache(maxsize=256)
def make_tarball(files: tuple[str, ...]) -> bytes:
    """A real, deterministic .tgz holding the given paths."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for path in files:
            content = b'{"name":"fake"}\n' if path.endswith(".json") else b"module.exports = 1;\n"
            info = tarfile.TarInfo(path)
            info.size = len(content)
            info.mtime = 499162500  # npm pins every mtime to 1985-10-26
            archive.addfile(info, io.BytesIO(content))
    return gzip.compress(raw.getvalue(), mtime=0)
