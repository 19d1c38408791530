"""crates.io payloads: sparse index files, web API crate documents, dependency rows, .crate files."""

from __future__ import annotations

import io
import re
import tarfile
import tomllib
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ssc_cli import json_payload
from ssc_cli.errors import MalformedPayload, PackageNotFound
from ssc_cli.models import Ecosystem, Requirement
from ssc_cli.registries.cargo.dump import iso_utc, kind_name

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MANIFEST_CAP = 1024 * 1024


@dataclass(frozen=True, slots=True)
class CargoDependency:
    """One declared dependency, whichever payload it came from."""

    crate: str  # the real crate (index `package`, dump crate_id), not the alias
    req: str
    kind: str  # runtime | optional | build | dev
    optional: bool
    target: str | None = None
    alias: str | None = None  # the name the dependent uses (index `name`, dump explicit_name)


@dataclass(slots=True)
class IndexVersion:
    """One line of a sparse index file."""

    num: str
    yanked: bool
    pubtime: str | None
    dependencies: list[CargoDependency] = field(default_factory=list)


@dataclass(slots=True)
class IndexCrate:
    """A whole sparse index file: the crate's spelling and every published version."""

    name: str
    versions: list[IndexVersion]


@dataclass(slots=True)
class ApiVersion:
    """What the web API adds to an index line: licence and publish time."""

    num: str
    created_at: str | None
    license: str | None
    yanked: bool


@dataclass(slots=True)
class ApiCrate:
    """`GET /api/v1/crates/{name}`: repository links and (when included) versions."""

    name: str
    repository: str | None
    homepage: str | None
    versions: list[ApiVersion]


def index_path(name: str) -> str:
    """Sparse index path of a crate: 1/a, 2/ab, 3/a/abc, ab/cd/abcd… (registries.md §5)."""
    lower = name.strip().lower()
    if not lower:
        raise ValueError("empty crate name")
    if len(lower) == 1:
        return f"1/{lower}"
    if len(lower) == 2:
        return f"2/{lower}"
    if len(lower) == 3:
        return f"3/{lower[0]}/{lower}"
    return f"{lower[:2]}/{lower[2:4]}/{lower}"


