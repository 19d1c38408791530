"""Ecosystems and the records every registry client produces and every graph store writes."""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from packageurl import PackageURL
from packageurl import quote as purl_quote


def pep503_name(name: str) -> str:
    """A PyPI name normalised as PEP 503 says: runs of `-`, `_`, `.` as one `-`, lower case.

    packaging.utils.canonicalize_name's own steps (tests/test_models.py compares the two), written
    out so that a command that reads no version does not load packaging (issue 8)."""
    value = name.lower().replace("_", "-").replace(".", "-")
    while "--" in value:
        value = value.replace("--", "-")
    return value


class Ecosystem(enum.StrEnum):
    """One package registry, named as on the command line."""

    PYPI = "pypi"
    NPM = "npm"
    MAVEN = "maven"
    NUGET = "nuget"
    CARGO = "cargo"
    RUBYGEMS = "rubygems"

    @classmethod
    def parse(cls, text: str) -> Ecosystem:
        """Accept the command-line names, the graph labels and the documented aliases."""
        key = text.strip().lower()
        for eco in cls:
            if key in (eco.value, eco.label.lower(), eco.purl_type):
                return eco
        alias = {
            "crates": cls.CARGO,
            "crates.io": cls.CARGO,
            "gem": cls.RUBYGEMS,
            "gems": cls.RUBYGEMS,
        }
        if key in alias:
            return alias[key]
        names = ", ".join(e.value for e in cls)
        raise ValueError(f"unknown ecosystem {text!r}; use one of {names}")

    @property
    def label(self) -> str:
        """Neo4j label of this ecosystem's package nodes (the SecureChain node_type)."""
        return _LABELS[self]

    @property
    def purl_type(self) -> str:
        return _PURL_TYPES[self]

    def normalize_name(self, name: str) -> str:
        """The graph's spelling of a package name (DESIGN.md, graph contract)."""
        name = name.strip()
        if self is Ecosystem.PYPI:
            return pep503_name(name)
        if self in (Ecosystem.NUGET, Ecosystem.CARGO, Ecosystem.RUBYGEMS):
            return name.lower()
        return name  # npm as published (legacy mixed-case names exist), maven group:artifact

    def purl(self, name: str, version: str | None = None) -> str:
        """Package URL of a package, or of one of its versions."""
        base = _package_purl(self, name)
        # What PackageURL.to_string does with a version, without rebuilding the whole purl.
        return f"{base}@{purl_quote(version.strip())}" if version else base

    def version_key(self, version: str) -> Any:
        """A sortable key under this ecosystem's version scheme; raises ValueError when unparseable.

        univers orders its Version objects by their `value` attribute (attrs order on that one
        field), so the value itself is the key: same order, without attrs' comparison overhead.
        """
        return _version_value(self, version)


@functools.lru_cache(maxsize=262_144)
def _package_purl(ecosystem: Ecosystem, name: str) -> str:
    namespace: str | None = None
    short = name
    if ecosystem is Ecosystem.MAVEN:
        namespace, _, short = name.partition(":")
    elif ecosystem is Ecosystem.NPM and name.startswith("@") and "/" in name:
        namespace, _, short = name.partition("/")
    purl = str(PackageURL(type=ecosystem.purl_type, namespace=namespace, name=short))
    if ecosystem is Ecosystem.NPM and short != short.lower():
        # packageurl lower-cases npm names, but legacy npm names can differ only by case
        # (JSONStream and jsonstream are two packages) and the purl is the graph's unique key.
        purl = f"{purl.rpartition('/')[0]}/{purl_quote(short.strip())}"
    return purl


@functools.lru_cache(maxsize=262_144)
def _version_value(ecosystem: Ecosystem, version: str) -> Any:
    try:
        value = _version_classes()[ecosystem](version).value
    except Exception as exc:  # univers raises InvalidVersion, ValueError or TypeError
        raise ValueError(f"unparseable {ecosystem.value} version {version!r}") from exc
    if value is None:  # univers' NuGetVersion("V"): no error, and a key that cannot be compared
        raise ValueError(f"unparseable {ecosystem.value} version {version!r}")
    return value


