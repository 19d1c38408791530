"""NuGet V3 payloads into records: service index, catalog, registration, leaves, nuspecs, ranges.

reference/registries.md §4.2. Payloads are validated where they enter (pydantic, extra ignored);
catalog leaves stay raw dicts because the archive keeps them whole.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from defusedxml import ElementTree
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ssc_cli.errors import MalformedPayload
from ssc_cli.models import Ecosystem, Requirement, VersionRecord
from ssc_cli.registries.nuget.catalog import DELETE, DETAILS, CatalogItem, canonical_ts
from ssc_cli.repository import normalize_repository_url

log = logging.getLogger(__name__)

CATALOG = "Catalog/3.0.0"
# Newest first: 3.6.0 is the gzip hive that includes SemVer 2.0.0 packages (§4.3).
REGISTRATION_TYPES = (
    "RegistrationsBaseUrl/3.6.0",
    "RegistrationsBaseUrl/Versioned",
    "RegistrationsBaseUrl/3.4.0",
    "RegistrationsBaseUrl/3.0.0-rc",
    "RegistrationsBaseUrl/3.0.0-beta",
    "RegistrationsBaseUrl",
)
PACKAGE_BASE = "PackageBaseAddress/3.0.0"
_TYPES = {
    "nuget:PackageDetails": DETAILS,
    "PackageDetails": DETAILS,
    "nuget:PackageDelete": DELETE,
    "PackageDelete": DELETE,
}
_UNLISTED_YEAR = "1900-01-01"  # `published` of an unlisted package (NGD registration docs)


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class ServiceResource(_Model):
    id: str = Field(alias="@id")
    type: str = Field(alias="@type")


class ServiceIndex(_Model):
    version: str = ""
    resources: list[ServiceResource]


class CatalogPageRef(_Model):
    id: str = Field(alias="@id")
    commit_ts: str = Field(alias="commitTimeStamp")
    count: int = 0


class CatalogIndex(_Model):
    commit_ts: str = Field(alias="commitTimeStamp")
    count: int = 0
    items: list[CatalogPageRef] = Field(default_factory=list)


class CatalogPageItem(_Model):
    id: str = Field(alias="@id")
    type: str = Field(alias="@type")
    commit_ts: str = Field(alias="commitTimeStamp")
    package_id: str = Field(alias="nuget:id")
    package_version: str = Field(alias="nuget:version")


class CatalogPage(_Model):
    commit_ts: str = Field(alias="commitTimeStamp")
    count: int = 0
    items: list[CatalogPageItem] = Field(default_factory=list)


class RegistrationLeaf(_Model):
    id: str = Field("", alias="@id")
    commit_ts: str | None = Field(None, alias="commitTimeStamp")
    catalog_entry: dict[str, Any] | str = Field(alias="catalogEntry")
    package_content: str | None = Field(None, alias="packageContent")


class RegistrationPage(_Model):
    id: str = Field(alias="@id")
    count: int = 0
    items: list[RegistrationLeaf] | None = None
    lower: str | None = None
    upper: str | None = None


class RegistrationIndex(_Model):
    commit_ts: str | None = Field(None, alias="commitTimeStamp")
    count: int = 0
    items: list[RegistrationPage] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Resources:
    """Base URLs a feed's service index announces (registration/flat container end with /)."""

    catalog: str | None
    registration: str | None
    package_base: str | None


