"""Pure parsing of PyPI payloads: JSON API documents, simple index listings, Requires-Dist."""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as Pep508
from packaging.specifiers import Specifier
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ssc_cli.errors import MalformedPayload
from ssc_cli.models import Requirement
from ssc_cli.repository import normalize_repository_url

SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
_REPO_LABELS = ("repository", "source", "sourcecode", "code", "github", "git")
_EXTRA_MARKER = re.compile(r"\bextra\b")
_NAME_PREFIX = re.compile(r"^\s*[A-Za-z0-9][A-Za-z0-9._-]*\s*(\[[^\]]*\])?\s*")
_EXCLUDED_DIRS = frozenset({"test", "tests", "testing", "example", "examples", "doc", "docs"})
_MODULE_SUFFIXES = (".py", ".so", ".pyd")


class _Base(BaseModel):
    model_config = ConfigDict(extra="ignore")


class PyPIFile(_Base):
    filename: str = ""
    url: str = ""
    packagetype: str = ""
    upload_time_iso_8601: str | None = None
    upload_time: str | None = None
    yanked: bool = False
    size: int | None = None


class PyPIInfo(_Base):
    name: str
    version: str | None = None
    home_page: str | None = None
    download_url: str | None = None
    project_urls: dict[str, str | None] | None = None
    license: str | None = None
    license_expression: str | None = None
    classifiers: list[str] = Field(default_factory=list)
    requires_dist: list[str] | None = None
    yanked: bool = False
    yanked_reason: str | None = None


class PyPIProject(_Base):
    """`/pypi/<name>/json` (or, without releases, `/pypi/<name>/<version>/json`)."""

    info: PyPIInfo
    last_serial: int | None = None
    releases: dict[str, list[PyPIFile]] = Field(default_factory=dict)
    urls: list[PyPIFile] = Field(default_factory=list)


def parse_project(data: Any, url: str) -> PyPIProject:
    """Validate a JSON API document where it enters."""
    try:
        return PyPIProject.model_validate(data)
    except ValidationError as exc:
        raise _malformed(exc, url) from exc


def decode_project(body: bytes, url: str) -> PyPIProject | MalformedPayload:
    """A JSON API document straight from its bytes, decoded and validated in one pass by pydantic's
    own JSON parser: no Python objects for the fields ssc ignores, about half the CPU of
    `json.loads` then `parse_project` (issue 16). A body that is not JSON raises MalformedPayload,
    which the HTTP layer fetches again; a document of the wrong shape is returned, not raised, so
    that the caller raises it without a refetch, as `parse_project` after `get_json` did."""
    try:
        return PyPIProject.model_validate_json(body)
    except ValidationError as exc:
        if exc.errors()[0]["type"] != "json_invalid":
            return _malformed(exc, url)
    # pydantic's parser refuses some JSON that json.loads reads (lone surrogate escapes, nesting
    # past 200 levels): such a body is read exactly as before.
    from ssc_cli import json_payload

    try:
        data = json_payload.loads(body)
    except ValueError as exc:
        raise MalformedPayload(f"{url}: body is not valid JSON ({exc})", url=url) from exc
    try:
        return parse_project(data, url)
    except MalformedPayload as problem:
        return problem


def _malformed(exc: ValidationError, url: str) -> MalformedPayload:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    problem = MalformedPayload(
        f"{url}: unexpected JSON API document ({where}: {first['msg']})", url=url
    )
    problem.__cause__ = exc
    return problem


def parse_simple_listing(body: bytes, content_type: str, url: str) -> dict[str, int | None]:
    """Project names and serials from `/simple/` as PEP 691 JSON, or names from PEP 503 HTML."""
    if "json" in content_type:
        from ssc_cli import json_payload

        try:
            data = json_payload.loads(body)
            return {str(p["name"]): p.get("_last-serial") for p in data["projects"]}
        except (ValueError, KeyError, TypeError) as exc:
            raise MalformedPayload(
                f"{url}: unusable PEP 691 project list ({exc})", url=url
            ) from exc
    text = body.decode("utf-8", errors="replace")
    return {html.unescape(m): None for m in re.findall(r"<a\b[^>]*>([^<]+)</a>", text)}


def release_date(files: Iterable[PyPIFile]) -> str | None:
    """Earliest upload among a release's files, as ISO 8601 UTC."""
    earliest: datetime | None = None
    for file in files:
        stamp = file.upload_time_iso_8601 or file.upload_time
        if not stamp:
            continue
        try:
            moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            continue
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        if earliest is None or moment < earliest:
            earliest = moment
    return earliest.astimezone(UTC).isoformat().replace("+00:00", "Z") if earliest else None


