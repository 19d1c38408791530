"""PyPI's wire format: PEP 691/503 `/simple/`, the JSON API, and wheels served with Range."""

from __future__ import annotations

import html
import io
import random
import re
import tarfile
import zipfile
from dataclasses import dataclass, field

from packaging.utils import canonicalize_name

from tests.fakeregistry.server import NOT_FOUND, Request, Response, json_response

SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"


@dataclass
class Release:
    requires_dist: list[str] = field(default_factory=list)
    upload_time: str = "2024-01-01T00:00:00.000000Z"
    yanked: bool = False
    wheel_modules: list[str] | None = None  # None: the release has no wheel
    license: str | None = "MIT"
    sdist_modules: list[str] | None = None  # None: the release has no sdist
    sdist_upload_time: str | None = None  # default: upload_time


@dataclass
class Project:
    name: str  # display name
    releases: dict[str, Release] = field(default_factory=dict)
    serial: int = 1
    repository: str | None = None
    home_page: str | None = None

    @property
    def normalized(self) -> str:
        return canonicalize_name(self.name)


class PyPIApp:
    """A mutable PyPI: tests add projects and releases between runs and bump serials."""

    def __init__(self) -> None:
        self.projects: dict[str, Project] = {}
        self.serial = 0
        self.html_listing_only = False
        self._wheels: dict[str, bytes] = {}

    # -- state ----------------------------------------------------------------------------

    def add(self, name: str, **kw: object) -> Project:
        self.serial += 1
        project = Project(name=name, serial=self.serial, **kw)  # type: ignore[arg-type]
        self.projects[project.normalized] = project
        return project

    def release(self, name: str, version: str, **kw: object) -> Release:
        project = self.projects[canonicalize_name(name)]
        release = Release(**kw)  # type: ignore[arg-type]
        project.releases[version] = release
        self.touch(name)
        return release

    def touch(self, name: str) -> None:
        self.serial += 1
        self.projects[canonicalize_name(name)].serial = self.serial

    def remove(self, name: str) -> None:
        self.serial += 1
        del self.projects[canonicalize_name(name)]

    # -- HTTP -----------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        path = request.path
        if path in ("/simple/", "/simple"):
            return self._listing(request)
        match = re.fullmatch(r"/pypi/([^/]+)/json", path)
        if match:
            return self._project(request, match.group(1), None)
        match = re.fullmatch(r"/pypi/([^/]+)/([^/]+)/json", path)
        if match:
            return self._project(request, match.group(1), match.group(2))
        match = re.fullmatch(r"/files/([^/]+)", path)
        if match and match.group(1) in self._wheels:
            return Response(
                200, self._wheels[match.group(1)], content_type="application/octet-stream"
            )
        return NOT_FOUND

    def _listing(self, request: Request) -> Response:
        projects = sorted(self.projects.values(), key=lambda p: p.normalized)
        # pypi.org sends the index's last serial on every simple page (bandersnatch reads it).
        serial = {"X-PyPI-Last-Serial": str(self.serial)}
        if SIMPLE_JSON in request.headers.get("accept", "") and not self.html_listing_only:
            body = {
                "meta": {"_last-serial": self.serial, "api-version": "1.1"},
                "projects": [{"name": p.name, "_last-serial": p.serial} for p in projects],
            }
            response = json_response(body, headers=serial)
            response.content_type = SIMPLE_JSON
            return response
        links = "\n".join(
            f'<a href="/simple/{p.normalized}/">{html.escape(p.name)}</a><br/>' for p in projects
        )
        page = f"<!DOCTYPE html><html><body>\n{links}\n</body></html>"
        return Response(200, page.encode(), headers=serial, content_type="text/html")

    def _project(self, request: Request, name: str, version: str | None) -> Response:
        normalized = canonicalize_name(name)
        project = self.projects.get(normalized)
        if project is None:
            return NOT_FOUND
        if name != normalized:  # PyPI redirects non-normalised names
            suffix = f"/{version}/json" if version else "/json"
            return Response(301, b"", {"Location": f"{request.base_url}/pypi/{normalized}{suffix}"})
        if version is not None and version not in project.releases:
            return NOT_FOUND
        ordered = list(project.releases)
        latest = version or next(
            (v for v in reversed(ordered) if not project.releases[v].yanked),
            ordered[-1] if ordered else None,
        )
        release = project.releases.get(latest) if latest else None
        urls = {"Source": project.repository} if project.repository else {}
        info = {
            "name": project.name,
            "version": latest,
            "summary": f"{project.name} for tests",
            "home_page": project.home_page,
            "project_urls": urls or None,
            "license": release.license if release else None,
            "classifiers": ["License :: OSI Approved :: MIT License"],
            "requires_dist": (release.requires_dist or None) if release else None,
            "yanked": bool(release and release.yanked),
        }
        body: dict[str, object] = {
            "info": info,
            "last_serial": project.serial,
            "urls": self._files(request, project, latest) if latest else [],
        }
        if version is None:
            body["releases"] = {v: self._files(request, project, v) for v in ordered}
        return json_response(body)

    def _files(self, request: Request, project: Project, version: str) -> list[dict[str, object]]:
        release = project.releases[version]
        files = []
        if release.wheel_modules is not None:
            filename = f"{project.normalized.replace('-', '_')}-{version}-py3-none-any.whl"
            if filename not in self._wheels:
                self._wheels[filename] = make_wheel(
                    project.normalized, version, release.wheel_modules
                )
            files.append((filename, "bdist_wheel", release.upload_time))
        if release.sdist_modules is not None:
            filename = f"{project.normalized}-{version}.tar.gz"
            if filename not in self._wheels:
                self._wheels[filename] = make_sdist(
                    project.normalized, version, release.sdist_modules
                )
            files.append((filename, "sdist", release.sdist_upload_time or release.upload_time))
        return [
            {
                "filename": filename,
                "packagetype": kind,
                "url": f"{request.base_url}/files/{filename}",
                "size": len(self._wheels[filename]),
                "upload_time": uploaded[:19],
                "upload_time_iso_8601": uploaded,
                "yanked": release.yanked,
                "yanked_reason": "broken" if release.yanked else None,
            }
            for filename, kind, uploaded in files
        ]


