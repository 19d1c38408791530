"""Hostile npm packuments: any JSON at all, or a real packument with hostile values in it."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ssc_cli.registries.npm import packument
from tests.reliability.strategies import json_values, mutated, nasty_text, survives

URL = "http://127.0.0.1:1/victim"
KINDS = frozenset({"runtime", "dev", "peer", "optional"})

VALID: dict[str, Any] = {
    "_id": "victim",
    "_rev": "3-abc",
    "name": "victim",
    "dist-tags": {"latest": "1.0.0"},
    "time": {"1.0.0": "2024-01-01T00:00:00.000Z"},
    "repository": {"type": "git", "url": "git+https://github.com/o/victim.git"},
    "license": "MIT",
    "versions": {
        "1.0.0": {
            "name": "victim",
            "version": "1.0.0",
            "dependencies": {"left-pad": "^1.0.0", "alias": "npm:real@2"},
            "devDependencies": {"tap": "*"},
            "peerDependencies": {"react": ">=16"},
            "peerDependenciesMeta": {"react": {"optional": True}},
            "optionalDependencies": {"fsevents": "git+https://x/y.git"},
            "deprecated": "use other",
            "dist": {"tarball": "http://127.0.0.1:1/victim/-/victim-1.0.0.tgz"},
        }
    },
}


@settings(max_examples=100, deadline=None)
@given(st.one_of(mutated(VALID, max_changes=4), json_values(list(VALID))))
def test_packuments_leave_only_malformed_payload(doc: Any) -> None:
    record = survives(lambda: packument.parse_packument(doc, "victim", KINDS, url=URL), "victim")
    if record is not None:
        assert record.name == "victim"
        assert all(isinstance(v.name, str) for v in record.versions)
    if isinstance(doc, dict):
        packument.newest_version(
            doc.get("versions") if isinstance(doc.get("versions"), dict) else {}
        )
        packument.import_version(doc)
        packument.is_unpublished(doc)
        rev = doc.get("_rev")
        packument.rev_generation(rev if isinstance(rev, str) else None)


@settings(max_examples=100, deadline=None)
@given(nasty_text, st.one_of(nasty_text, json_values()))
def test_dependency_specs_never_crash(name: str, spec: Any) -> None:
    parsed = packument.parse_spec(name, spec)
    assert isinstance(parsed.target, str) and isinstance(parsed.constraints, str)


def test_a_repository_url_urllib_cannot_split_is_no_repository() -> None:
    """Found by atheris (benchmarks/fuzz_parsers.py npm): `]` in a repository URL made urlsplit
    raise ValueError("Invalid IPv6 URL") out of the packument parser."""
    doc = {**VALID, "repository": {"type": "git", "url": "git+https:]]]//victim.git"}}
    record = packument.parse_packument(doc, "victim", KINDS, url=URL)
    assert record.repository_url == "n/a"