def repository_url(info: PyPIInfo) -> str | None:
    """The source repository: labelled project URLs first, then any repo-looking URL, then home page."""
    urls = {k: v for k, v in (info.project_urls or {}).items() if v}
    for label, url in urls.items():
        key = re.sub(r"[\s_.-]+", "", label.lower())
        if key in _REPO_LABELS and (found := normalize_repository_url(url)):
            return found
    for candidate in [*urls.values(), info.home_page, info.download_url]:
        if found := normalize_repository_url(candidate):
            return found
    return None


def license_signals(info: PyPIInfo) -> dict[str, Any]:
    """Raw licence evidence for the classifier (kept as published)."""
    signals: dict[str, Any] = {}
    if info.license_expression:
        signals["license_expression"] = info.license_expression
    if info.license:
        signals["license"] = info.license[:2000]
    classifiers = [c for c in info.classifiers if c.startswith("License ::")]
    if classifiers:
        signals["classifiers"] = classifiers
    return signals


def requirements(requires_dist: Iterable[str] | None) -> list[Requirement]:
    """One Requirement per Requires-Dist entry whose marker does not name an extra."""
    result: list[Requirement] = []
    for text in requires_dist or ():
        parsed = _requirement_fields(text)
        if parsed is not None:
            name, constraints, raw, marker, extra = parsed
            result.append(Requirement(name, constraints, raw, marker, extra=dict(extra)))
    return _merged(result)


_Fields = tuple[str, str, str, str | None, tuple[tuple[str, Any], ...]]


@functools.lru_cache(maxsize=8192)
def _requirement_fields(text: str) -> _Fields | None:
    """One Requires-Dist entry as a Requirement's fields (None: an extra's, or not a requirement).
    Cached by its text: a project's releases repeat most of their entries, and PEP 508 parsing
    was a tenth of a PyPI ingest's CPU (issue 16). Fields, not a Requirement: `_merged` edits the
    Requirement it keeps."""
    try:
        parsed = Pep508(text)
    except InvalidRequirement:
        lenient = _lenient_requirement(text)  # e.g. celery's "pytz (>dev)": keep the edge
        if lenient is None:
            return None
        return (
            lenient.name,
            lenient.constraints,
            lenient.raw_constraints,
            lenient.marker,
            tuple(lenient.extra.items()),
        )
    marker = str(parsed.marker) if parsed.marker is not None else None
    if marker and _EXTRA_MARKER.search(marker):
        return None
    raw = _raw_specifier(text, parsed)
    return (
        canonicalize_name(parsed.name),
        securechain_constraints(raw) if not parsed.url else "any",
        raw,
        marker,
        (("url", parsed.url),) if parsed.url else (),
    )


def _merged(requirements: list[Requirement]) -> list[Requirement]:
    """One edge per target and marker: `b>=1` and `b<3` listed apart both constrain b, so their
    specifiers are joined (the graph keeps one REQUIRE edge per version, target and marker)."""
    merged: dict[tuple[str, str], Requirement] = {}
    for req in requirements:
        key = (req.name, req.key)
        first = merged.get(key)
        if first is None:
            merged[key] = req
            continue
        if first.extra or req.extra:  # a URL or an invalid specifier: keep the first as it is
            continue
        raw = ",".join(r for r in (first.raw_constraints, req.raw_constraints) if r)
        first.raw_constraints = raw
        first.constraints = securechain_constraints(raw)
    return list(merged.values())


def _lenient_requirement(text: str) -> Requirement | None:
    """An edge for metadata packaging rejects: the name is clear, the specifier is not."""
    head, _, marker = text.partition(";")
    match = _NAME_PREFIX.match(head)
    if match is None or _EXTRA_MARKER.search(marker):
        return None
    name = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", head)
    if name is None:
        return None
    rest = head[match.end() :].strip()
    if rest and rest[0] not in "(<>=!~":
        return None  # not a requirement at all
    raw = rest.removeprefix("(").removesuffix(")").strip()
    return Requirement(
        name=canonicalize_name(name.group(1)),
        constraints="any",
        raw_constraints=raw,
        marker=marker.strip() or None,
        extra={"invalid_specifier": True},
    )


def _raw_specifier(text: str, parsed: Pep508) -> str:
    head = text.split(";", 1)[0]
    if parsed.url:
        return "@ " + parsed.url
    raw = _NAME_PREFIX.sub("", head, count=1).strip()
    return raw.removeprefix("(").removesuffix(")").strip()


def securechain_constraints(raw: str) -> str:
    """PEP 440 specifiers as SecureChain's solver parses them (univers PypiVersionRange).

    `~=` and `==X.*` are rewritten as plain bounds; `!=X.*` (a disjunction univers cannot express)
    is dropped, widening the range rather than emptying it (securechain-compat.md §6-20).
    """
    parts: list[str] = []
    for item in raw.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            spec = Specifier(item)
        except ValueError:
            parts.append(item)
            continue
        parts.extend(_plain_bounds(spec.operator, spec.version))
    return ", ".join(parts) if parts else "any"


