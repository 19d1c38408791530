"""Every real npm packument in ../shared/fixtures/real/npm parses into records."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ssc_cli.registries.npm.packument import parse_packument
from tests.conftest import SHARED_FIXTURES

FIXTURES = SHARED_FIXTURES / "npm"
FILES = sorted(FIXTURES.rglob("*.json")) if FIXTURES.is_dir() else []
KINDS = frozenset({"runtime", "optional", "peer", "dev"})

# What a reader can check by eye in each file: name, version count, one dependency edge.
EXPECTED: dict[str, tuple[str, int, tuple[str, str, str] | None]] = {
    "packument-@dependabot-fixtures__npm-parent-dependency.json": (
        "@dependabot-fixtures/npm-parent-dependency",
        4,
        None,
    ),
    "packument-@types__node-forge.json": ("@types/node-forge", 56, ("1.0.1", "@types/node", "any")),
    "packument-chalk.json": ("chalk", 25, ("2.4.2", "ansi-styles", "^3.2.1")),
    "packument-is-number.json": ("is-number", 12, ("4.0.0", "", "")),
    "packument-base62.json": ("base62", 16, None),
    "corgi-@babel__code-frame.json": (
        "@babel/code-frame",
        40,
        ("7.10.4", "@babel/highlight", "^7.10.4"),
    ),
    "corgi-once.json": ("once", 7, ("1.4.0", "wrappy", "1")),
    "packument-once.json": ("once", 7, ("1.4.0", "wrappy", "1")),
    "packument-q.json": ("q", 74, None),
}


def _skip_or_fail() -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"real npm fixtures missing at {FIXTURES}")
    pytest.skip(f"real npm fixtures not found at {FIXTURES}")


def test_fixture_folder_is_present() -> None:
    if not FILES:
        _skip_or_fail()
    assert len(FILES) >= 18


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(FIXTURES)) for p in FILES])
def test_real_packument_parses(path: Path) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    record = parse_packument(doc, doc["name"], KINDS, url=str(path))
    raw_versions = doc["versions"]
    assert record.name == doc["name"]
    assert {v.name for v in record.versions} == set(raw_versions)
    corgi = path.name.startswith("corgi-")
    for version in record.versions:
        manifest = raw_versions[version.name]
        declared = {
            name
            for field in (
                "dependencies",
                "optionalDependencies",
                "peerDependencies",
                "devDependencies",
            )
            for name in (manifest.get(field) or {})
        }
        # every edge points at a dependency this very version declares (compat §6-5)
        assert {r.name for r in version.requirements or []} <= declared | {
            r.name for r in version.requirements or [] if "alias" in r.extra
        }
        if not corgi:
            assert version.release_date == doc["time"].get(version.name)
        if isinstance(manifest.get("deprecated"), str) and manifest["deprecated"]:
            assert version.deprecated == manifest["deprecated"]
    if not corgi:
        assert record.token == doc["_rev"]
        assert any(v.licenses for v in record.versions) or record.licenses
    expected = EXPECTED.get(path.name)
    if expected is not None:
        name, count, edge = expected
        assert (record.name, len(record.versions)) == (name, count)
        if edge is not None and edge[1]:
            version, dep, constraints = edge
            reqs = {v.name: v.requirements for v in record.versions}[version] or []
            assert (dep, constraints) in {(r.name, r.constraints) for r in reqs}


def test_deprecated_fixture_keeps_messages() -> None:
    path = FIXTURES / "dependabot" / "packument-etag-with-deprecated-versions.json"
    if not path.exists():
        _skip_or_fail()
    doc = json.loads(path.read_text(encoding="utf-8"))
    record = parse_packument(doc, "etag", KINDS)
    assert any(v.deprecated for v in record.versions)


def test_repository_of_real_packuments() -> None:
    path = FIXTURES / "dependabot" / "packument-chalk.json"
    if not path.exists():
        _skip_or_fail()
    record = parse_packument(json.loads(path.read_text(encoding="utf-8")), "chalk", KINDS)
    assert record.repository_url == "https://github.com/chalk/chalk"
    assert record.vendor == "chalk"
