"""Parsers of the RubyGems compact index: the `/versions` file and the `/info/<gem>` files.

Formats: registries.md §6.2 and the `compact_index` gem that rubygems.org serves them with.
`/versions`: header lines (`created_at: …`) until `---`, then `GEM [-]VER[-PLATFORM][,…] MD5`
lines; a leading `-` marks a yank and later lines for a gem override earlier ones (the MD5 is
that of the gem's current `/info` file). `/info/<gem>`: `---`, then one line per live
(non-yanked) version and platform: `VER[-PLATFORM] DEP:REQ&REQ,…|checksum:…,ruby:…,created_at:…`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from ssc_cli.errors import MalformedPayload

SEPARATOR = b"---\n"
RUBY = "ruby"
# RubyGems' default requirement: a dependency declared without a version constraint.
UNCONSTRAINED = ">= 0"


def split_token(token: str) -> tuple[str, str]:
    """(number, platform) of `1.2.3` or `1.2.3-x86_64-linux`: the first `-` splits (§6.3)."""
    number, dash, platform = token.partition("-")
    return number, (platform if dash and platform else RUBY)


def gem_constraints(parts: Iterable[str]) -> str:
    """Requirement parts joined as RubyGems prints them (`>= 1.0, < 2`); `any` when unconstrained.

    `>= 0` alone is what RubyGems records for a dependency declared without a version, so it
    becomes `any` like every other ecosystem's unconstrained edge; the raw text stays on the edge.
    """
    cleaned = [p.strip() for p in parts if p.strip()]
    if not cleaned or cleaned == [UNCONSTRAINED]:
        return "any"
    return ", ".join(cleaned)


# -- /versions ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VersionsLine:
    """One line of `/versions` after the header."""

    name: str
    tokens: tuple[str, ...]  # `1.0`, `1.0-java`, `-1.0` (yanked)
    md5: str


def split_header(data: bytes, url: str) -> tuple[dict[str, str], int]:
    """The header fields (`created_at`) and the byte offset where gem lines start."""
    if data.startswith(SEPARATOR):
        return {}, len(SEPARATOR)
    at = data.find(b"\n" + SEPARATOR)
    if at < 0:
        raise MalformedPayload(f"{url}: no `---` line ends the versions header", url=url)
    fields: dict[str, str] = {}
    for raw in data[:at].decode("utf-8", errors="replace").splitlines():
        key, colon, value = raw.partition(":")
        if colon:
            fields[key.strip()] = value.strip()
    return fields, at + 1 + len(SEPARATOR)


def parse_versions_lines(text: str, url: str) -> Iterator[VersionsLine]:
    """Gem lines of a `/versions` body (without the header); the `---` line is never a gem."""
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line == "---":
            continue
        parts = line.split(" ")
        if len(parts) != 3 or not parts[0] or not parts[1]:
            raise MalformedPayload(
                f"{url}: versions line {number} is not `GEM VERSIONS MD5`: {line[:120]!r}",
                url=url,
            )
        name, versions, md5 = parts
        tokens = tuple(t for t in versions.split(",") if t)
        yield VersionsLine(name, tokens, md5)


@dataclass(slots=True)
class GemEntry:
    """One gem's state after replaying `/versions`: live version tokens and the latest MD5."""

    name: str  # spelling as published (gem names are case-sensitive on the wire)
    live: dict[str, None] = field(default_factory=dict)  # insertion-ordered set of tokens
    md5: str = ""


class VersionsIndex:
    """Replays `/versions` lines in order: later lines add versions, `-VER` yanks, MD5 overrides."""

    def __init__(self) -> None:
        self.gems: dict[str, GemEntry] = {}

    def apply(self, line: VersionsLine) -> None:
        entry = self.gems.get(line.name)
        if entry is None:
            entry = self.gems[line.name] = GemEntry(line.name)
        for token in line.tokens:
            if token.startswith("-"):
                entry.live.pop(token[1:], None)
            else:
                entry.live[token] = None
        entry.md5 = line.md5

    def extend(self, lines: Iterable[VersionsLine]) -> VersionsIndex:
        for line in lines:
            self.apply(line)
        return self

    def names(self) -> Iterator[str]:
        """Gems with at least one live version, in first-seen order."""
        return (entry.name for entry in self.gems.values() if entry.live)


# -- /info/<gem> ----------------------------------------------------------------------------


@dataclass(slots=True)
class InfoEntry:
    """One line of an `/info/<gem>` file: a version on one platform."""

    number: str
    platform: str
    dependencies: list[tuple[str, list[str]]]  # (gem as published, requirement parts)
    checksum: str | None = None
    created_at: str | None = None
    ruby: str | None = None
    rubygems: str | None = None


def parse_info(text: str, url: str) -> list[InfoEntry]:
    """Every version line of an `/info/<gem>` body; runtime dependencies only (by format)."""
    entries: list[InfoEntry] = []
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise MalformedPayload(f"{url}: compact index info does not start with `---`", url=url)
    for number, raw in enumerate(lines[1:], start=2):
        line = raw.rstrip()
        if not line:
            continue
        head, bar, tail = line.partition("|")
        if not bar:
            raise MalformedPayload(f"{url}: info line {number} has no `|`: {line[:120]!r}", url=url)
        token, _, deps_text = head.partition(" ")
        if not token:
            raise MalformedPayload(f"{url}: info line {number} has no version", url=url)
        version, platform = split_token(token)
        entry = InfoEntry(version, platform, _parse_dependencies(deps_text, url, number))
        for item in tail.split(","):
            key, colon, value = item.partition(":")
            if not colon:
                continue
            key = key.strip()
            if key == "checksum":
                entry.checksum = value
            elif key == "created_at":
                entry.created_at = value
            elif key == "ruby":
                entry.ruby = value.replace("&", ", ")
            elif key == "rubygems":
                entry.rubygems = value.replace("&", ", ")
        entries.append(entry)
    return entries


def _parse_dependencies(text: str, url: str, number: int) -> list[tuple[str, list[str]]]:
    deps: list[tuple[str, list[str]]] = []
    for item in text.strip().split(","):
        if not item:
            continue
        name, colon, requirement = item.partition(":")
        if not colon or not name:
            raise MalformedPayload(
                f"{url}: info line {number} has a malformed dependency {item!r}", url=url
            )
        deps.append((name, requirement.split("&")))
    return deps
