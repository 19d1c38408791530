"""Registries of realistic shape at scale: a deterministic universe of packages, built lazily.

A `Universe` is n packages whose version counts, dependency counts, name lengths and payload
padding are drawn from heavy-tailed distributions (the `Shape` of each ecosystem; where each
parameter comes from is in docs/scale.md §1). Nothing per package is kept in memory except its
name: versions, dependencies and payloads are recomputed from a per-package seed on every
request, so a 100,000-package registry costs the fake a few MB. `advance_day()` applies one
day of churn (1 % of the packages publish a new version), which the apps in realistic_apps.py
turn into PyPI serials, npm `_changes` rows and Maven incremental index chunks.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

EPOCH = datetime(2016, 1, 1, tzinfo=UTC)
DAY0 = datetime(2026, 12, 1, tzinfo=UTC)  # the snapshot the bulk load sees

_CONSONANTS = "bcdfghjklmnprstvwz"
_VOWELS = "aeiou"
_SYLLABLES = [c + v for c in _CONSONANTS for v in _VOWELS]  # 90 syllables
_WORDS = [
    "core",
    "util",
    "tools",
    "client",
    "server",
    "api",
    "http",
    "json",
    "data",
    "cli",
    "config",
    "log",
    "test",
    "mock",
    "react",
    "vue",
    "node",
    "types",
    "plugin",
    "loader",
    "parser",
    "async",
    "stream",
    "cache",
    "auth",
    "db",
    "sql",
    "orm",
    "web",
    "ui",
    "form",
    "image",
    "file",
    "path",
    "time",
    "date",
    "math",
    "crypto",
    "hash",
    "net",
    "socket",
    "graph",
    "queue",
    "task",
    "event",
    "schema",
    "lint",
]


@dataclass(frozen=True)
class Shape:
    """Distribution parameters of one ecosystem (sources: docs/scale.md §1)."""

    # Versions per package: a log-normal with this median and sigma, at least 1, capped.
    versions_median: float
    versions_sigma: float
    versions_cap: int
    # Direct dependencies of a package's newest version: log-normal, floored (so 0 is common).
    deps_median: float
    deps_sigma: float
    deps_cap: int
    # Words added around the unique stem: names of realistic length.
    extra_words_mean: float
    scoped_share: float = 0.0  # npm: share of @scope/ names
    # Free text per package (description / README): log-normal median bytes, sigma.
    text_median: int = 1200
    text_sigma: float = 1.0
    # Dependency targets are drawn as int(n * u ** skew): a few packages are very popular.
    target_skew: float = 3.0


SHAPES: dict[str, Shape] = {
    "npm": Shape(3.6, 1.25, 2000, 2.0, 1.2, 60, 0.9, scoped_share=0.22, text_median=900),
    "pypi": Shape(3.6, 1.35, 2000, 3.0, 1.1, 80, 1.1, text_median=2500, text_sigma=1.2),
    "maven": Shape(4.6, 1.3, 2000, 3.0, 1.1, 80, 1.0, text_median=300),
}


def lognormal_int(rng: random.Random, median: float, sigma: float, floor: int, cap: int) -> int:
    """A heavy-tailed count: int(lognormal(median, sigma)) clamped to [floor, cap]."""
    value = int(rng.lognormvariate(math.log(median), sigma))
    return max(floor, min(cap, value))


def version_string(k: int) -> str:
    """The k-th release of a package (0-based): increasing under semver, PEP 440 and Maven."""
    return f"{k // 25}.{(k // 5) % 5}.{k % 5}"


def stem(index: int) -> str:
    """A pronounceable, unique, dash-free stem for a package index (two syllables at least)."""
    base = len(_SYLLABLES)
    out = [_SYLLABLES[index % base]]
    index //= base
    out.append(_SYLLABLES[index % base])
    index //= base
    while index:
        out.append(_SYLLABLES[index % base])
        index //= base
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Package:
    """One package as the registry serves it on the universe's current day."""

    index: int
    name: str
    versions: list[str]
    release_dates: list[datetime]
    deps: list[int]  # indices of the newest version's dependencies; older ones use a prefix
    text_bytes: int
    generation: int  # 1 + the number of days it changed (npm _rev, PyPI serial order)

    def deps_of(self, k: int) -> list[int]:
        """Dependencies of release k: older releases depended on fewer packages."""
        count = len(self.versions)
        if count <= 1:
            return self.deps
        share = 0.5 + 0.5 * k / (count - 1)
        return self.deps[: math.ceil(len(self.deps) * share)]


