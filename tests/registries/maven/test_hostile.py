"""Hostile Maven input: POMs (entity expansion, external entities, deep nesting, any text) and
maven-metadata.xml; the parent chain a POM names is walked within bounds."""

from __future__ import annotations

import asyncio
import time

import pytest
from hypothesis import given, settings

from ssc_cli.errors import MalformedPayload, SscError
from ssc_cli.registries.maven import parse, pom
from tests.reliability.strategies import XML_ATTACKS, survives, xml_documents

WHERE = "http://127.0.0.1:1/org/victim/victim/1.0/victim-1.0.pom"

POM = (
    '<?xml version="1.0"?><project xmlns="http://maven.apache.org/POM/4.0.0">'
    "<parent><groupId>{}</groupId><artifactId>{}</artifactId><version>{}</version></parent>"
    "<groupId>org.victim</groupId><artifactId>{}</artifactId><version>{}</version>"
    "<properties><{}>x</{}><v>{}</v></properties>"
    "<licenses><license><name>{}</name><url>{}</url></license></licenses>"
    '<scm child.scm.url.inherit.append.path="{}"><url>{}</url></scm>'
    "<dependencies><dependency><groupId>{}</groupId><artifactId>a</artifactId>"
    "<version>${v}{}</version><scope>{}</scope><optional>{}</optional></dependency></dependencies>"
    "</project>"
)
METADATA = (
    "<metadata><groupId>{}</groupId><versioning><versions><version>{}</version>"
    "<version>{}</version></versions></versioning></metadata>"
)


@settings(max_examples=100, deadline=None)
@given(xml_documents(POM))
def test_poms_leave_only_malformed_payload(content: bytes) -> None:
    model = survives(lambda: pom.parse_pom(content, WHERE), WHERE)
    if model is not None:
        for dep in model.dependencies:
            pom.interpolate(dep.version, model.properties)


@settings(max_examples=80, deadline=None)
@given(xml_documents(METADATA))
def test_metadata_leaves_only_malformed_payload(content: bytes) -> None:
    versions = survives(lambda: parse.parse_metadata(content, WHERE), WHERE)
    assert versions is None or all(isinstance(v, str) and v for v in versions)


@pytest.mark.parametrize("attack", XML_ATTACKS, ids=["laughs", "external", "parameter", "deep"])
def test_xml_attacks_are_refused_quickly(attack: bytes) -> None:
    """Entity expansion and external entities refused; deep nesting read without recursion."""
    for parser in (pom.parse_pom, parse.parse_metadata):
        started = time.monotonic()
        try:
            result = parser(attack, WHERE)
        except MalformedPayload as exc:
            assert WHERE in str(exc)
        else:
            # Only the deep document is well-formed without entities: nothing expanded in it.
            assert attack.startswith(b"<project><a>"), result
        assert time.monotonic() - started < 5


def test_property_expansion_is_bounded() -> None:
    """The "billion laughs" of POM properties: ${p0} -> 30 x ${p1} -> ... is cut off, left
    unresolved (so the edge is recorded as unresolved), never expanded to 30^10 characters."""
    values = {f"p{i}": f"${{p{i + 1}}}" * 30 for i in range(12)}
    values["p12"] = "x"
    started = time.monotonic()
    result = pom.interpolate("${p0}", values)
    assert len(result) <= pom.MAX_INTERPOLATED
    assert "${" in result
    assert time.monotonic() - started < 2


def test_a_parent_cycle_is_refused_with_the_chain() -> None:
    """A POM whose parent is itself (or a ring of parents) ends in an ssc error, not a hang."""

    def text(artifact: str, parent: str) -> bytes:
        return (
            f"<project><parent><groupId>g</groupId><artifactId>{parent}</artifactId>"
            f"<version>1</version></parent><groupId>g</groupId><artifactId>{artifact}</artifactId>"
            "<version>1</version></project>"
        ).encode()

    ring = {"a": text("a", "b"), "b": text("b", "a")}

    async def loader(coordinates: pom.Coordinates) -> pom.Pom | None:
        return pom.parse_pom(ring[coordinates.artifact_id], coordinates.artifact_id)

    async def run() -> None:
        resolver = pom.Resolver(loader)
        await resolver.effective(pom.parse_pom(ring["a"], "a"))

    try:
        asyncio.run(asyncio.wait_for(run(), 10))
    except SscError as exc:
        assert "a" in str(exc)


# An encoding Python does not know, one expat cannot be fed, text codecs that are not text.
ENCODINGS = ["UTF-2", "utf-7", "rot13", "base64", "idna", "punycode", "ebcdic"]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_an_unusable_xml_encoding_is_malformed_payload(encoding: str) -> None:
    """Found by atheris (benchmarks/fuzz_parsers.py pom): `encoding="UTF-2"` in the XML
    declaration made expat raise LookupError out of the POM parser."""
    declaration = f'<?xml version="1.0" encoding="{encoding}"?>'
    with pytest.raises(MalformedPayload, match=WHERE):
        pom.parse_pom(f"{declaration}<project><artifactId>a</artifactId></project>".encode(), WHERE)
    with pytest.raises(MalformedPayload, match=WHERE):
        parse.parse_metadata(f"{declaration}<metadata/>".encode(), WHERE)
