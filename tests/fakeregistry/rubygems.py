"""A fake rubygems.org: compact index (/versions, /info, /names), API v1/v2 and .gem files.

Wire formats follow rubygems.org and its `compact_index` gem: `/versions` starts with a
`created_at:` header and `---`, then one `GEM VERSIONS INFO_MD5` line per gem; publishing or
yanking appends a line (the file only grows within a month) and `rebuild()` rewrites it as the
monthly recompute does. `/versions` and `/info` carry `Repr-Digest: sha-256=:…:` of the whole
file, an ETag, and honour Range (416 past the end); `/versions` is gzipped for clients that
ask and do not ask for a range. `.gem` files are real tars holding metadata.gz, data.tar.gz
and checksums.yaml.gz.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import threading
import zlib
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote

from tests.fakeregistry.server import NOT_FOUND, Request, Response, json_response

RUBY = "ruby"
TEXT = "text/plain; charset=utf-8"


@dataclass
class FakeGemVersion:
    """One version of a gem on one platform."""

    number: str
    platform: str = RUBY
    dependencies: list[tuple[str, str]] = field(default_factory=list)  # (gem, ">= 1, < 2")
    dev_dependencies: list[tuple[str, str]] = field(default_factory=list)
    created_at: str = "2026-01-01T00:00:00.000Z"
    licenses: list[str] | None = field(default_factory=lambda: ["MIT"])
    metadata: dict[str, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)  # paths inside data.tar.gz
    ruby_version: str | None = None

    @property
    def token(self) -> str:
        return self.number if self.platform == RUBY else f"{self.number}-{self.platform}"

    @property
    def full_name(self) -> str:
        return self.token


@dataclass
class FakeGem:
    name: str
    versions: list[FakeGemVersion] = field(default_factory=list)  # live, in publish order
    homepage: str | None = None


class RubyGemsApp:
    """Mutable registry state plus the HTTP handler (mount under /rubygems)."""

    def __init__(self, created_at: str = "2026-11-01T00:00:00+00:00") -> None:
        self.gems: dict[str, FakeGem] = {}
        self.created_at = created_at
        self.versions_file = b""
        self.publish_digest = True  # False: a mirror that sends no Repr-Digest
        self._lock = threading.RLock()
        self._gem_cache: dict[tuple[str, str], bytes] = {}
        self._info_cache: dict[str, bytes] = {}
        self.rebuild()

    # -- state ----------------------------------------------------------------------------

    def add(self, name: str, *versions: FakeGemVersion, homepage: str | None = None) -> FakeGem:
        """Add a gem without touching /versions (call rebuild() once the initial state is set)."""
        with self._lock:
            gem = self.gems.setdefault(name, FakeGem(name, homepage=homepage))
            gem.versions.extend(versions)
            self._info_cache.pop(name, None)
            return gem

    def rebuild(self, created_at: str | None = None) -> None:
        """Rewrite /versions from the live state, as the monthly recompute does."""
        with self._lock:
            if created_at is not None:
                self.created_at = created_at
            out = io.BytesIO()
            out.write(f"created_at: {self.created_at}\n---\n".encode())
            for name in sorted(self.gems):
                gem = self.gems[name]
                if gem.versions:
                    tokens = ",".join(v.token for v in gem.versions)
                    out.write(f"{name} {tokens} {self.info_md5(name)}\n".encode())
            self.versions_file = out.getvalue()

    def publish(self, name: str, version: FakeGemVersion, *, homepage: str | None = None) -> None:
        """Push a version (a new gem when the name is new): one line appended to /versions."""
        with self._lock:
            self.add(name, version, homepage=homepage)
            self._append(f"{name} {version.token} {self.info_md5(name)}\n")

    def yank(self, name: str, number: str, platform: str = RUBY) -> None:
        """Yank one build: it leaves /info and the API; `-VER` is appended to /versions."""
        with self._lock:
            gem = self.gems[name]
            victim = next(v for v in gem.versions if (v.number, v.platform) == (number, platform))
            gem.versions.remove(victim)
            self._info_cache.pop(name, None)
            self._append(f"{name} -{victim.token} {self.info_md5(name)}\n")

    def _append(self, line: str) -> None:
        self.versions_file += line.encode()

    # -- payloads -------------------------------------------------------------------------

    def gem_file(self, name: str, version: FakeGemVersion) -> bytes:
        key = (name, version.token)
        cached = self._gem_cache.get(key)
        if cached is None:
            cached = self._gem_cache[key] = build_gem(name, version)
        return cached

    def info_body(self, name: str) -> bytes:
        with self._lock:
            cached = self._info_cache.get(name)
            if cached is not None:
                return cached
            gem = self.gems[name]
            lines = ["---"]
            for v in gem.versions:
                deps = ",".join(
                    f"{dep}:{'&'.join(sorted(p.strip() for p in req.split(',')))}"
                    for dep, req in v.dependencies
                )
                tail = f"checksum:{hashlib.sha256(self.gem_file(name, v)).hexdigest()}"
                if v.ruby_version:
                    tail += f",ruby:{v.ruby_version.replace(', ', '&')}"
                tail += f",created_at:{v.created_at}"
                lines.append(f"{v.token} {deps}|{tail}")
            body = ("\n".join(lines) + "\n").encode()
            self._info_cache[name] = body
            return body

    def info_md5(self, name: str) -> str:
        return hashlib.md5(self.info_body(name)).hexdigest()

    def api_version(self, name: str, v: FakeGemVersion) -> dict[str, object]:
        return {
            "authors": "Fake Author",
            "built_at": v.created_at[:10] + "T00:00:00.000Z",
            "created_at": v.created_at,
            "description": f"{name} does things",
            "downloads_count": 1,
            "metadata": dict(v.metadata),
            "number": v.number,
            "summary": f"{name} summary",
            "platform": v.platform,
            "rubygems_version": ">= 0",
            "ruby_version": v.ruby_version or ">= 0",
            "prerelease": any(c.isalpha() for c in v.number),
            "licenses": v.licenses,
            "requirements": [],
            "sha": hashlib.sha256(self.gem_file(name, v)).hexdigest(),
        }

    # -- HTTP -----------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        path = unquote(request.path)
        with self._lock:
            if path == "/versions":
                return self._versions(request)
            if path == "/names":
                names = sorted(n for n, g in self.gems.items() if g.versions)
                return _compact(request, ("---\n" + "".join(f"{n}\n" for n in names)).encode())
            if path.startswith("/info/"):
                name = path[len("/info/") :]
                if name not in self.gems or not self.gems[name].versions:
                    return Response(404, b"This rubygem could not be found.", content_type=TEXT)
                return _compact(request, self.info_body(name))
            if path.startswith("/api/v1/versions/") and path.endswith(".json"):
                gem = self.gems.get(path[len("/api/v1/versions/") : -len(".json")])
                if gem is None or not gem.versions:
                    return Response(404, b"This rubygem could not be found.", content_type=TEXT)
                ordered = list(reversed(gem.versions))
                return json_response([self.api_version(gem.name, v) for v in ordered])
            if path.startswith("/api/v1/gems/") and path.endswith(".json"):
                return self._gem_json(path[len("/api/v1/gems/") : -len(".json")])
            if path.startswith("/api/v2/rubygems/"):
                return self._v2(path, request.query)
            if path.startswith("/gems/") and path.endswith(".gem"):
                return self._gem_download(path[len("/gems/") : -len(".gem")])
        return NOT_FOUND

    def _versions(self, request: Request) -> Response:
        body = self.versions_file
        headers = _digest_headers(body)
        if not self.publish_digest:
            del headers["Repr-Digest"]
        if request.headers.get("if-none-match") == headers["ETag"]:
            return Response(304, b"", headers, content_type=TEXT, etag=False, ranges=False)
        wants_gzip = "gzip" in request.headers.get("accept-encoding", "")
        if wants_gzip and "range" not in request.headers:
            headers["Content-Encoding"] = "gzip"
            return Response(
                200,
                gzip.compress(body, mtime=0, compresslevel=1),
                headers,
                TEXT,
                etag=False,
                ranges=False,
            )
        return Response(200, body, headers, TEXT, etag=False, ranges=True)

    def _gem_json(self, name: str) -> Response:
        gem = self.gems.get(name)
        if gem is None or not gem.versions:
            return Response(404, b"This rubygem could not be found.", content_type=TEXT)
        newest = gem.versions[-1]
        meta = newest.metadata
        return json_response(
            {
                "name": gem.name,
                "version": newest.number,
                "platform": newest.platform,
                "licenses": newest.licenses,
                "metadata": dict(meta),
                "yanked": False,
                "homepage_uri": gem.homepage or meta.get("homepage_uri"),
                "source_code_uri": meta.get("source_code_uri"),
                "bug_tracker_uri": meta.get("bug_tracker_uri"),
                "changelog_uri": meta.get("changelog_uri"),
                "documentation_uri": None,
                "wiki_uri": None,
                "mailing_list_uri": None,
                "funding_uri": None,
                "dependencies": _deps_json(newest),
            }
        )

    def _v2(self, path: str, query: str) -> Response:
        parts = path.split("/")  # ['', 'api', 'v2', 'rubygems', NAME, 'versions', 'V.json']
        if len(parts) != 7 or parts[5] != "versions" or not parts[6].endswith(".json"):
            return NOT_FOUND
        gem = self.gems.get(parts[4])
        number = parts[6][: -len(".json")]
        platform = parse_qs(query).get("platform", [RUBY])[0]
        for v in gem.versions if gem else []:
            if (v.number, v.platform) == (number, platform):
                assert gem is not None
                return json_response(
                    {**self.api_version(gem.name, v), "dependencies": _deps_json(v)}
                )
        return NOT_FOUND

    def _gem_download(self, full_name: str) -> Response:
        for name, gem in self.gems.items():
            if not full_name.startswith(name + "-"):
                continue
            for v in gem.versions:
                if full_name == f"{name}-{v.full_name}":
                    return Response(
                        200, self.gem_file(name, v), content_type="application/octet-stream"
                    )
        return NOT_FOUND


def _deps_json(v: FakeGemVersion) -> dict[str, list[dict[str, str]]]:
    return {
        "runtime": [{"name": d, "requirements": r} for d, r in v.dependencies],
        "development": [{"name": d, "requirements": r} for d, r in v.dev_dependencies],
    }


def _digest_headers(body: bytes) -> dict[str, str]:
    digest = hashlib.sha256(body)
    return {
        "ETag": f'"{digest.hexdigest()[:32]}"',
        "Repr-Digest": f"sha-256=:{base64.b64encode(digest.digest()).decode()}:",
        "Accept-Ranges": "bytes",
        "Cache-Control": "max-age=60, public",
    }


def _compact(request: Request, body: bytes) -> Response:
    """A compact-index text file: ETag/304 on the content, digest of the whole file, ranges."""
    headers = _digest_headers(body)
    if request.headers.get("if-none-match") == headers["ETag"]:
        return Response(304, b"", headers, content_type=TEXT, etag=False, ranges=False)
    return Response(200, body, headers, TEXT, etag=False, ranges=True)


def _gzip(data: bytes) -> bytes:
    """gzip with a small window: valid gzip, mtime 0, without zlib's 256 KiB state per call."""
    packer = zlib.compressobj(6, zlib.DEFLATED, 16 + 9, 1)
    return packer.compress(data) + packer.flush()