def _validate(model: type[BaseModel], data: Any, url: str, what: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise MalformedPayload(
            f"{url}: not a NuGet {what} ({where}: {first['msg']})", url=url
        ) from exc


def parse_service_index(data: Any, url: str) -> Resources:
    """Resources by @type, so a private feed or a mirror is used exactly as announced."""
    index: ServiceIndex = _validate(ServiceIndex, data, url, "service index")
    by_type: dict[str, str] = {}
    for resource in index.resources:
        by_type.setdefault(resource.type, resource.id)
    registration = next((by_type[t] for t in REGISTRATION_TYPES if t in by_type), None)
    base = by_type.get(PACKAGE_BASE)
    return Resources(
        catalog=by_type.get(CATALOG),
        registration=_slash(registration),
        package_base=_slash(base),
    )


def _slash(url: str | None) -> str | None:
    return None if url is None else url if url.endswith("/") else url + "/"


def parse_catalog_index(data: Any, url: str) -> CatalogIndex:
    """The catalog root; its pages sorted by commitTimeStamp (they are served unordered)."""
    index: CatalogIndex = _validate(CatalogIndex, data, url, "catalog index")
    try:
        index.commit_ts = canonical_ts(index.commit_ts)
        for page in index.items:
            page.commit_ts = canonical_ts(page.commit_ts)
    except ValueError as exc:
        raise MalformedPayload(f"{url}: {exc}", url=url) from exc
    index.items.sort(key=lambda page: (page.commit_ts, page.id))
    return index


def parse_catalog_page(data: Any, url: str) -> tuple[CatalogPage, list[CatalogItem]]:
    """A catalog page and its package events, oldest first; other event types are skipped."""
    page: CatalogPage = _validate(CatalogPage, data, url, "catalog page")
    items = []
    try:
        page.commit_ts = canonical_ts(page.commit_ts)
        for raw in page.items:
            kind = _TYPES.get(raw.type)
            if kind is None:
                log.debug("%s: skipping catalog item of type %s", url, raw.type)
                continue
            items.append(
                CatalogItem(
                    raw.id, kind, canonical_ts(raw.commit_ts), raw.package_id, raw.package_version
                )
            )
    except ValueError as exc:
        raise MalformedPayload(f"{url}: {exc}", url=url) from exc
    items.sort(key=lambda item: (item.commit_ts, item.leaf_url))
    return page, items


def leaf_item(leaf: Any, url: str) -> CatalogItem:
    """The catalog event a leaf payload describes (checks it is a real leaf)."""
    if not isinstance(leaf, dict):
        raise MalformedPayload(f"{url}: catalog leaf is not a JSON object", url=url)
    types = leaf.get("@type")
    names = types if isinstance(types, list) else [types]
    kind = next((_TYPES[t] for t in names if isinstance(t, str) and t in _TYPES), None)
    package_id, version = leaf.get("id"), leaf.get("version")
    stamp = leaf.get("catalog:commitTimeStamp") or leaf.get("commitTimeStamp")
    if kind is None or not isinstance(package_id, str) or not isinstance(version, str):
        raise MalformedPayload(f"{url}: catalog leaf without @type, id or version", url=url)
    try:
        commit_ts = canonical_ts(stamp) if isinstance(stamp, str) else ""
    except ValueError as exc:
        raise MalformedPayload(f"{url}: {exc}", url=url) from exc
    return CatalogItem(str(leaf.get("@id") or url), kind, commit_ts, package_id, version)


def parse_registration_index(data: Any, url: str) -> RegistrationIndex:
    index: RegistrationIndex = _validate(RegistrationIndex, data, url, "registration index")
    return index


def parse_registration_page(data: Any, url: str) -> RegistrationPage:
    page: RegistrationPage = _validate(RegistrationPage, data, url, "registration page")
    if page.items is None:
        raise MalformedPayload(f"{url}: registration page without items", url=url)
    return page


# -- leaf -> version ------------------------------------------------------------------------


def is_listed(leaf: dict[str, Any]) -> bool:
    """`listed` when present; older leaves say unlisted only through published = 1900-01-01."""
    listed = leaf.get("listed")
    if isinstance(listed, bool):
        return listed
    published = leaf.get("published")
    return not (isinstance(published, str) and published.startswith(_UNLISTED_YEAR))


def release_date(leaf: dict[str, Any]) -> str | None:
    """`created` (first received): `published` is 1900-01-01 while a version is unlisted."""
    for key in ("created", "published"):
        value = leaf.get(key)
        if isinstance(value, str) and value and not value.startswith(("1900-01-01", "0001-01-01")):
            return value
    return None


def deprecation(leaf: dict[str, Any]) -> tuple[str | None, dict[str, Any] | None]:
    """(deprecated text, raw deprecation) from a leaf's `deprecation`."""
    raw = leaf.get("deprecation")
    if not isinstance(raw, dict):
        return None, None
    message = raw.get("message")
    reasons = [r for r in raw.get("reasons") or [] if isinstance(r, str)]
    text = message if isinstance(message, str) and message else ", ".join(reasons) or "deprecated"
    kept = {k: v for k, v in raw.items() if k in ("reasons", "message", "alternatePackage")}
    return text, kept


def license_signals(leaf: dict[str, Any]) -> dict[str, Any]:
    """licenseExpression, licenseFile (`<license type="file">`), licenseUrl and projectUrl
    exactly as published (for the classifier)."""
    return {
        key: leaf[key]
        for key in ("licenseExpression", "licenseFile", "licenseUrl", "projectUrl")
        if isinstance(leaf.get(key), str) and leaf[key]
    }


def leaf_repository(leaf: dict[str, Any]) -> str | None:
    """The repository a leaf names (string or {url}), normalised; None when absent."""
    raw = leaf.get("repository")
    if isinstance(raw, dict):
        raw = raw.get("url")
    return normalize_repository_url(raw) if isinstance(raw, str) and raw else None


def requirements(leaf: dict[str, Any], kinds: frozenset[str]) -> list[Requirement]:
    """Every target framework's group, flattened: one edge per dependency id.

    The frameworks stay on the edge (extra["frameworks"]); when they disagree on the range,
    `constraints` is the smallest single NuGet interval covering all of them and every
    framework's own range is kept in extra["ranges"] (securechain-compat.md §6-16: the old
    code read only framework-less groups and lost most dependencies).
    """
    if "runtime" not in kinds:
        return []  # NuGet dependencies are all runtime; developmentDependency is package-wide
    edges: dict[str, dict[str, Any]] = {}
    groups = leaf.get("dependencyGroups") or []
    for group in groups if isinstance(groups, list) else []:
        if not isinstance(group, dict):
            continue
        moniker = group.get("targetFramework")
        # A group without a usable moniker string applies to every framework; keep its edges.
        framework = moniker if isinstance(moniker, str) and moniker else "any"
        for dep in group.get("dependencies") or []:
            if not isinstance(dep, dict) or not isinstance(dep.get("id"), str):
                continue
            name = Ecosystem.NUGET.normalize_name(dep["id"])
            if not name:
                continue
            edge = edges.setdefault(name, {"frameworks": [], "ranges": {}})
            if framework not in edge["frameworks"]:
                edge["frameworks"].append(framework)
            raw_range = dep.get("range")
            edge["ranges"][framework] = raw_range if isinstance(raw_range, str) else ""
    result = []
    for name, edge in edges.items():
        ranges: dict[str, str] = edge["ranges"]
        distinct = list(dict.fromkeys(r.strip() for r in ranges.values()))
        extra: dict[str, Any] = {"frameworks": edge["frameworks"]}
        if len(distinct) > 1:
            extra["ranges"] = ranges
        result.append(
            Requirement(
                name=name,
                constraints=hull(distinct),
                raw_constraints=" || ".join(r for r in distinct if r),
                kind="runtime",
                extra=extra,
            )
        )
    return result


def version_record(leaf: dict[str, Any], kinds: frozenset[str]) -> VersionRecord:
    """One `nuget:PackageDetails` leaf as a version."""
    listed = is_listed(leaf)
    deprecated, raw_deprecation = deprecation(leaf)
    extra: dict[str, Any] = {"listed": listed}
    if raw_deprecation is not None:
        extra["deprecation"] = raw_deprecation
    vulnerabilities = leaf.get("vulnerabilities")
    if isinstance(vulnerabilities, list) and vulnerabilities:
        extra["vulnerabilities"] = [
            {k: v for k, v in item.items() if k in ("advisoryUrl", "severity")}
            for item in vulnerabilities
            if isinstance(item, dict)
        ]
    return VersionRecord(
        name=str(leaf["version"]),
        release_date=release_date(leaf),
        yanked=not listed,
        deprecated=deprecated,
        requirements=requirements(leaf, kinds),
        licenses=license_signals(leaf),
        extra=extra,
    )


# -- ranges ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NuGetRange:
    """A NuGet interval: bounds are None when open-ended."""

    low: str | None
    low_inclusive: bool
    high: str | None
    high_inclusive: bool

    def render(self) -> str:
        if self.low is None and self.high is None:
            return "any"
        if self.low is not None and self.low == self.high and self.low_inclusive:
            return f"[{self.low}]"
        return (
            ("[" if self.low_inclusive and self.low is not None else "(")
            + (self.low or "")
            + ", "
            + (self.high or "")
            + ("]" if self.high_inclusive and self.high is not None else ")")
        )


def parse_range(text: str) -> NuGetRange | None:
    """NuGet version range notation ("1.0", "[1.0]", "[1.0, 2.0)", "(, 2.0]"); None if not one."""
    text = text.strip()
    if not text:
        return NuGetRange(None, False, None, False)
    if text[0] not in "[(":
        return NuGetRange(text, True, None, False)  # a bare version means "at least"
    if text[-1] not in ")]":
        return None
    body = text[1:-1]
    if "," not in body:
        return NuGetRange(body.strip(), True, body.strip(), True) if text[0] == "[" else None
    low, high = (part.strip() or None for part in body.split(",", 1))
    return NuGetRange(low, text[0] == "[", high, text[-1] == "]")


def hull(ranges: list[str]) -> str:
    """The narrowest single NuGet interval containing every range ("any" when unbounded)."""
    parsed = [parse_range(r) for r in ranges if r is not None]
    if not parsed:
        return "any"
    if any(p is None for p in parsed):
        first = next(r for r in ranges if r)
        return first if first else "any"
    spans = [p for p in parsed if p is not None]
    if len(spans) == 1:  # one range: as published, unless it admits every version
        return "any" if spans[0].render() == "any" else ranges[0].strip()
    try:
        low = _bound(spans, lower=True)
        high = _bound(spans, lower=False)
    except ValueError:
        return ranges[0].strip() or "any"
    return NuGetRange(low[0], low[1], high[0], high[1]).render()


def _bound(spans: list[NuGetRange], *, lower: bool) -> tuple[str | None, bool]:
    values: list[tuple[str, bool]] = []
    for span in spans:
        bound, inclusive = (
            (span.low, span.low_inclusive) if lower else (span.high, span.high_inclusive)
        )
        if bound is None:
            return None, False  # one open end opens the hull
        values.append((bound, inclusive))
    key = Ecosystem.NUGET.version_key
    pick = min if lower else max
    best = pick(values, key=lambda v: key(v[0]))
    return best[0], any(inc for v, inc in values if key(v) == key(best[0]))


# -- nuspec ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Nuspec:
    """What ssc reads from a .nuspec: identity, repository, licence, dependency groups."""

    id: str
    version: str
    repository_url: str | None = None
    license: dict[str, str] = field(default_factory=dict)
    project_url: str | None = None
    dependencies: dict[str, list[tuple[str, str]]] = field(default_factory=dict)


def parse_nuspec(content: bytes, url: str) -> Nuspec:
    """A .nuspec with an XML parser that refuses entities and DTDs (defusedxml)."""
    try:
        root = ElementTree.fromstring(content, forbid_dtd=True)
    except Exception as exc:  # defusedxml raises ParseError or its own DefusedXmlException
        raise MalformedPayload(f"{url}: unreadable .nuspec ({exc})", url=url) from exc
    metadata = next((el for el in root if _tag(el) == "metadata"), None)
    if _tag(root) != "package" or metadata is None:
        raise MalformedPayload(f"{url}: .nuspec without package/metadata", url=url)
    fields = {_tag(el): el for el in metadata}
    package_id = (fields["id"].text or "").strip() if "id" in fields else ""
    version = (fields["version"].text or "").strip() if "version" in fields else ""
    if not package_id or not version:
        raise MalformedPayload(f"{url}: .nuspec without id or version", url=url)
    spec = Nuspec(package_id, version)
    repo = fields.get("repository")
    if repo is not None:
        spec.repository_url = normalize_repository_url(repo.get("url"))
    lic = fields.get("license")
    if lic is not None:
        spec.license = {"type": lic.get("type", ""), "value": (lic.text or "").strip()}
    if "licenseUrl" in fields and fields["licenseUrl"].text:
        spec.license["url"] = fields["licenseUrl"].text.strip()
    if "projectUrl" in fields:
        spec.project_url = (fields["projectUrl"].text or "").strip() or None
    deps = fields.get("dependencies")
    if deps is not None:
        for child in deps:
            if _tag(child) == "group":
                framework = child.get("targetFramework") or "any"
                spec.dependencies[framework] = [
                    (d.get("id", ""), d.get("version", ""))
                    for d in child
                    if _tag(d) == "dependency"
                ]
            elif _tag(child) == "dependency":  # the pre-group flat form
                spec.dependencies.setdefault("any", []).append(
                    (child.get("id", ""), child.get("version", ""))
                )
    return spec


def _tag(element: Any) -> str:
    return str(element.tag).rsplit("}", 1)[-1]


def dll_import_names(members: list[str]) -> list[str]:
    """Assembly names of a .nupkg: lib/**.dll basenames without .dll (issue 4)."""
    names = set()
    for member in members:
        path = member.replace("\\", "/")
        if path.lower().startswith("lib/") and path.lower().endswith(".dll"):
            base = path.rsplit("/", 1)[-1][: -len(".dll")]
            if base:
                names.add(base)
    return sorted(names)
