"""Hostile RubyGems input: compact index lines (`/versions`, `/info/<gem>`) and gem metadata."""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from ssc_cli.registries.rubygems import compact_index, records
from tests.reliability.strategies import json_values, mutated, nasty_text, survives

URL = "http://127.0.0.1:1/info/victim"

token = st.one_of(nasty_text, st.sampled_from(["1.0", "-1.0", "1.0-java", "2.0.0.pre", ""]))
info_lines = st.one_of(
    nasty_text,
    st.builds(
        lambda v, deps, tail: f"{v} {deps}|{tail}",
        token,
        st.lists(st.builds(lambda n, r: f"{n}:{r}", nasty_text, nasty_text), max_size=3).map(
            ",".join
        ),
        st.lists(
            st.builds(
                lambda k, v: f"{k}:{v}",
                st.sampled_from(["checksum", "ruby", "rubygems", "created_at", "x"]),
                nasty_text,
            ),
            max_size=3,
        ).map(",".join),
    ),
)
versions_lines = st.one_of(
    nasty_text,
    st.builds(
        lambda n, vs, md5: f"{n} {vs} {md5}",
        nasty_text,
        st.lists(token, max_size=3).map(",".join),
        nasty_text,
    ),
)

API_VERSION: dict[str, Any] = {
    "number": "1.0.0",
    "platform": "ruby",
    "created_at": "2024-01-01T00:00:00.000Z",
    "licenses": ["MIT"],
    "prerelease": False,
    "metadata": {"source_code_uri": "https://github.com/o/victim"},
}
GEM: dict[str, Any] = {
    "name": "victim",
    "source_code_uri": "https://github.com/o/victim",
    "homepage_uri": None,
    "dependencies": {"runtime": [{"name": "rack", "requirements": ">= 2"}], "development": []},
}


@settings(max_examples=100, deadline=None)
@given(st.lists(info_lines, max_size=5), st.booleans())
def test_info_bodies_leave_only_malformed_payload(lines: list[str], header: bool) -> None:
    text = "\n".join((["---"] if header else []) + lines)
    entries = survives(lambda: compact_index.parse_info(text, URL), URL)
    if entries:
        groups = records.group_entries(entries)
        for group in groups.values():
            records.runtime_requirements(records.base_entry(group), group)


@settings(max_examples=100, deadline=None)
@given(st.lists(versions_lines, max_size=5), st.binary(max_size=40))
def test_versions_bodies_leave_only_malformed_payload(lines: list[str], head: bytes) -> None:
    survives(lambda: compact_index.split_header(head + b"\n---\n", URL), URL)
    survives(lambda: list(compact_index.parse_versions_lines("\n".join(lines), URL)), URL)


@settings(max_examples=100, deadline=None)
@given(
    st.one_of(st.lists(mutated(API_VERSION)), json_values(list(API_VERSION))),
    st.one_of(mutated(GEM, max_changes=3), json_values(list(GEM))),
)
def test_gem_metadata_is_validated_where_it_enters(versions: Any, gem: Any) -> None:
    """The API documents: a pydantic ValidationError (the client turns it into MalformedPayload
    naming the URL) or usable models whose helpers never raise."""
    try:
        parsed = records.API_VERSIONS.validate_python(versions)
    except ValidationError:
        parsed = []
    numbers = [v.number for v in parsed]
    records.newest(numbers)
    records.newest_release(numbers)
    for version in parsed:
        records.licenses(version)
        records.first_repository(version.metadata or {})
    with contextlib.suppress(ValidationError):
        records.ApiGem.model_validate(gem).repository()
    try:
        detail = records.ApiVersionDetail.model_validate(gem)
    except ValidationError:
        return
    records.development_requirements(detail)
