"""Maven payloads other than POMs: maven-metadata.xml, directory listings, jar file lists."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from ssc_cli.errors import MalformedPayload, PackageNotFound
from ssc_cli.registries.archives import top_level_prefixes

_PLACEHOLDER_VERSIONS = frozenset({"LATEST", "RELEASE"})


def usable_version(version: str) -> bool:
    """A real release: not a SNAPSHOT, not a `${…}` placeholder, not LATEST/RELEASE."""
    return bool(
        version
        and not version.endswith("-SNAPSHOT")
        and "${" not in version
        and version not in _PLACEHOLDER_VERSIONS
        and not re.search(r"[\s/\\]", version)
    )


def split_name(name: str) -> tuple[str, str]:
    """group:artifact -> (group, artifact); anything else cannot be a Maven package."""
    group_id, sep, artifact_id = name.strip().partition(":")
    if not sep or not group_id or not artifact_id or ":" in artifact_id:
        raise PackageNotFound(f"maven package {name!r} is not of the form groupId:artifactId")
    return group_id, artifact_id


def parse_metadata(content: bytes, url: str) -> list[str]:
    """The `<versions>` of a maven-metadata.xml (or its single legacy `<version>`), in order."""
    try:
        root = fromstring(content, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, LookupError, ValueError) as exc:
        # LookupError, ValueError: an encoding expat cannot use (see pom._parse_xml).
        raise MalformedPayload(f"{url}: unreadable maven-metadata.xml ({exc})", url=url) from exc
    if _local(root.tag) != "metadata":
        raise MalformedPayload(f"{url}: root element is not <metadata>", url=url)
    versions: list[str] = []
    for versioning in _children(root, "versioning"):
        for block in _children(versioning, "versions"):
            versions.extend((v.text or "").strip() for v in _children(block, "version"))
    if not versions:
        versions = [(v.text or "").strip() for v in _children(root, "version")]
    return list(dict.fromkeys(v for v in versions if v))


def parse_directory_listing(html: str) -> list[str]:
    """Version sub-directories of an artifact's HTML directory listing (legacy fallback)."""
    found = []
    for text in re.findall(r"<a\s[^>]*>([^<]+)</a>", html, flags=re.IGNORECASE):
        text = text.strip()
        if not text.endswith("/"):
            continue  # a file (maven-metadata.xml, checksums)
        segment = text.rstrip("/")
        if segment and not segment.startswith("."):
            found.append(segment)
    return list(dict.fromkeys(found))


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _children(element: Element, name: str) -> list[Element]:
    return [child for child in element if _local(child.tag) == name]


def jar_import_names(members: Iterable[str]) -> list[str]:
    """Top-level Java packages of a jar's classes (no META-INF, no nested `$` classes)."""
    packages = set()
    for member in members:
        if not member.endswith(".class") or member.startswith("META-INF/") or "$" in member:
            continue
        directory, _, _ = member.rpartition("/")
        if directory:
            packages.add(directory.replace("/", "."))
    return top_level_prefixes(packages)