@dataclass
class Universe:
    """n packages of one ecosystem's shape; per-package data is derived from (seed, index)."""

    ecosystem: str
    n: int
    seed: int = 16
    churn: float = 0.01
    names: list[str] = field(init=False)
    day: int = field(init=False, default=0)
    # index -> the days (1-based) on which it published a new version, in order.
    changed_on: dict[int, list[int]] = field(init=False, default_factory=dict)
    # (event number, index) of every change, in order: serials, feed sequences, incrementals.
    events: list[tuple[int, int]] = field(init=False, default_factory=list)
    _by_name: dict[str, int] | None = field(init=False, default=None)
    _latest: dict[int, int] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.shape = SHAPES[self.ecosystem]
        self.names = self._make_names()

    # -- names ----------------------------------------------------------------------------

    def _make_names(self) -> list[str]:
        rng = random.Random(f"{self.seed}:{self.ecosystem}:names")
        names = []
        taken: set[str] = set()
        for index in range(self.n):
            name = self._name(index, rng)
            if name in taken:  # a word happened to spell another stem: keep the bare stem
                name = stem(index) + "0"
            taken.add(name)
            names.append(name)
        return names

    def _name(self, index: int, rng: random.Random) -> str:
        shape = self.shape
        words = [rng.choice(_WORDS) for _ in range(_poisson(rng, shape.extra_words_mean))]
        cut = rng.randrange(len(words) + 1)
        parts = [*words[:cut], stem(index), *words[cut:]]
        if self.ecosystem == "maven":
            group_index = index // 6  # artifacts come in groups (one project, several jars)
            tld = ("org", "com", "io", "net", "dev")[group_index % 5]
            group = f"{tld}.{stem(group_index + 7)}.{_WORDS[group_index % len(_WORDS)]}"
            return f"{group}:{'-'.join(parts)}"
        name = "-".join(parts)
        if self.ecosystem == "npm" and rng.random() < shape.scoped_share:
            return f"@{stem(index // 40 + 3)}/{name}"
        if self.ecosystem == "pypi" and rng.random() < 0.1:
            return "_".join(p.capitalize() for p in parts)  # a display name PEP 503 normalises
        return name

    def index_of(self, name: str) -> int | None:
        """The index of a name as served (built on first use: only apps serving packages need it)."""
        if self._by_name is None:
            self._by_name = {name: i for i, name in enumerate(self.names)}
        return self._by_name.get(name)

    # -- packages -------------------------------------------------------------------------

    def package(self, index: int) -> Package:
        """The package as of the current day (deterministic)."""
        shape = self.shape
        rng = random.Random(f"{self.seed}:{self.ecosystem}:{index}")
        base = lognormal_int(
            rng, shape.versions_median, shape.versions_sigma, 1, shape.versions_cap
        )
        n_deps = lognormal_int(rng, shape.deps_median, shape.deps_sigma, 0, shape.deps_cap)
        deps: list[int] = []
        for _ in range(n_deps):
            target = int(self.n * rng.random() ** shape.target_skew)
            if target != index and target not in deps:
                deps.append(target)
        text = lognormal_int(rng, shape.text_median, shape.text_sigma, 40, 60_000)
        # Base releases spread between the package's birth and the snapshot day.
        born = EPOCH + timedelta(days=rng.randrange((DAY0 - EPOCH).days - 30))
        span = (DAY0 - born).total_seconds()
        offsets = sorted(rng.random() ** 2 * span for _ in range(base))
        dates = [DAY0 - timedelta(seconds=o) for o in reversed(offsets)]
        days = self.changed_on.get(index, [])
        dates += [DAY0 + timedelta(days=d, hours=index % 24) for d in days]
        versions = [version_string(k) for k in range(base + len(days))]
        return Package(index, self.names[index], versions, dates, deps, text, 1 + len(days))

    def packages(self) -> int:
        return self.n

    # -- churn ----------------------------------------------------------------------------

    def advance_day(self) -> list[int]:
        """One day: `churn` of the packages publish one new version each; returns their indices."""
        self.day += 1
        rng = random.Random(f"{self.seed}:{self.ecosystem}:day{self.day}")
        changed = sorted(rng.sample(range(self.n), max(1, round(self.n * self.churn))))
        for index in changed:
            self.changed_on.setdefault(index, []).append(self.day)
            self.events.append((len(self.events) + 1, index))
            self._latest[index] = len(self.events)
        return changed

    def latest_event(self, index: int) -> int | None:
        """The number of the package's last change event (None: unchanged since day 0)."""
        return self._latest.get(index)

    def stats(self, sample: int = 5000) -> dict[str, float]:
        """Mean and median versions and dependencies over a sample of packages."""
        step = max(1, self.n // sample)
        packages = [self.package(i) for i in range(0, self.n, step)]
        versions = sorted(len(p.versions) for p in packages)
        deps = sorted(len(p.deps) for p in packages)
        edges = [sum(len(p.deps_of(k)) for k in range(len(p.versions))) for p in packages]
        lengths = sorted(len(p.name) for p in packages)
        return {
            "versions_mean": sum(versions) / len(versions),
            "versions_median": versions[len(versions) // 2],
            "versions_p99": versions[int(len(versions) * 0.99)],
            "versions_max": versions[-1],
            "deps_mean": sum(deps) / len(deps),
            "deps_median": deps[len(deps) // 2],
            "edges_per_version": sum(edges) / sum(versions),
            "name_length_median": lengths[len(lengths) // 2],
        }


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method: small means only."""
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1