_LABELS = {
    Ecosystem.PYPI: "PyPIPackage",
    Ecosystem.NPM: "NPMPackage",
    Ecosystem.MAVEN: "MavenPackage",
    Ecosystem.NUGET: "NuGetPackage",
    Ecosystem.CARGO: "CargoPackage",
    Ecosystem.RUBYGEMS: "RubyGemsPackage",
}
_PURL_TYPES = {
    Ecosystem.PYPI: "pypi",
    Ecosystem.NPM: "npm",
    Ecosystem.MAVEN: "maven",
    Ecosystem.NUGET: "nuget",
    Ecosystem.CARGO: "cargo",
    Ecosystem.RUBYGEMS: "gem",
}


@functools.cache
def _version_classes() -> dict[Ecosystem, Any]:
    """univers loads on the first version compared: `ssc --help` must stay fast (issue 8)."""
    from univers import versions as uv

    return {
        Ecosystem.PYPI: uv.PypiVersion,
        Ecosystem.NPM: uv.SemverVersion,
        Ecosystem.MAVEN: uv.MavenVersion,
        Ecosystem.NUGET: uv.NugetVersion,
        Ecosystem.CARGO: uv.SemverVersion,
        Ecosystem.RUBYGEMS: uv.RubygemsVersion,
    }


def serial_numbers(ecosystem: Ecosystem, names: Iterable[str]) -> dict[str, int]:
    """0-based order of versions under the ecosystem's scheme; -1 for the unparseable ones."""
    parsed: list[tuple[Any, str]] = []
    serials: dict[str, int] = {}
    for name in names:
        try:
            parsed.append((ecosystem.version_key(name), name))
        except ValueError:
            serials[name] = -1
    parsed.sort(key=lambda pair: pair[1])  # equal versions ("1.0" vs "1.0.0") keep a stable order
    parsed.sort(key=lambda pair: pair[0])
    for index, (_, name) in enumerate(parsed):
        serials[name] = index
    return serials