def _ustar(members: list[tuple[str, bytes]]) -> bytes:
    """A POSIX ustar archive of regular files (mode 0644, mtime 0), written directly.

    tarfile would do the same bytes at a hundred times the cost; the synthetic registries of
    the benchmarks build tens of thousands of .gem files.
    """
    out = bytearray()
    for name, data in members:
        encoded = name.encode()
        if len(encoded) > 100:
            raise ValueError(f"member name too long for a plain ustar header: {name}")
        header = bytearray(512)
        header[0 : len(encoded)] = encoded
        header[100:108] = b"0000644\0"
        header[108:116] = b"0000000\0"
        header[116:124] = b"0000000\0"
        header[124:136] = f"{len(data):011o}\0".encode()
        header[136:148] = b"00000000000\0"
        header[148:156] = b"        "
        header[156:157] = b"0"
        header[257:265] = b"ustar\x0000"
        header[148:156] = f"{sum(header):06o}\0 ".encode()
        out += header
        out += data
        out += bytes(-len(data) % 512)
    out += bytes(1024)
    return bytes(out)


def build_gem(name: str, version: FakeGemVersion) -> bytes:
    """A real .gem: an uncompressed tar of metadata.gz, data.tar.gz and checksums.yaml.gz."""
    files = version.files or [f"lib/{name}.rb"]
    data = _gzip(_ustar([(p, f"# {p}\n".encode()) for p in files]))
    spec = (
        "--- !ruby/object:Gem::Specification\n"
        f"name: {name}\n"
        "version: !ruby/object:Gem::Version\n"
        f"  version: {version.number}\n"
        f"platform: {version.platform}\n"
        f"licenses: {json.dumps(version.licenses or [])}\n"
    ).encode()
    metadata = _gzip(spec)
    checksums = _gzip(
        (
            "---\nSHA256:\n"
            f"  metadata.gz: {hashlib.sha256(metadata).hexdigest()}\n"
            f"  data.tar.gz: {hashlib.sha256(data).hexdigest()}\n"
        ).encode(),
    )
    return _ustar(
        [("metadata.gz", metadata), ("data.tar.gz", data), ("checksums.yaml.gz", checksums)]
    )


