"""Hostile NuGet input: catalog pages and leaves (any JSON) and .nuspec files (any XML)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssc_cli.errors import MalformedPayload
from ssc_cli.registries.nuget import parse
from tests.reliability.strategies import (
    XML_ATTACKS,
    json_values,
    mutated,
    nasty_text,
    survives,
    xml_documents,
)

URL = "http://127.0.0.1:1/v3/catalog0/data/victim.1.0.0.json"
KINDS = frozenset({"runtime", "dev"})

LEAF: dict[str, Any] = {
    "@id": URL,
    "@type": ["PackageDetails", "catalog:Permalink"],
    "catalog:commitTimeStamp": "2024-01-01T00:00:00.1234567Z",
    "id": "Victim",
    "version": "1.0.0",
    "listed": True,
    "published": "2024-01-01T00:00:00Z",
    "licenseExpression": "MIT",
    "repository": "https://github.com/o/victim",
    "deprecation": {"reasons": ["Legacy"], "message": "old"},
    "vulnerabilities": [{"advisoryUrl": "https://x", "severity": "2"}],
    "dependencyGroups": [
        {
            "targetFramework": "net8.0",
            "dependencies": [{"id": "Newtonsoft.Json", "range": "[13.0.1, )"}],
        }
    ],
}
PAGE: dict[str, Any] = {
    "@id": "http://127.0.0.1:1/v3/catalog0/page0.json",
    "commitTimeStamp": "2024-01-01T00:00:00Z",
    "items": [
        {
            "@id": URL,
            "@type": "nuget:PackageDetails",
            "commitTimeStamp": "2024-01-01T00:00:00.1234567Z",
            "nuget:id": "Victim",
            "nuget:version": "1.0.0",
        }
    ],
}
NUSPEC = (
    '<?xml version="1.0"?><package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">'
    "<metadata><id>{}</id><version>{}</version>"
    '<repository type="git" url="{}"/><license type="{}">{}</license><projectUrl>{}</projectUrl>'
    '<dependencies><group targetFramework="{}"><dependency id="{}" version="{}"/></group>'
    '<dependency id="{}" version="{}"/></dependencies></metadata></package>'
)


@settings(max_examples=100, deadline=None)
@given(st.one_of(mutated(LEAF, max_changes=4), json_values(list(LEAF))))
def test_catalog_leaves_leave_only_malformed_payload(leaf: Any) -> None:
    item = survives(lambda: parse.leaf_item(leaf, URL), URL)
    if item is not None:
        record = parse.version_record(leaf, KINDS)
        assert record.name == str(leaf["version"])
        parse.leaf_repository(leaf)


@settings(max_examples=100, deadline=None)
@given(st.one_of(mutated(PAGE, max_changes=3), json_values(list(PAGE))))
def test_catalog_pages_leave_only_malformed_payload(page: Any) -> None:
    survives(lambda: parse.parse_catalog_page(page, URL), URL)
    survives(lambda: parse.parse_catalog_index(page, URL), URL)
    survives(lambda: parse.parse_registration_page(page, URL), URL)
    survives(lambda: parse.parse_service_index(page, URL), URL)


@settings(max_examples=100, deadline=None)
@given(nasty_text)
def test_version_ranges_never_crash(text: str) -> None:
    parse.parse_range(text)
    parse.hull([text, "[1.0, 2.0)"])


@settings(max_examples=100, deadline=None)
@given(xml_documents(NUSPEC))
def test_nuspecs_leave_only_malformed_payload(content: bytes) -> None:
    survives(lambda: parse.parse_nuspec(content, URL), URL)


@pytest.mark.parametrize("attack", XML_ATTACKS, ids=["laughs", "external", "parameter", "deep"])
def test_nuspec_xml_attacks_are_refused(attack: bytes) -> None:
    with pytest.raises(MalformedPayload, match="nuspec"):
        parse.parse_nuspec(attack, URL)