def make_wheel(name: str, version: str, modules: list[str]) -> bytes:
    """A real wheel (zip) whose members are the given module paths plus dist-info."""
    buffer = io.BytesIO()
    dist = f"{name.replace('-', '_')}-{version}.dist-info"
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as wheel:
        for module in modules:
            wheel.writestr(module, f"# {module}\n" + "x = 1\n" * 50)
        wheel.writestr(
            f"{dist}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        )
        wheel.writestr(f"{dist}/RECORD", "")
    return buffer.getvalue()


def make_sdist(name: str, version: str, modules: list[str]) -> bytes:
    """A real sdist (.tar.gz) holding the module paths under `<name>-<version>/`."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as archive:
        for path in [*modules, "PKG-INFO", "setup.py"]:
            content = f"# {path}\n".encode()
            info = tarfile.TarInfo(f"{name}-{version}/{path}")
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return raw.getvalue()


def synthetic(
    n_projects: int, *, versions: int = 3, deps: int = 2, seed: int = 7, wheels: bool = True
) -> PyPIApp:
    """A registry of n projects named pkg-00000.., each release depending on earlier projects."""
    rng = random.Random(seed)
    app = PyPIApp()
    for i in range(n_projects):
        name = f"pkg-{i:05d}"
        app.add(name, repository=f"https://github.com/owner{i % 97}/{name}")
        for v in range(versions):
            targets = rng.sample(range(i), min(deps, i)) if i else []
            requires = [f"pkg-{t:05d}>={v}.0,<{v + 2}" for t in targets]
            if v == versions - 1 and i % 5 == 0:
                requires.append("pytest>=7; extra == 'test'")
            module = name.replace("-", "_")
            app.release(
                name,
                f"{v}.{i % 3}.0",
                requires_dist=requires,
                upload_time=f"2023-{1 + v % 12:02d}-{1 + i % 28:02d}T10:00:00.000000Z",
                wheel_modules=[f"{module}/__init__.py", f"{module}/core.py"] if wheels else None,
            )
    return app
