"""From parsed RubyGems payloads to records: one Version per number, platforms collapsed.

Pure functions (no HTTP) so the real payloads of ../shared/fixtures can be checked through
exactly the code the client runs.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, TypeAdapter

from ssc_cli.models import Ecosystem, Requirement, VersionRecord
from ssc_cli.registries.rubygems.compact_index import RUBY, InfoEntry, gem_constraints
from ssc_cli.repository import normalize_repository_url

ECO = Ecosystem.RUBYGEMS
# Gem::Version#prerelease?: any letter in the version string ("2.0.0.rc1", "1.0.0.pre").
_PRERELEASE = re.compile(r"[A-Za-z]")
# Where a gem points at its source, most specific first (ecosyste.ms' order, registries.md §6.2).
REPOSITORY_KEYS = (
    "source_code_uri",
    "homepage_uri",
    "bug_tracker_uri",
    "changelog_uri",
    "documentation_uri",
    "wiki_uri",
)


class ApiVersion(BaseModel):
    """One entry of `/api/v1/versions/<gem>.json`: one version on one platform."""

    model_config = ConfigDict(extra="ignore")

    number: str
    platform: str = RUBY
    created_at: str | None = None
    licenses: list[str] | None = None
    metadata: dict[str, Any] | None = None


class ApiGem(BaseModel):
    """The fields of `/api/v1/gems/<gem>.json` that can name a repository."""

    model_config = ConfigDict(extra="ignore")

    name: str | None = None
    source_code_uri: str | None = None
    homepage_uri: str | None = None
    bug_tracker_uri: str | None = None
    changelog_uri: str | None = None
    documentation_uri: str | None = None
    wiki_uri: str | None = None
    metadata: dict[str, Any] | None = None
    licenses: list[str] | None = None

    def repository(self) -> str | None:
        fields = {key: getattr(self, key) for key in REPOSITORY_KEYS}
        return first_repository(fields) or first_repository(self.metadata or {})


class ApiDependency(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    requirements: str = ">= 0"


class ApiDependencies(BaseModel):
    model_config = ConfigDict(extra="ignore")

    runtime: list[ApiDependency] = []
    development: list[ApiDependency] = []


class ApiVersionDetail(BaseModel):
    """`/api/v2/rubygems/<gem>/versions/<v>.json`: read for development dependencies only."""

    model_config = ConfigDict(extra="ignore")

    number: str | None = None
    dependencies: ApiDependencies = ApiDependencies()


API_VERSIONS = TypeAdapter(list[ApiVersion])


def group_entries(entries: list[InfoEntry]) -> dict[str, list[InfoEntry]]:
    """/info lines by version number, in the file's (publication) order."""
    grouped: dict[str, list[InfoEntry]] = {}
    for entry in entries:
        grouped.setdefault(entry.number, []).append(entry)
    return grouped


def base_entry(group: list[InfoEntry]) -> InfoEntry:
    """The `ruby` (source) build of a version, else its first platform by name."""
    for entry in group:
        if entry.platform == RUBY:
            return entry
    return min(group, key=lambda e: e.platform)


def newest(numbers: list[str]) -> str | None:
    """Highest version under RubyGems ordering; the last published if none parses."""
    parsed = []
    for number in numbers:
        try:
            parsed.append((ECO.version_key(number), number))
        except ValueError:
            continue
    if parsed:
        return max(parsed, key=lambda pair: pair[0])[1]
    return numbers[-1] if numbers else None


def newest_release(numbers: list[str]) -> str | None:
    """Highest version that is not a prerelease (a letter in it, as Gem::Version#prerelease?).

    What `gem install name` picks; the newest prerelease only when a gem has nothing else.
    """
    return newest([n for n in numbers if not _PRERELEASE.search(n)]) or newest(numbers)


def licenses(api: ApiVersion | None) -> dict[str, Any]:
    """Raw licence signal of one version (kept as published for the classifier)."""
    if api is None or api.licenses is None:
        return {}
    return {"licenses": list(api.licenses)}


def first_repository(fields: dict[str, Any]) -> str | None:
    for key in REPOSITORY_KEYS:
        value = fields.get(key)
        if isinstance(value, str):
            url = normalize_repository_url(value)
            if url is not None:
                return url
    return None


def collapse_versions(
    grouped: dict[str, list[InfoEntry]],
    api: list[ApiVersion],
    *,
    runtime: bool = True,
) -> list[VersionRecord]:
    """One VersionRecord per number: platforms listed, dates and licences from the base build."""
    by_key = {(v.number, v.platform): v for v in api}
    records = []
    for number, group in grouped.items():
        base = base_entry(group)
        platforms = sorted({e.platform for e in group}, key=lambda p: (p != RUBY, p))
        api_base = by_key.get((number, base.platform))
        dates = [e.created_at for e in group if e.created_at]
        dates += [
            a.created_at for p in platforms if (a := by_key.get((number, p))) and a.created_at
        ]
        release = base.created_at or (api_base.created_at if api_base else None)
        extra: dict[str, Any] = {"platforms": platforms}
        if base.ruby:
            extra["required_ruby_version"] = base.ruby
        records.append(
            VersionRecord(
                name=number,
                release_date=release or (min(dates) if dates else None),
                requirements=runtime_requirements(base, group) if runtime else [],
                licenses=licenses(api_base),
                extra=extra,
            )
        )
    return records


def runtime_requirements(base: InfoEntry, group: list[InfoEntry]) -> list[Requirement]:
    """The base build's dependencies; one only another platform declares keeps it as `target`.

    `raw_constraints` is the compact index's text (`< 2&>= 0.7`); `constraints` is RubyGems'
    own spelling (`< 2, >= 0.7`), which univers' GemVersionRange parses.
    """
    result: list[Requirement] = []
    seen: set[tuple[str, str, str | None]] = set()
    base_deps = {(dep, "&".join(parts)) for dep, parts in base.dependencies}
    ordered = [base, *sorted((e for e in group if e is not base), key=lambda e: e.platform)]
    for entry in ordered:
        target = None if entry is base else entry.platform
        for dep, parts in entry.dependencies:
            raw_text = "&".join(parts)
            if target is not None and (dep, raw_text) in base_deps:
                continue
            key = (ECO.normalize_name(dep), raw_text, target)
            if key in seen:
                continue
            seen.add(key)
            result.append(
                Requirement(
                    name=key[0],
                    constraints=gem_constraints(parts),
                    raw_constraints=raw_text,
                    kind="runtime",
                    target=target,
                )
            )
    return result


def development_requirements(detail: ApiVersionDetail) -> list[Requirement]:
    """Development dependencies of one version (API v2), as `dev` edges."""
    return [
        Requirement(
            name=ECO.normalize_name(dep.name),
            constraints=gem_constraints(dep.requirements.split(",")),
            raw_constraints=dep.requirements,
            kind="dev",
        )
        for dep in detail.dependencies.development
    ]