def parse_index_file(text: str, name: str, url: str) -> IndexCrate:
    """Newline-delimited JSON, one object per version; `kind: null` is a normal dependency."""
    versions: list[IndexVersion] = []
    spelled = name
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json_payload.loads(line)
            num = str(entry["vers"])
            spelled = str(entry.get("name") or spelled)
            deps = [_index_dependency(dep) for dep in entry.get("deps") or []]
            pubtime = entry.get("pubtime")
            version = IndexVersion(
                num, bool(entry.get("yanked")), iso_utc(str(pubtime) if pubtime else None), deps
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise MalformedPayload(
                f"crate {name!r}: sparse index line {number} is unusable ({exc}) at {url}", url=url
            ) from exc
        versions.append(version)
    if not versions:
        raise MalformedPayload(f"crate {name!r}: empty sparse index file at {url}", url=url)
    return IndexCrate(spelled, versions)


def _target(value: Any) -> str | None:
    """A dependency's `target` is a cfg string or null; anything else is a malformed line."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise TypeError(f"dependency target {value!r} is not a string")
    return value


def _index_dependency(dep: dict[str, Any]) -> CargoDependency:
    alias = str(dep["name"])
    real = dep.get("package")
    optional = bool(dep.get("optional"))
    return CargoDependency(
        crate=str(real) if real else alias,
        req=str(dep.get("req") or ""),
        kind=kind_name(dep.get("kind"), optional),
        optional=optional,
        target=_target(dep.get("target")),
        alias=alias if real and str(real) != alias else None,
    )


def parse_api_crate(payload: Any, name: str, url: str) -> ApiCrate:
    """The API's crate document; its `{"errors": [{"detail": "Not Found"}]}` body is a 404."""
    if isinstance(payload, dict) and payload.get("errors"):
        errors = payload["errors"]
        details = "; ".join(
            str(e.get("detail", e)) if isinstance(e, dict) else str(e)
            for e in (errors if isinstance(errors, list) else [errors])
            if e
        )
        if "not found" in details.lower():
            raise PackageNotFound(f"cargo package {name!r} does not exist", url=url)
        raise MalformedPayload(f"crate {name!r}: API error {details!r} at {url}", url=url)
    try:
        crate = payload["crate"]
        versions = [
            ApiVersion(
                str(v["num"]),
                iso_utc(v.get("created_at")),
                v.get("license") or None,
                bool(v.get("yanked")),
            )
            for v in payload.get("versions") or []
            if isinstance(v, dict)
        ]
        return ApiCrate(
            str(crate.get("name") or crate["id"]),
            crate.get("repository") or None,
            crate.get("homepage") or None,
            versions,
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise MalformedPayload(
            f"crate {name!r}: unusable API document ({exc}) at {url}", url=url
        ) from exc


def parse_api_dependencies(payload: Any, name: str, url: str) -> list[CargoDependency]:
    """`GET /api/v1/crates/{name}/{version}/dependencies`: `crate_id` is the real crate.

    ssc never asks for it (one request per version at ≤ 1/s; the dump and the index carry the
    same rows); it is parsed so the API's shape is pinned by the conformance suite.
    """
    try:
        return [
            CargoDependency(
                crate=str(dep["crate_id"]),
                req=str(dep.get("req") or ""),
                kind=kind_name(dep.get("kind"), bool(dep.get("optional"))),
                optional=bool(dep.get("optional")),
                target=_target(dep.get("target")),
            )
            for dep in payload["dependencies"]
        ]
    except (KeyError, TypeError, AttributeError) as exc:
        raise MalformedPayload(
            f"crate {name!r}: unusable dependencies document ({exc}) at {url}", url=url
        ) from exc


def requirements(deps: Iterable[CargoDependency], kinds: frozenset[str]) -> list[Requirement]:
    """REQUIRE edges of one version: the kinds asked for, one edge per (crate, kind, target).

    A version may name the same crate twice under one kind and target (two aliases of two
    majors); the edge keeps the unrenamed (else first-sorted) requirement and lists the others
    under `extra["also"]`.
    """
    edges: dict[tuple[str, str, str], Requirement] = {}
    chosen = sorted(
        (d for d in deps if d.kind in kinds),
        key=lambda d: (d.crate.lower(), d.kind, d.target or "", d.alias or "", d.req),
    )
    for dep in chosen:
        target = Ecosystem.CARGO.normalize_name(dep.crate)
        key = (target, dep.kind, dep.target or "")
        if key in edges:
            edges[key].extra.setdefault("also", []).append(dep.req)
            continue
        req = dep.req.strip()
        extra: dict[str, Any] = {"alias": dep.alias} if dep.alias else {}
        edges[key] = Requirement(
            name=target,
            constraints="any" if req in ("", "*") else req,
            raw_constraints=dep.req,
            kind=dep.kind,
            optional=dep.optional,
            target=dep.target,
            extra=extra,
        )
    return list(edges.values())


def crate_import_names(data: bytes, crate: str, *, max_entries: int) -> list[str]:
    """Import names in a .crate: the lib name, and `lib::module` for each top-level module file.

    Modules are the lib's sibling `*.rs` files and `*/mod.rs` directories (the 2015 and 2018
    layouts); a crate without a library target (binaries only) cannot be imported and has none.
    """
    lib_name = crate.replace("-", "_")
    lib_path = "src/lib.rs"
    declared_lib = False
    files: list[str] = []
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r|gz") as archive:
            for count, member in enumerate(archive, 1):
                if count > max_entries:
                    break
                _, _, rel = member.name.partition("/")
                if member.isfile():
                    files.append(rel)
                if rel == "Cargo.toml" and member.isfile() and member.size <= _MANIFEST_CAP:
                    stream = archive.extractfile(member)
                    if stream is not None:
                        lib = _lib_section(stream.read())
                        if lib is not None:
                            declared_lib = True
                            lib_name = str(lib.get("name") or lib_name).replace("-", "_")
                            lib_path = str(lib.get("path") or lib_path).removeprefix("./")
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise MalformedPayload(f"crate {crate!r}: unreadable .crate archive ({exc})") from exc
    if not declared_lib and lib_path not in files:
        return []
    base = lib_path.rsplit("/", 1)[0] + "/" if "/" in lib_path else ""
    modules: set[str] = set()
    for rel in files:
        if not rel.startswith(base):
            continue
        parts = rel[len(base) :].split("/")
        if len(parts) == 1 and parts[0].endswith(".rs"):
            module = parts[0][:-3]
        elif len(parts) == 2 and parts[1] == "mod.rs":
            module = parts[0]
        else:
            continue
        if rel != lib_path and module not in ("lib", "main") and _IDENT.match(module):
            modules.add(module)
    return [lib_name] + [f"{lib_name}::{m}" for m in sorted(modules)]


def _lib_section(manifest: bytes) -> dict[str, Any] | None:
    try:
        lib = tomllib.loads(manifest.decode("utf-8")).get("lib")
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None
    return lib if isinstance(lib, dict) else None
