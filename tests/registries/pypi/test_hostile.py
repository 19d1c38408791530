"""Hostile PyPI input: PEP 508 lines and JSON API documents written by anyone who can publish."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssc_cli.errors import MalformedPayload
from ssc_cli.registries.pypi import parse
from tests.reliability.strategies import json_values, mutated, nasty_text, survives

URL = "http://127.0.0.1:1/pypi/victim/json"

VALID: dict[str, Any] = {
    "info": {
        "name": "victim",
        "version": "1.0",
        "license": "MIT",
        "classifiers": ["License :: OSI Approved :: MIT License"],
        "project_urls": {"Source": "https://github.com/o/victim"},
        "requires_dist": ["requests (>=2.0)", "idna; extra == 'x'"],
    },
    "last_serial": 7,
    "releases": {
        "1.0": [
            {
                "filename": "victim-1.0-py3-none-any.whl",
                "url": "http://127.0.0.1:1/files/victim-1.0-py3-none-any.whl",
                "packagetype": "bdist_wheel",
                "upload_time_iso_8601": "2024-01-01T00:00:00Z",
                "yanked": False,
            }
        ]
    },
    "urls": [],
}

pep508_lines = st.one_of(
    nasty_text,
    st.builds(
        lambda name, op, version, marker: f"{name}{op}{version}{marker}",
        st.one_of(st.from_regex(r"[A-Za-z][A-Za-z0-9._-]{0,20}", fullmatch=True), nasty_text),
        st.sampled_from(["", "==", ">=", "~=", " (", "<", "!=", "===", " @ ", "["]),
        nasty_text,
        st.sampled_from(
            ["", "; python_version < '3'", "; extra == 'a'", ";", "; os_name == '\x00'"]
        ),
    ),
)


@settings(max_examples=100, deadline=None)
@given(st.lists(pep508_lines, max_size=5))
def test_requires_dist_lines_never_crash(lines: list[str]) -> None:
    """Any Requires-Dist list: requirements, or lines skipped; never an exception."""
    result = parse.requirements(lines)
    for requirement in result:
        assert requirement.name
        parse.securechain_constraints(requirement.raw_constraints or "")


@settings(max_examples=100, deadline=None)
@given(st.one_of(mutated(VALID), json_values(["info", "releases", "urls", "name", "version"])))
def test_json_api_documents_leave_only_malformed_payload(doc: Any) -> None:
    project = survives(lambda: parse.parse_project(doc, URL), URL)
    if project is not None:
        parse.requirements(project.info.requires_dist)
        parse.license_signals(project.info)
        parse.repository_url(project.info)
        for files in project.releases.values():
            parse.release_date(files)


@settings(max_examples=100, deadline=None)
@given(st.one_of(mutated(VALID), json_values(["info", "releases", "urls", "name", "version"])))
def test_decoding_bytes_agrees_with_parsing_the_decoded_document(doc: Any) -> None:
    """decode_project (issue 16) accepts what parse_project accepts, as the same project, and
    returns (does not raise) a MalformedPayload for a document parse_project rejects."""
    body = json.dumps(doc).encode()
    try:
        expected: Any = parse.parse_project(doc, URL)
    except MalformedPayload as exc:
        expected = exc
    decoded = parse.decode_project(body, URL)
    if isinstance(expected, MalformedPayload):
        assert isinstance(decoded, MalformedPayload) and decoded.url == URL
        assert str(decoded).startswith(f"{URL}: unexpected JSON API document (")
    else:
        assert decoded == expected


@pytest.mark.parametrize("body", [b"", b"{", b"not json", b"\xff\xfe", b"[" * 5000, b'{"info": }'])
def test_a_body_that_is_not_json_raises_malformed_payload(body: bytes) -> None:
    """Not JSON (the HTTP layer fetches it again) is raised; a wrong shape is returned instead."""
    with pytest.raises(MalformedPayload, match="body is not valid JSON"):
        parse.decode_project(body, URL)
    assert isinstance(parse.decode_project(b"[]", URL), MalformedPayload)


@settings(max_examples=80, deadline=None)
@given(st.binary(max_size=300) | nasty_text.map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_simple_listings_and_project_pages(body: bytes) -> None:
    for content_type in ("application/vnd.pypi.simple.v1+json", "text/html"):
        survives(lambda t=content_type: parse.parse_simple_listing(body, t, URL), URL)
        survives(lambda t=content_type: parse.parse_simple_project(body, t, URL), URL)


def test_json_that_only_json_loads_reads_is_still_read() -> None:
    """Lone surrogate escapes and deep nesting, which pydantic's parser refuses, decode as before."""
    doc = json.loads(json.dumps(VALID))
    doc["info"]["name"] = "victim\ud800"
    doc["info"]["description"] = [[[[[]]]]] * 2 + [json.loads("[" * 300 + "]" * 300)]
    body = json.dumps(doc).encode()
    assert parse.decode_project(body, URL) == parse.parse_project(json.loads(body), URL)


def test_requires_dist_entries_are_parsed_once_and_never_shared() -> None:
    """Each distinct entry is parsed once (issue 16); the records built from it are new each
    time, so joining `b>=1` and `b<3` into one edge does not leak into a later `b>=1`."""
    parse._requirement_fields.cache_clear()
    joined = parse.requirements(["b>=1", "b<3", "c (==2.*)"])
    again = parse.requirements(["b>=1", "c (==2.*)"])
    assert [(r.name, r.raw_constraints, r.constraints) for r in joined] == [
        ("b", ">=1,<3", ">=1, <3"),
        ("c", "==2.*", ">=2, <3"),
    ]
    assert [(r.name, r.raw_constraints) for r in again] == [("b", ">=1"), ("c", "==2.*")]
    assert parse._requirement_fields.cache_info().hits == 2