def _plain_bounds(op: str, version: str) -> list[str]:
    if op == "~=":
        release = version.split("+")[0]
        numbers = re.match(r"^(\d+(?:\.\d+)*)", release)
        pieces = numbers.group(1).split(".") if numbers else []
        if len(pieces) < 2:
            return [f">={version}"]
        upper = pieces[:-1]
        upper[-1] = str(int(upper[-1]) + 1)
        return [f">={version}", f"<{'.'.join(upper)}"]
    if op in ("==", "!=") and version.endswith(".*"):
        if op == "!=":
            return []
        prefix = version[:-2].split(".")
        upper = prefix[:-1] + [str(int(prefix[-1]) + 1)] if prefix[-1].isdigit() else prefix
        return [f">={'.'.join(prefix)}", f"<{'.'.join(upper)}"]
    if op == "===":
        return [f"=={version}"]
    return [f"{op}{version}"]


def wheel_import_names(members: Iterable[str]) -> list[str]:
    """Importable packages and top-level modules of a wheel, from its member names."""
    found: set[str] = set()
    for path in members:
        if not path.endswith(_MODULE_SUFFIXES):
            continue
        parts = path.split("/")
        dirs = parts[:-1]
        if dirs and (dirs[0].endswith((".dist-info", ".data"))):
            continue
        if any(d.lower() in _EXCLUDED_DIRS for d in dirs):
            continue
        if dirs:
            if all(d.isidentifier() for d in dirs):
                found.add(".".join(dirs))
        else:
            module = parts[-1].split(".", 1)[0]
            if module.isidentifier() and module not in ("__init__", "setup", "conftest"):
                found.add(module)
    return sorted(found)


def sdist_import_names(members: Iterable[str]) -> list[str]:
    """Packages of an sdist: directories holding __init__.py below the project root (and src/)."""
    found: set[str] = set()
    for path in members:
        parts = path.split("/")
        if len(parts) < 3 or parts[-1] != "__init__.py":
            continue
        dirs = parts[1:-1]
        if dirs and dirs[0] == "src":
            dirs = dirs[1:]
        if not dirs or any(d.lower() in _EXCLUDED_DIRS for d in dirs):
            continue
        if all(d.isidentifier() for d in dirs):
            found.add(".".join(dirs))
    return sorted(found)


class SimpleFile(_Base):
    """One distribution file of a project page (PEP 691 JSON or PEP 503/592 HTML)."""

    filename: str
    url: str
    yanked: bool = False
    requires_python: str | None = None


def parse_simple_project(body: bytes, content_type: str, url: str) -> list[SimpleFile]:
    """Files of `/simple/<project>/`; relative links are resolved against url."""
    from urllib.parse import urljoin

    if "json" in content_type:
        from ssc_cli import json_payload

        try:
            data = json_payload.loads(body)
            return [
                SimpleFile(
                    filename=f["filename"],
                    url=urljoin(url, f["url"]),
                    yanked=bool(f.get("yanked")),
                    requires_python=f.get("requires-python") or None,
                )
                for f in data["files"]
            ]
        except (ValueError, KeyError, TypeError) as exc:
            raise MalformedPayload(
                f"{url}: unusable PEP 691 project page ({exc})", url=url
            ) from exc
    text = body.decode("utf-8", errors="replace")
    files = []
    for attrs, label in re.findall(r"<a\b([^>]*)>([^<]*)</a>", text, flags=re.IGNORECASE):
        href = re.search(r'href\s*=\s*"([^"]*)"', attrs) or re.search(
            r"href\s*=\s*'([^']*)'", attrs
        )
        if not href:
            continue
        requires = re.search(r'data-requires-python\s*=\s*"([^"]*)"', attrs)
        files.append(
            SimpleFile(
                filename=html.unescape(label.strip()),
                url=urljoin(url, html.unescape(href.group(1))).split("#", 1)[0],
                yanked="data-yanked" in attrs,
                requires_python=html.unescape(requires.group(1)) if requires else None,
            )
        )
    return files


def distribution_of(filename: str, name: str, version: str) -> str | None:
    """ "bdist_wheel" or "sdist" when filename is a distribution of that release, else None."""
    try:
        if filename.endswith(".whl"):
            dist_name, dist_version, *_ = parse_wheel_filename(filename)
            kind = "bdist_wheel"
        else:
            dist_name, dist_version = parse_sdist_filename(filename)
            kind = "sdist"
        same = dist_name == canonicalize_name(name) and dist_version == Version(version)
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None
    return kind if same else None