@dataclass(slots=True)
class Requirement:
    """One declared dependency of a version: becomes a REQUIRE edge to the target package."""

    name: str
    constraints: str = "any"
    raw_constraints: str = ""
    marker: str | None = None
    kind: str = "runtime"
    optional: bool = False
    target: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Identity of the edge among the edges between one version and one package."""
        return f"{self.kind}|{self.marker or ''}|{self.target or ''}"


@dataclass(slots=True)
class VersionRecord:
    """One published version as a registry describes it."""

    name: str
    release_date: str | None = None
    yanked: bool = False
    deprecated: str | None = None
    # None: the version's own metadata was not read this time (PyPI reads it for new versions
    # only): its stored edges, and its licences when none are given, stay as they are.
    requirements: list[Requirement] | None = None
    licenses: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    # Vulnerability attribution (ssc_cli.vulns); unscored_vulnerabilities None: not attributed
    # this time, the stored advisories and scores stay as they are.
    vulnerabilities: list[str] | None = None
    mean: float = 0.0
    weighted_mean: float = 0.0
    unscored_vulnerabilities: int | None = None


@dataclass(slots=True)
class PackageRecord:
    """One package with its versions, ready to be written to the graph."""

    ecosystem: Ecosystem
    name: str
    versions: list[VersionRecord] = field(default_factory=list)
    repository_url: str = "n/a"
    vendor: str = "n/a"
    # None: not read this time (SSC_IMPORT_NAMES off); the stored names stay as they are.
    import_names: list[str] | None = None
    # Registry change marker (PyPI last_serial, ...) compared by the next update.
    token: str | None = None
    # True when `versions` is the registry's whole list: stored versions missing from it go.
    complete: bool = True
    licenses: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def purl(self) -> str:
        return self.ecosystem.purl(self.name)


@dataclass(frozen=True, slots=True)
class KnownPackage:
    """What the graph already holds of a package: lets a client skip per-version requests."""

    status: str
    token: str | None
    versions: frozenset[str]


def read_names_file(text: str, problem: Callable[[str], str | None]) -> list[str]:
    """Names from a file: one per line (blank lines and # comments ignored) or a JSON array.

    An entry `problem` finds no name for (the registry's naming rule) is an error naming its
    line, never dropped: a names file lists what must be ingested, and a shorter list loses it.
    """
    stripped = text.lstrip()
    if stripped.startswith("["):
        from ssc_cli import json_payload

        data = json_payload.loads(stripped)
        if not isinstance(data, list) or not all(isinstance(item, str) for item in data):
            raise ValueError("a JSON names file must be an array of strings")
        entries = [(f"item {i}", item.strip()) for i, item in enumerate(data, 1)]
    else:
        lines = enumerate(text.splitlines(), 1)
        entries = [(f"line {n}", line.split("#", 1)[0].strip()) for n, line in lines]
    names = [name for _, name in entries if name]
    bad = [f"{where}: {why}" for where, name in entries if name and (why := problem(name))]
    if bad:
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        raise ValueError(f"{'; '.join(bad[:3])}{more} (fix or remove them; # starts a comment)")
    return names


# -- licences: what the classifier reads and what the stores keep of its verdicts ---------------


@dataclass(frozen=True, slots=True)
class LicenseTerm:
    """One published licence signal, as an ecosystem's rules hand it to the classifier.

    kind: "text" (an SPDX expression, a licence name or a whole licence text), "url",
    "classifier" (a PyPI trove classifier) or "marker" (value: "license-file", "nonstandard").
    """

    kind: str
    value: str


@dataclass(frozen=True, slots=True)
class LicenseGroup:
    """Signals combined under one rule.

    mode: "or" (a choice: Maven's list, npm's legacy licenses[]), "unspecified" (a list whose
    relation nobody states: RubyGems' licenses[], several PyPI classifiers), "first" (the first
    part that names a licence: a POM <license>'s name, then its URL), "corroborate" (the first
    part unless the second contradicts it: PyPI classifiers, then the License field).
    """

    mode: str
    parts: tuple[LicenseTerm | LicenseGroup, ...]


@dataclass(frozen=True, slots=True)
class LicenseEvidence:
    """A version's licence signals read by its ecosystem's rules; `raw` is what was published."""

    root: LicenseTerm | LicenseGroup | None
    raw: str | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """The classifier's answer for one set of signals, with the reason a reviewer can audit."""

    status: str  # open_source / proprietary / unknown
    reason: str
    expression: str | None = None  # normalised SPDX expression, when one can be stated
    raw: str | None = None
    ids: tuple[str, ...] = ()  # SPDX ids the verdict rests on


@dataclass(slots=True)
class VersionLicenseInput:
    """A stored version as the classifier needs it."""

    purl: str
    name: str
    serial_number: int
    yanked: bool
    licenses: str | None  # the stored signals (JSON text), None when none were read
    oss_status: str | None = None  # its own stored verdict; None: it shares the package's


@dataclass(slots=True)
class PackageLicenseInput:
    """A stored package, its versions' signals and what was last decided for it."""

    purl: str
    name: str
    licenses: str | None
    versions: list[VersionLicenseInput]
    digest: str | None = None  # of the signals the stored verdict was computed from
    list_version: str | None = None
    oss_status: str | None = None
    cursor: str = ""  # where the next page starts (the store's keyset; the purl by default)

    def __post_init__(self) -> None:
        self.cursor = self.cursor or self.purl


@dataclass(slots=True)
class Classification:
    """What to write for one package: its verdict, and each version's own verdict or None."""

    purl: str
    verdict: Verdict
    digest: str
    versions: list[tuple[str, Verdict | None]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class LicenseRecord:
    """One entry of the SPDX licence list (an exception when is_exception)."""

    spdx_id: str
    name: str
    osi_approved: bool = False
    fsf_libre: bool | None = None  # absent in the list is not False
    deprecated: bool = False
    see_also: tuple[str, ...] = ()
    is_exception: bool = False


@dataclass(frozen=True, slots=True)
class LicenseListInfo:
    """The stored SPDX list: its version, and live counts of what the store holds of it."""

    version: str
    release_date: str | None
    synced_at: str | None
    licenses: int
    osi_approved: int
    exceptions: int