def synthetic(
    n_packages: int, *, versions_per_package: int = 3, seed: int = 7, created_at: str | None = None
) -> RubyGemsApp:
    """A deterministic registry of n gems: each depends on up to two earlier gems."""
    app = RubyGemsApp(created_at or "2026-11-01T00:00:00+00:00")
    for i in range(n_packages):
        name = synthetic_name(i)
        versions = []
        for j in range(versions_per_package):
            deps = [
                (synthetic_name(i - k), f">= {j}.0, < {j + 2}")
                for k in (1, 7)
                if i - k >= 0 and (i * 31 + j * 17 + k + seed) % 3 != 0
            ]
            versions.append(
                FakeGemVersion(
                    number=f"{j}.{(i + seed) % 5}.0",
                    dependencies=deps,
                    created_at=f"2026-0{1 + j}-{1 + i % 28:02d}T00:00:00.000Z",
                    licenses=["MIT"] if i % 4 else ["Apache-2.0", "MIT"],
                    metadata={"source_code_uri": f"https://github.com/owner{i % 50}/{name}"},
                    files=[f"lib/{name}.rb", f"lib/{name}/core.rb"],
                )
            )
        app.add(name, *versions)
    app.rebuild()
    return app


def synthetic_name(i: int) -> str:
    return f"gem{i:05d}"
