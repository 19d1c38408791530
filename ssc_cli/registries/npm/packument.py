"""Parse an npm packument (full or abbreviated) into records: pure functions, no network.

Field shapes follow npm/registry docs/responses/package-metadata.md and what real packuments
carry (reference/registries.md §2.2): `time[v]` dates, `deprecated` messages, `repository` as a
shorthand string, an object or an array, and licences as a string, a legacy object or a
`licenses` array. Dependencies belong to the version object they are read from, never to a
position in a list (securechain-compat.md §6-5).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ssc_cli.errors import MalformedPayload
from ssc_cli.models import Ecosystem, PackageRecord, Requirement, VersionRecord, serial_numbers
from ssc_cli.repository import normalize_repository_url, vendor_of

NPM = Ecosystem.NPM

# Dependency maps of a version manifest and the edge kind each becomes (settings.kinds filters).
DEPENDENCY_FIELDS: tuple[tuple[str, str], ...] = (
    ("dependencies", "runtime"),
    ("optionalDependencies", "optional"),
    ("peerDependencies", "peer"),
    ("devDependencies", "dev"),
)

# Specs that pin nothing: the solver's "any" (DESIGN.md graph contract).
_ANY_SPECS = frozenset({"", "*", "latest"})
_WILDCARD = re.compile(r"^[*xX](\.[*xX]){0,2}$")  # "x", "x.x", "*.*.*"
# A dist-tag (`next`, `beta`, `canary`): resolved at install time, so unconstrained here.
_TAG = re.compile(r"^[A-Za-z][A-Za-z0-9._-]*$")
_LOOKS_LIKE_VERSION = re.compile(r"^[vV=]?\d")
# Protocols and shapes npm accepts that name no registry range (npm-package-arg's types).
_UNRESOLVABLE_PREFIXES = (
    "file:",
    "link:",
    "workspace:",
    "portal:",
    "patch:",
    "git:",
    "git+",
    "git@",
    "http:",
    "https:",
    "github:",
    "gitlab:",
    "bitbucket:",
    "gist:",
    ".",
    "/",
    "~/",
)
# Any other `proto:` spec (pnpm's `catalog:`/`catalog:name`, `jsr:@std/path@^1`, yarn's `exec:`):
# a package manager's own resolver, never a registry range. Only `npm:` aliases are followed.
_PROTOCOL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
# `user/repo` and `user/repo#ref`: GitHub shorthand in a dependency spec.
_GITHUB_SPEC = re.compile(r"^[A-Za-z0-9-]+/[A-Za-z0-9._-]+(#.*)?$")
# `user/repo` shorthand in a repository field (hosted-git-info treats it as GitHub).
_REPO_SHORTHAND = re.compile(r"^([A-Za-z0-9-]+)/([A-Za-z0-9._-]+?)(\.git)?$")
_VALID_NAME = re.compile(r"^(@[^\s/]+/)?[^\s/@][^\s/]*$")


@dataclass(frozen=True, slots=True)
class DependencySpec:
    """What one `name: spec` entry of a manifest points at."""

    target: str
    constraints: str
    raw: str
    extra: dict[str, Any]


def parse_spec(dep_name: str, spec: object) -> DependencySpec:
    """Map an npm dependency spec to (target package, solver constraint); never raises."""
    raw = spec.strip() if isinstance(spec, str) else ("" if spec is None else str(spec))
    if raw.startswith("npm:"):
        return _alias(dep_name, raw)
    lowered = raw.lower()
    if raw in _ANY_SPECS or _WILDCARD.match(raw):
        return DependencySpec(dep_name, "any", raw, {})
    if (
        lowered.startswith(_UNRESOLVABLE_PREFIXES)
        or _PROTOCOL.match(raw)
        or _GITHUB_SPEC.match(raw)
        or "://" in raw
    ):
        return DependencySpec(dep_name, "any", raw, {"unresolvable": raw})
    if _TAG.match(raw) and not _LOOKS_LIKE_VERSION.match(raw):
        return DependencySpec(dep_name, "any", raw, {"tag": raw})
    return DependencySpec(dep_name, raw, raw, {})


def _alias(dep_name: str, raw: str) -> DependencySpec:
    """`npm:real@range` (or `npm:@scope/real@range`): an edge to the real package."""
    body = raw[len("npm:") :]
    at = body.find("@", 1)  # a leading @ belongs to the scope
    target, range_ = (body[:at], body[at + 1 :].strip()) if at > 0 else (body, "")
    target = target.strip()
    if not _VALID_NAME.match(target):
        return DependencySpec(dep_name, "any", raw, {"unresolvable": raw})
    inner = parse_spec(target, range_)
    extra = {"alias": dep_name, **inner.extra}
    return DependencySpec(NPM.normalize_name(target), inner.constraints, raw, extra)


def version_requirements(manifest: Mapping[str, Any], kinds: frozenset[str]) -> list[Requirement]:
    """The REQUIRE edges of one version manifest, for the kinds in force."""
    optional_names = _names_of(manifest.get("optionalDependencies"))
    peer_meta = manifest.get("peerDependenciesMeta")
    requirements: list[Requirement] = []
    seen: set[tuple[str, str]] = set()
    for field, kind in DEPENDENCY_FIELDS:
        if kind not in kinds:
            continue
        for dep_name, spec in _entries(manifest.get(field)):
            # npm publish copies optionalDependencies into dependencies; they stay optional
            # (npm docs: optionalDependencies override entries of the same name).
            if kind == "runtime" and dep_name in optional_names:
                continue
            if not _VALID_NAME.match(dep_name):
                continue  # not an installable name (e.g. "" or "foo bar"): no package to point at
            parsed = parse_spec(dep_name, spec)
            target = NPM.normalize_name(parsed.target)
            if (target, kind) in seen:
                continue
            seen.add((target, kind))
            optional = kind == "optional" or (
                kind == "peer" and _peer_optional(peer_meta, dep_name)
            )
            requirements.append(
                Requirement(
                    name=target,
                    constraints=parsed.constraints,
                    raw_constraints=parsed.raw,
                    kind=kind,
                    optional=optional,
                    extra=dict(parsed.extra),
                )
            )
    return requirements


def _entries(value: object) -> list[tuple[str, object]]:
    """(name, spec) pairs of a dependency map; very old manifests used arrays of names."""
    if isinstance(value, Mapping):
        return [(str(k).strip(), v) for k, v in value.items()]
    if isinstance(value, list):
        return [(item.strip(), "") for item in value if isinstance(item, str)]
    return []


def _names_of(value: object) -> set[str]:
    return {name for name, _ in _entries(value)}


def _peer_optional(meta: object, name: str) -> bool:
    if not isinstance(meta, Mapping):
        return False
    entry = meta.get(name)
    return isinstance(entry, Mapping) and entry.get("optional") is True


def repository_url(*candidates: object) -> str | None:
    """First GitHub/GitLab/Bitbucket URL among repository fields in any of their shapes."""
    for value in candidates:
        for url in _repository_strings(value):
            normalized = _normalize_repo(url)
            if normalized:
                return normalized
    return None


def _repository_strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        url = value.get("url") or value.get("web")
        return [url] if isinstance(url, str) else []
    if isinstance(value, list):
        return [s for item in value for s in _repository_strings(item)]
    return []


def _normalize_repo(url: str) -> str | None:
    text = url.strip()
    short = _REPO_SHORTHAND.match(text)
    if short and "." not in short.group(1):
        return normalize_repository_url(f"github:{short.group(1)}/{short.group(2)}")
    return normalize_repository_url(text)


def licence_signals(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """`license` and legacy `licenses`, kept raw for the classifier."""
    return {key: manifest[key] for key in ("license", "licenses") if manifest.get(key) is not None}


def deprecation(manifest: Mapping[str, Any]) -> str | None:
    """The deprecation message; "" means un-deprecated (npm deprecate pkg@v "")."""
    value = manifest.get("deprecated")
    if isinstance(value, str):
        return value.strip() or None
    if value is True:
        return "deprecated"
    return None


def parse_packument(
    doc: object, name: str, kinds: frozenset[str], *, url: str = ""
) -> PackageRecord:
    """A packument (full or corgi) as a complete PackageRecord, without import names."""
    where = url or name
    if not isinstance(doc, Mapping):
        raise MalformedPayload(
            f"npm package {name!r}: packument is not an object ({where})", url=url
        )
    versions_doc = doc.get("versions", {})
    if not isinstance(versions_doc, Mapping):
        raise MalformedPayload(
            f"npm package {name!r}: `versions` is not an object ({where})", url=url
        )
    times = doc.get("time") if isinstance(doc.get("time"), Mapping) else {}
    assert isinstance(times, Mapping)
    versions: list[VersionRecord] = []
    for version, manifest in versions_doc.items():
        if not isinstance(manifest, Mapping):
            raise MalformedPayload(
                f"npm package {name!r}: version {version!r} is not an object ({where})", url=url
            )
        released = times.get(version)
        versions.append(
            VersionRecord(
                name=str(version),
                release_date=released if isinstance(released, str) else None,
                deprecated=deprecation(manifest),
                requirements=version_requirements(manifest, kinds),
                licenses=licence_signals(manifest),
            )
        )
    latest = _latest_manifest(doc, versions_doc)
    repo = repository_url(
        doc.get("repository"),
        latest.get("repository"),
        doc.get("homepage"),
        latest.get("homepage"),
        doc.get("bugs"),
        latest.get("bugs"),
    )
    repo_url = repo or "n/a"
    rev = doc.get("_rev")
    return PackageRecord(
        ecosystem=NPM,
        name=NPM.normalize_name(name),
        versions=versions,
        repository_url=repo_url,
        vendor=vendor_of(repo_url),
        token=rev if isinstance(rev, str) and rev else None,
        complete=True,
        licenses=licence_signals(doc) or licence_signals(latest),
    )


def _latest_manifest(doc: Mapping[str, Any], versions: Mapping[str, Any]) -> Mapping[str, Any]:
    """The manifest dist-tags.latest points at (what npm hoists to the top level)."""
    tags = doc.get("dist-tags")
    latest = tags.get("latest") if isinstance(tags, Mapping) else None
    manifest = versions.get(latest) if isinstance(latest, str) else None
    return manifest if isinstance(manifest, Mapping) else {}


def newest_version(versions: Mapping[str, Any]) -> str | None:
    """Highest version under semver order; None when none parse."""
    serials = serial_numbers(NPM, versions)
    ordered = [v for v, s in sorted(serials.items(), key=lambda kv: kv[1]) if s >= 0]
    return ordered[-1] if ordered else None


def import_version(doc: Mapping[str, Any]) -> str | None:
    """The version whose tarball gives import names: dist-tags.latest, else the highest.

    `latest` is what `npm install name` gets; the highest version can be a prerelease or a
    backport published under another tag.
    """
    versions = doc.get("versions")
    if not isinstance(versions, Mapping):
        return None
    tags = doc.get("dist-tags")
    latest = tags.get("latest") if isinstance(tags, Mapping) else None
    if isinstance(latest, str) and isinstance(versions.get(latest), Mapping):
        return latest
    return newest_version(versions)


def is_unpublished(doc: Mapping[str, Any]) -> bool:
    """A fully unpublished package: no versions left and `time.unpublished` set."""
    times = doc.get("time")
    return not doc.get("versions") and isinstance(times, Mapping) and "unpublished" in times


def rev_generation(rev: str | None) -> int:
    """The generation number of a CouchDB revision ("12-abc" -> 12); 0 when unknown."""
    if not rev:
        return 0
    head = rev.split("-", 1)[0]
    return int(head) if head.isdigit() else 0


_CODE_SUFFIXES = (".mjs", ".cjs", ".js", ".ts")
_DECLARATION_SUFFIXES = (".d.ts", ".d.mts", ".d.cts")
# Folders whose files are not part of a package's importable surface.
_SKIPPED_DIRS = frozenset(
    {"node_modules", "test", "tests", "__tests__", "spec", "__mocks__", "example", "examples"}
)
# Bound per package: the biggest packages ship thousands of modules; the first ones
# (sorted) are what a reader of the graph needs, and node properties must stay small.
MAX_IMPORT_NAMES = 1000


def import_names_from_members(name: str, members: list[str]) -> list[str]:
    """Import specifiers from a tarball's member names (securechain-compat.md §4.2).

    `package/index.js` -> `name`; `package/lib/x.js` -> `name/lib/x`; `package/lib/index.js`
    -> `name/lib` (how Node resolves a directory). Type declarations (.d.ts), minified
    bundles, tests, examples, dot-folders and nested node_modules are left out.
    """
    found: set[str] = set()
    for member in members:
        parts = [p for p in member.replace("\\", "/").split("/") if p and p != "."]
        if len(parts) < 2:
            continue  # the tarball's top folder itself, or a stray root file
        path = parts[1:]  # drop "package/" (old tarballs use other top folder names)
        filename = path[-1]
        if filename.endswith(_DECLARATION_SUFFIXES) or filename.endswith(".min.js"):
            continue
        suffix = next((s for s in _CODE_SUFFIXES if filename.endswith(s)), None)
        if suffix is None:
            continue
        if any(
            d in _SKIPPED_DIRS or d.startswith(".") or "internal" in d.lower() for d in path[:-1]
        ):
            continue
        stem = filename[: -len(suffix)]
        if not stem or stem.startswith("."):
            continue
        module = [*path[:-1], stem] if stem != "index" else path[:-1]
        found.add("/".join([name, *module]))
    return sorted(found)[:MAX_IMPORT_NAMES]
