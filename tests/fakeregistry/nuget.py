"""A fake NuGet V3 feed: service index, an append-only catalog, registration, flat container.

Served in nuget.org's wire format (reference/registries.md §4): the catalog index lists its
pages unordered, page items say `nuget:PackageDetails`/`nuget:PackageDelete`, leaves spell
their commitTimeStamp with `+00:00`, registration responses are gzip-encoded, and .nupkg zips
honour Range. Tests mutate it between runs (publish, unlist, deprecate, delete, reflow) and
call commit(), which appends one catalog commit exactly as nuget.org does.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakeregistry.server import NOT_FOUND, Request, Response, json_response

_START = datetime(2020, 1, 1, tzinfo=UTC)
_CONTEXT = {
    "@vocab": "http://schema.nuget.org/schema#",
    "catalog": "http://schema.nuget.org/catalog#",
}


@dataclass
class FakeVersion:
    """One published version and everything its leaf, nuspec and nupkg say."""

    version: str
    deps: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # framework -> (id, range)
    listed: bool = True
    license_expression: str | None = "MIT"
    project_url: str | None = None
    repository: str | None = None  # only in the .nuspec, as on nuget.org
    dlls: list[str] = field(default_factory=list)
    deprecation: dict[str, Any] | None = None
    created: str = ""
    leaf_path: str = ""


@dataclass
class _Item:
    path: str
    type: str
    stamp: datetime
    commit_id: str
    package_id: str
    version: str


def _lower_version(version: str) -> str:
    return version.split("+", 1)[0].lower()


def _ts(moment: datetime, style: str = "Z") -> str:
    text = moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{moment.microsecond:06d}0"
    return text + ("Z" if style == "Z" else "+00:00")


class NuGetApp:
    """Mutable feed state; every change becomes a catalog item at the next commit()."""

    def __init__(
        self,
        *,
        page_size: int = 4,
        registration_page: int = 64,
        inline_max: int = 128,
        entry_ids: bool = True,
    ):
        self.page_size = page_size
        self.registration_page = registration_page
        self.inline_max = inline_max
        # False: registration entries inline their catalogEntry without an @id, as feeds
        # without a catalog may do (no leaf to point at).
        self.entry_ids = entry_ids
        self.packages: dict[str, tuple[str, dict[str, FakeVersion]]] = {}
        self.pages: list[list[_Item]] = []
        self.leaves: dict[str, dict[str, Any]] = {}
        self.commits = 0
        self._staged: list[tuple[str, str, str]] = []  # (type, id, version)

    # -- mutations ------------------------------------------------------------------------

    def publish(self, package_id: str, version: str, **fields: Any) -> NuGetApp:
        lower = package_id.lower()
        display, versions = self.packages.setdefault(lower, (package_id, {}))
        versions[_lower_version(version)] = FakeVersion(version=version, **fields)
        self._staged.append(("details", display, version))
        return self

    def unlist(self, package_id: str, version: str) -> NuGetApp:
        return self._edit(package_id, version, listed=False)

    def relist(self, package_id: str, version: str) -> NuGetApp:
        return self._edit(package_id, version, listed=True)

    def deprecate(
        self, package_id: str, version: str, reasons: list[str], message: str = ""
    ) -> NuGetApp:
        deprecation: dict[str, Any] = {"reasons": reasons}
        if message:
            deprecation["message"] = message
        return self._edit(package_id, version, deprecation=deprecation)

    def reflow(self, package_id: str, version: str) -> NuGetApp:
        """nuget.org re-emits a leaf with unchanged metadata (a "reflow")."""
        return self._edit(package_id, version)

    def delete(self, package_id: str, version: str) -> NuGetApp:
        display, versions = self.packages[package_id.lower()]
        spec = versions.pop(_lower_version(version))
        self._staged.append(("delete", display, spec.version))
        return self

    def _edit(self, package_id: str, version: str, **changes: Any) -> NuGetApp:
        display, versions = self.packages[package_id.lower()]
        spec = versions[_lower_version(version)]
        for key, value in changes.items():
            setattr(spec, key, value)
        self._staged.append(("details", display, spec.version))
        return self

    def commit(self) -> str:
        """One catalog commit of everything staged; returns its commitTimeStamp."""
        self.commits += 1
        # Commits are stamped with the real clock, as on nuget.org (a registration response's
        # Date must be comparable with them), at least a second apart so that a reflow in the
        # next commit gets a leaf URL of its own (leaf folders are named to the second).
        last = self.pages[-1][-1].stamp if self.pages else _START
        stamp = max(datetime.now(UTC), last + timedelta(seconds=1))
        commit_id = f"00000000-0000-0000-0000-{self.commits:012d}"
        folder = stamp.strftime("%Y.%m.%d.%H.%M.%S")
        staged, self._staged = self._staged, []
        for kind, display, version in staged:
            lower = display.lower()
            path = f"/v3/catalog0/data/{folder}/{lower}.{_lower_version(version)}.json"
            item = _Item(path, kind, stamp, commit_id, display, version)
            if kind == "details":
                spec = self.packages[lower][1][_lower_version(version)]
                spec.created = spec.created or _ts(stamp, "+")
                spec.leaf_path = path
                self.leaves[path] = self._details_leaf(item, spec)
            else:
                self.leaves[path] = self._delete_leaf(item)
            if not self.pages or len(self.pages[-1]) >= self.page_size:
                self.pages.append([])
            self.pages[-1].append(item)
        return _ts(stamp)

    @property
    def head(self) -> str:
        return _ts(self.pages[-1][-1].stamp) if self.pages else _ts(_START)

    # -- documents ------------------------------------------------------------------------

    def _details_leaf(self, item: _Item, spec: FakeVersion) -> dict[str, Any]:
        groups = []
        for framework, deps in spec.deps.items():
            group: dict[str, Any] = {
                "@id": f"#dependencygroup/{framework}",
                "@type": "PackageDependencyGroup",
            }
            if framework != "any":
                group["targetFramework"] = framework
            if deps:
                group["dependencies"] = [
                    {
                        "@id": f"#dependency/{dep_id.lower()}",
                        "@type": "PackageDependency",
                        "id": dep_id,
                        "range": rng,
                    }
                    for dep_id, rng in deps
                ]
            groups.append(group)
        leaf: dict[str, Any] = {
            "@id": item.path,
            "@type": ["PackageDetails", "catalog:Permalink"],
            "authors": "Fake Author",
            "catalog:commitId": item.commit_id,
            "catalog:commitTimeStamp": _ts(item.stamp, "+"),
            "created": spec.created,
            "description": f"{item.package_id} for tests",
            "id": item.package_id,
            "isPrerelease": "-" in spec.version,
            "lastEdited": _ts(item.stamp, "+"),
            "listed": spec.listed,
            "published": spec.created if spec.listed else "1900-01-01T00:00:00+00:00",
            "version": spec.version,
            "dependencyGroups": groups,
            "@context": _CONTEXT,
        }
        if spec.license_expression:
            leaf["licenseExpression"] = spec.license_expression
            leaf["licenseUrl"] = f"https://licenses.nuget.org/{spec.license_expression}"
        if spec.project_url:
            leaf["projectUrl"] = spec.project_url
        if spec.deprecation:
            leaf["deprecation"] = {
                "@id": "#deprecation",
                "@type": "deprecation",
                **spec.deprecation,
            }
        return leaf

    def _delete_leaf(self, item: _Item) -> dict[str, Any]:
        return {
            "@id": item.path,
            "@type": ["PackageDelete", "catalog:Permalink"],
            "catalog:commitId": item.commit_id,
            "catalog:commitTimeStamp": _ts(item.stamp, "+"),
            "id": item.package_id,
            "originalId": item.package_id,
            "published": _ts(item.stamp, "+"),
            "version": item.version,
            "@context": _CONTEXT,
        }

    def nuspec(self, display: str, spec: FakeVersion) -> bytes:
        repo = f'<repository type="git" url="{spec.repository}" />' if spec.repository else ""
        groups = "".join(
            f'<group targetFramework="{fw}">'
            + "".join(f'<dependency id="{d}" version="{r}" />' for d, r in deps)
            + "</group>"
            for fw, deps in spec.deps.items()
        )
        lic = (
            f'<license type="expression">{spec.license_expression}</license>'
            if spec.license_expression
            else ""
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?>\n'
            '<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd"><metadata>'
            f"<id>{display}</id><version>{spec.version}</version><authors>Fake Author</authors>"
            f"{lic}<description>test</description>{repo}<dependencies>{groups}</dependencies>"
            "</metadata></package>"
        ).encode()

    def nupkg(self, display: str, spec: FakeVersion) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("_rels/.rels", "<Relationships/>")
            archive.writestr(f"{display}.nuspec", self.nuspec(display, spec))
            archive.writestr("[Content_Types].xml", "<Types/>")
            for dll in spec.dlls:
                archive.writestr(f"lib/net6.0/{dll}.dll", b"MZ" + b"\0" * 64)
                archive.writestr(f"lib/netstandard2.0/{dll}.dll", b"MZ" + b"\0" * 64)
            archive.writestr("content/readme.txt", "not an assembly")
        return buffer.getvalue()

    # -- HTTP -----------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        base = request.base_url
        path = request.path
        if path == "/v3/index.json":
            return json_response(self._service_index(base))
        if path == "/v3/catalog0/index.json":
            return json_response(self._catalog_index(base))
        match = re.fullmatch(r"/v3/catalog0/page(\d+)\.json", path)
        if match:
            number = int(match.group(1))
            if number >= len(self.pages):
                return NOT_FOUND
            return json_response(self._page(base, number))
        if path in self.leaves:
            return json_response(_absolute(self.leaves[path], base))
        match = re.fullmatch(r"/v3/registration5-gz-semver2/([^/]+)/index\.json", path)
        if match:
            return self._registration(base, match.group(1))
        match = re.fullmatch(
            r"/v3/registration5-gz-semver2/([^/]+)/page/([^/]+)/([^/]+)\.json", path
        )
        if match:
            return self._registration(base, match.group(1), page=(match.group(2), match.group(3)))
        match = re.fullmatch(r"/v3-flatcontainer/([^/]+)/(.+)", path)
        if match:
            rest = match.group(2).split("/")
            if rest == ["index.json"]:
                return self._flat(match.group(1), "index.json", None)
            if len(rest) == 2:
                return self._flat(match.group(1), rest[0], rest[1])
        return NOT_FOUND

    def _service_index(self, base: str) -> dict[str, Any]:
        return {
            "version": "3.0.0",
            "resources": [
                {"@id": f"{base}/query", "@type": "SearchQueryService/3.5.0"},
                {
                    "@id": f"{base}/v3/registration5-semver1/",
                    "@type": "RegistrationsBaseUrl/3.0.0-rc",
                },
                {
                    "@id": f"{base}/v3/registration5-gz-semver2/",
                    "@type": "RegistrationsBaseUrl/3.6.0",
                },
                {"@id": f"{base}/v3-flatcontainer/", "@type": "PackageBaseAddress/3.0.0"},
                {"@id": f"{base}/v3/catalog0/index.json", "@type": "Catalog/3.0.0"},
            ],
            "@context": {"@vocab": "http://schema.nuget.org/services#"},
        }

    def _catalog_index(self, base: str) -> dict[str, Any]:
        refs = [
            {
                "@id": f"{base}/v3/catalog0/page{n}.json",
                "@type": "CatalogPage",
                "commitId": page[-1].commit_id,
                "commitTimeStamp": _ts(page[-1].stamp),
                "count": len(page),
            }
            for n, page in enumerate(self.pages)
        ]
        refs.reverse()  # nuget.org does not order them: clients must sort
        last = self.pages[-1][-1] if self.pages else None
        return {
            "@id": f"{base}/v3/catalog0/index.json",
            "@type": ["CatalogRoot", "AppendOnlyCatalog", "Permalink"],
            "commitId": last.commit_id if last else "",
            "commitTimeStamp": _ts(last.stamp if last else _START),
            "count": len(refs),
            "items": refs,
        }

    def _page(self, base: str, number: int) -> dict[str, Any]:
        page = self.pages[number]
        return {
            "@id": f"{base}/v3/catalog0/page{number}.json",
            "@type": "CatalogPage",
            "commitId": page[-1].commit_id,
            "commitTimeStamp": _ts(page[-1].stamp),
            "count": len(page),
            "parent": f"{base}/v3/catalog0/index.json",
            "items": [
                {
                    "@id": base + item.path,
                    "@type": "nuget:PackageDetails"
                    if item.type == "details"
                    else "nuget:PackageDelete",
                    "commitId": item.commit_id,
                    "commitTimeStamp": _ts(item.stamp),
                    "nuget:id": item.package_id,
                    "nuget:version": item.version,
                }
                for item in page
            ],
        }

    def _registration(self, base: str, lower: str, page: tuple[str, str] | None = None) -> Response:
        entry = self.packages.get(lower)
        if entry is None or not entry[1]:
            return Response(
                404, b"<Error><Code>BlobNotFound</Code></Error>", content_type="application/xml"
            )
        display, versions = entry
        from ssc_cli.models import Ecosystem

        ordered = sorted(versions.values(), key=lambda v: Ecosystem.NUGET.version_key(v.version))
        root = f"{base}/v3/registration5-gz-semver2/{lower}"
        leaves = [self._registration_leaf(base, root, display, spec) for spec in ordered]
        chunks = [
            leaves[i : i + self.registration_page]
            for i in range(0, len(leaves), self.registration_page)
        ]
        inline = len(leaves) < self.inline_max
        pages = []
        for chunk in chunks:
            low, high = (
                chunk[0]["catalogEntry"]["version"].lower(),
                chunk[-1]["catalogEntry"]["version"].lower(),
            )
            item: dict[str, Any] = {
                "@id": f"{root}/page/{low}/{high}.json",
                "@type": "catalog:CatalogPage",
                "count": len(chunk),
                "lower": low,
                "upper": high,
            }
            if page is not None and (low, high) == page:
                return _gzip_json({**item, "items": chunk, "parent": f"{root}/index.json"})
            if inline:
                item["items"] = chunk
            pages.append(item)
        if page is not None:
            return NOT_FOUND
        body = {
            "@id": f"{root}/index.json",
            "@type": ["catalog:CatalogRoot", "PackageRegistration", "catalog:Permalink"],
            "commitTimeStamp": self.head,
            "count": len(pages),
            "items": pages,
        }
        return _gzip_json(body)

    def _registration_leaf(
        self, base: str, root: str, display: str, spec: FakeVersion
    ) -> dict[str, Any]:
        leaf = _absolute(self.leaves[spec.leaf_path], base)
        entry = {
            k: v
            for k, v in leaf.items()
            if k not in ("@context", "catalog:commitId", "created", "lastEdited")
        }
        entry.pop("catalog:commitTimeStamp", None)
        if not self.entry_ids:
            entry.pop("@id", None)
        entry["@type"] = "PackageDetails"
        vlower = _lower_version(spec.version)
        lower = display.lower()
        return {
            "@id": f"{root}/{vlower}.json",
            "@type": "Package",
            "commitTimeStamp": leaf["catalog:commitTimeStamp"],
            "catalogEntry": entry,
            "packageContent": f"{base}/v3-flatcontainer/{lower}/{vlower}/{lower}.{vlower}.nupkg",
            "registration": f"{root}/index.json",
        }

    def _flat(self, lower: str, version: str | None, file: str | None) -> Response:
        entry = self.packages.get(lower)
        if entry is None:
            return NOT_FOUND
        display, versions = entry
        if version is None:
            return NOT_FOUND
        if version == "index.json" and file is None:
            return json_response(
                {"versions": [_lower_version(v.version) for v in versions.values()]}
            )
        spec = versions.get(version)
        if spec is None:
            return NOT_FOUND
        if file == f"{lower}.nuspec":
            return Response(200, self.nuspec(display, spec), content_type="application/xml")
        if file == f"{lower}.{version}.nupkg":
            return Response(200, self.nupkg(display, spec), content_type="application/octet-stream")
        return NOT_FOUND


def _absolute(leaf: dict[str, Any], base: str) -> dict[str, Any]:
    """Leaves are stored with paths; clients see absolute URLs of this server."""
    text = json.dumps(leaf).replace('"/v3/catalog0/data/', f'"{base}/v3/catalog0/data/')
    result: dict[str, Any] = json.loads(text)
    return result


def _gzip_json(data: object) -> Response:
    body = gzip.compress(json.dumps(data).encode(), mtime=0)
    return Response(200, body, headers={"Content-Encoding": "gzip"}, ranges=False)


def synthetic(
    n_packages: int,
    *,
    versions_per_package: int = 3,
    deps_per_version: int = 2,
    page_size: int = 550,
    commit_size: int = 50,
) -> NuGetApp:
    """A feed of n packages with a few versions each, depending on earlier packages."""
    app = NuGetApp(page_size=page_size)
    staged = 0
    for index in range(n_packages):
        for minor in range(versions_per_package):
            deps = [
                (f"Synthetic.Pkg{(index - k) % n_packages}", f"[1.{k}.0, )")
                for k in range(1, deps_per_version + 1)
                if n_packages > 1
            ]
            app.publish(
                f"Synthetic.Pkg{index}",
                f"1.{minor}.0",
                deps={"net6.0": deps, "netstandard2.0": deps[:1]},
                repository=f"https://github.com/synthetic/pkg{index}",
                dlls=[f"Synthetic.Pkg{index}"],
            )
            staged += 1
            if staged % commit_size == 0:
                app.commit()
    if app._staged:
        app.commit()
    return app
