"""Every genuine Maven payload of ../shared/fixtures/real/maven parses, with its real content."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ssc_cli.models import Ecosystem
from ssc_cli.registries.maven.parse import (
    parse_directory_listing,
    parse_metadata,
    usable_version,
)
from ssc_cli.registries.maven.pom import Coordinates, Pom, Resolver, parse_pom
from tests.conftest import SHARED_FIXTURES, real_fixtures, require_real_fixtures

FILES = real_fixtures("maven")

# file name -> (artifactId, <dependencies> count, <dependencyManagement> count, licence names)
POMS = {
    "guava-23.3-jre.pom": ("guava", 4, 0, None),
    "mockito-core-2.11.0.pom": ("mockito-core", 3, 0, ["The MIT License"]),
    "mockk-1.10.0.pom": ("mockk", 4, 0, ["Apache License, Version 2.0"]),
    "okhttp-3.10.0.pom": ("okhttp", 4, 0, None),
    "okhttp-parent-3.10.0.pom": ("parent", 0, 9, ["Apache 2.0"]),
    "struts2-apps-2.5.10.pom": ("struts2-apps", 2, 0, None),
    "struts2-parent-2.5.10.pom": (
        "struts2-parent",
        0,
        109,
        ["The Apache Software License, Version 2.0"],
    ),
    "jcip-annotations-1.0.pom": ("jcip-annotations", 0, 0, None),
    "netty-nio-client-2.5.6.pom": ("netty-nio-client", 22, 0, None),
    "mysql-connector-java-8.0.12.pom": (
        "mysql-connector-java",
        1,
        0,
        ["The GNU General Public License, v2 with FOSS exception"],
    ),
    "realm-gradle-plugin-5.13.0.pom": (
        "realm-gradle-plugin",
        2,
        0,
        ["The Apache Software License, Version 2.0"],
    ),
}
# file name -> (version count, first, last)
METADATA = {
    "maven-metadata-guava.xml": (70, "r03", "23.7-rc1-android"),
    "maven-metadata-mockk.xml": (65, "1.0", "1.10.0"),
    "maven-metadata-hamcrest-core.xml": (7, "1.1", "2.1-rc3"),
    "maven-metadata-realm-gradle-plugin.xml": (87, "0.85.0", "5.13.0"),
    "maven-metadata-gradle-plugin-org.springframework.boot.xml": (
        42,
        "1.4.2.RELEASE",
        "2.1.4.RELEASE",
    ),
}


def _id(path: Path | None) -> str:
    return str(path.relative_to(SHARED_FIXTURES)) if path is not None else "absent"


def _all_poms() -> dict[tuple[str, str, str], Pom]:
    poms = {}
    for path in FILES:
        if path.suffix == ".pom":
            pom = parse_pom(path.read_bytes(), str(path))
            group_id = pom.group_id or (pom.parent.group_id if pom.parent else "")
            version = pom.version or (pom.parent.version if pom.parent else "")
            poms[(group_id, pom.artifact_id, version)] = pom
    return poms


@pytest.mark.parametrize("path", FILES or [None], ids=_id)
def test_real_payload_parses(path: Path | None) -> None:
    if path is None:
        require_real_fixtures("maven")
        return
    data = path.read_bytes()
    if path.suffix == ".pom":
        artifact_id, deps, managed, licences = POMS[path.name]
        pom = parse_pom(data, str(path))
        assert pom.artifact_id == artifact_id
        assert (len(pom.dependencies), len(pom.managed)) == (deps, managed)
        if licences is None:
            assert pom.licenses is None
        else:
            assert [lic["name"] for lic in pom.licenses or []] == licences
        assert all(d.artifact_id for d in pom.dependencies + pom.managed)
    elif path.name.startswith("maven-metadata"):
        count, first, last = METADATA[path.name]
        versions = parse_metadata(data, str(path))
        assert (len(versions), versions[0], versions[-1]) == (count, first, last)
        assert all(usable_version(v) for v in versions)
        for version in versions:
            Ecosystem.MAVEN.version_key(version)  # every real version orders
    elif path.suffix == ".html":
        versions = parse_directory_listing(data.decode("cp1252"))
        assert len(versions) == 148 and "23.0" in versions and "r09" in versions
        assert "guava" not in versions and "maven-metadata.xml" not in versions
    else:
        pytest.fail(f"no conformance rule for {path}")


def _effective(key: tuple[str, str, str]) -> tuple[dict[str, tuple[str, str]], list[str], str]:
    poms = _all_poms()

    async def loader(ref: Coordinates) -> Pom | None:
        return poms.get((ref.group_id, ref.artifact_id, ref.version))

    model = asyncio.run(Resolver(loader).effective(poms[key]))
    deps = {d.name: (d.version, d.scope) for d in model.dependencies}
    return deps, [lic["name"] for lic in model.licenses], model.scm.get("url", "")


@pytest.mark.parametrize(
    "child",
    [
        "okhttp-3.10.0.pom + okhttp-parent-3.10.0.pom",
        "struts2-apps-2.5.10.pom + struts2-parent-2.5.10.pom",
    ],
)
def test_real_parent_resolution(child: str) -> None:
    require_real_fixtures("maven")
    if child.startswith("okhttp"):
        deps, licences, scm = _effective(("com.squareup.okhttp3", "okhttp", "3.10.0"))
        # okhttp declares okio without a version: the parent's dependencyManagement has it.
        assert deps["com.squareup.okio:okio"] == ("1.14.0", "compile")
        assert deps["com.google.code.findbugs:jsr305"] == ("3.0.2", "provided")
        assert licences == ["Apache 2.0"]  # inherited
        assert scm == "https://github.com/square/okhttp/okhttp"
    else:
        deps, licences, scm = _effective(("org.apache.struts", "struts2-apps", "2.5.10"))
        assert deps["org.apache.struts:struts2-core"] == ("2.5.10", "compile")  # ${project.version}
        # ${struts2.springPlatformVersion} is a property of the parent.
        assert deps["org.springframework:spring-test"] == ("4.1.6.RELEASE", "test")
        assert licences == ["The Apache Software License, Version 2.0"]
