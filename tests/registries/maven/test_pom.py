"""POM parsing (defusedxml) and the effective model: parents, properties, management, BOMs."""

from __future__ import annotations

import asyncio

import pytest

from ssc_cli.errors import MalformedPayload
from ssc_cli.registries.maven.pom import (
    Coordinates,
    EffectivePom,
    Pom,
    Resolver,
    interpolate,
    parse_pom,
    repository_candidates,
)
from tests.fakeregistry.maven import BOM_POM, PARENT_POM, app_pom

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<project><artifactId>&lol2;</artifactId></project>"""

EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE project [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<project><artifactId>&xxe;</artifactId></project>"""


def test_entity_expansion_is_refused() -> None:
    with pytest.raises(MalformedPayload, match="refused"):
        parse_pom(BILLION_LAUGHS, "lol.pom")
    with pytest.raises(MalformedPayload, match="refused"):
        parse_pom(EXTERNAL, "xxe.pom")


def test_not_xml_or_not_a_project_is_malformed() -> None:
    with pytest.raises(MalformedPayload, match="not well-formed"):
        parse_pom(b"<html><body>404 Not Found", "x.pom")
    with pytest.raises(MalformedPayload, match="not <project>"):
        parse_pom(b"<metadata/>", "x.pom")


def test_bare_ampersand_of_old_poms_is_repaired() -> None:
    pom = parse_pom(
        b"\xef\xbb\xbf  <project><artifactId>a</artifactId><name>Salt & Pepper</name></project>",
        "old.pom",
    )
    assert (pom.artifact_id, pom.name) == ("a", "Salt & Pepper")


def test_parse_reads_only_project_level_dependencies_outside_management() -> None:
    pom = parse_pom(app_pom("1.0").encode(), "app.pom")
    assert pom.parent == Coordinates("org.example", "parent", "1")
    assert (pom.group_id, pom.artifact_id, pom.version) == ("", "app", "1.0")
    assert [d.artifact_id for d in pom.dependencies] == [
        "core",
        "lib-a",
        "util",
        "junit",
        "servlet-api",
        "optional-thing",
        "runtime-only",
    ]
    assert [d.artifact_id for d in pom.managed] == ["bom"]
    assert pom.licenses is None  # not declared: inherited later


def test_pom_without_namespace_and_with_plugins_dependencies() -> None:
    pom = parse_pom(
        b"""<project><groupId>g</groupId><artifactId>a</artifactId><version>1</version>
        <build><plugins><plugin><dependencies><dependency><groupId>no</groupId>
        <artifactId>plugin-dep</artifactId></dependency></dependencies></plugin></plugins></build>
        <profiles><profile><dependencies><dependency><groupId>no</groupId>
        <artifactId>profile-dep</artifactId></dependency></dependencies></profile></profiles>
        <dependencies><dependency><groupId>yes</groupId><artifactId>real</artifactId>
        <version>1</version></dependency></dependencies></project>""",
        "plain.pom",
    )
    assert [d.artifact_id for d in pom.dependencies] == ["real"]


def test_interpolation_is_recursive_and_bounded() -> None:
    values = {"a": "${b}", "b": "${c}", "c": "3", "loop": "${loop}"}
    assert interpolate("v${a}", values) == "v3"
    assert interpolate("${loop}", values) == "${loop}"
    assert interpolate("${unknown}", values) == "${unknown}"


def loader_for(poms: dict[str, str]) -> tuple[Resolver, list[str]]:
    requested: list[str] = []

    async def loader(ref: Coordinates) -> Pom | None:
        requested.append(str(ref))
        text = poms.get(str(ref))
        return parse_pom(text.encode(), str(ref)) if text is not None else None

    return Resolver(loader), requested


def effective(resolver: Resolver, text: str) -> EffectivePom:
    return asyncio.run(resolver.effective(parse_pom(text.encode(), "child.pom")))


def test_effective_model_with_parent_properties_and_bom() -> None:
    resolver, requested = loader_for(
        {"org.example:parent:1": PARENT_POM, "org.example:bom:1.0": BOM_POM}
    )
    model = effective(resolver, app_pom("1.1"))
    assert model.coordinates == Coordinates("org.example", "app", "1.1")
    deps = {d.name: d for d in model.dependencies}
    # Inherited from the parent's <dependencies>.
    assert deps["org.slf4j:slf4j-api"].version == "1.7.36"
    # ${project.groupId} / ${project.version} are the child's.
    assert deps["org.example:core"].version == "1.1"
    assert deps["org.example:core"].raw_version == "${project.version}"
    # The parent's own management (a property) wins over the BOM's 9.9.
    assert deps["org.example:lib-a"].version == "2.0" and deps["org.example:lib-a"].managed
    # Only the imported BOM knows com.acme:util (through the BOM's own property).
    assert deps["com.acme:util"].version == "2.1"
    # Scope comes from management when the dependency has none.
    assert deps["junit:junit"].scope == "test" and deps["junit:junit"].version == "4.13.2"
    assert deps["com.acme:optional-thing"].optional
    assert deps["com.acme:runtime-only"].scope == "runtime"
    assert model.licenses == [
        {
            "name": "Apache License, Version 2.0",
            "url": "https://www.apache.org/licenses/LICENSE-2.0",
        }
    ]
    # Maven appends the child's artifactId to an inherited scm URL.
    assert model.scm["url"] == "https://github.com/example/project/app"
    assert repository_candidates(model)[:2] == [
        "https://github.com/example/project/app",
        "https://github.com/example/project.git/app",
    ]
    assert model.problems == []
    # Imported by the parent and by the child: one management key, one load.
    assert requested.count("org.example:bom:1.0") == 1


def test_missing_parent_and_bom_are_reported_not_fatal() -> None:
    resolver, _ = loader_for({})
    model = effective(resolver, app_pom("1.0"))
    assert "parent org.example:parent:1 not found" in model.problems
    assert "BOM org.example:bom:1.0 not found" in model.problems
    assert {d.name: d.version for d in model.dependencies}["org.example:lib-a"] == ""


def test_parent_cycle_and_depth_cap() -> None:
    def pom(n: int, parent: int) -> str:
        return (
            f"<project><parent><groupId>g</groupId><artifactId>p{parent}</artifactId>"
            f"<version>1</version></parent><artifactId>p{n}</artifactId></project>"
        )

    resolver, _ = loader_for({"g:p1:1": pom(1, 2), "g:p2:1": pom(2, 1)})
    model = effective(resolver, pom(0, 1))
    assert any("cycle" in p for p in model.problems)

    chain = {f"g:p{n}:1": pom(n, n + 1) for n in range(1, 40)}
    resolver, requested = loader_for(chain)
    model = effective(resolver, pom(0, 1))
    assert any("longer than" in p for p in model.problems)
    assert len(requested) == 10


def test_bom_cycle_is_cut() -> None:
    def bom(name: str, imports: str) -> str:
        return (
            f"<project><groupId>g</groupId><artifactId>{name}</artifactId><version>1</version>"
            "<dependencyManagement><dependencies><dependency><groupId>g</groupId>"
            f"<artifactId>{imports}</artifactId><version>1</version><type>pom</type>"
            "<scope>import</scope></dependency><dependency><groupId>m</groupId>"
            f"<artifactId>from-{name}</artifactId><version>1</version></dependency>"
            "</dependencies></dependencyManagement></project>"
        )

    resolver, _ = loader_for({"g:a:1": bom("a", "b"), "g:b:1": bom("b", "a")})
    model = effective(resolver, bom("root", "a"))
    assert {k[1] for k in model.managed} >= {"from-root", "from-a", "from-b"}
    assert any("cycle" in p for p in model.problems)


def test_scm_append_can_be_switched_off_by_the_parent() -> None:
    parent = (
        "<project><groupId>g</groupId><artifactId>p</artifactId><version>1</version>"
        '<scm child.scm.url.inherit.append.path="false"><url>https://gitlab.com/o/r</url></scm>'
        "<url>https://example.org/site</url></project>"
    )
    child = (
        "<project><parent><groupId>g</groupId><artifactId>p</artifactId><version>1</version>"
        "</parent><artifactId>c</artifactId></project>"
    )
    resolver, _ = loader_for({"g:p:1": parent})
    model = effective(resolver, child)
    assert model.scm["url"] == "https://gitlab.com/o/r"
    assert model.url == "https://example.org/site/c"


def test_repository_candidates_strip_scm_provider_prefixes() -> None:
    model = EffectivePom(
        coordinates=Coordinates("g", "a", "1"),
        packaging="jar",
        dependencies=[],
        managed={},
        licenses=[],
        scm={
            "url": "scm:https://github.com/realm/realm-java",
            "connection": "scm:git:git@github.com:realm/realm-java.git",
            "developerConnection": "scm:svn:${svn.root}/trunk",
        },
        url="https://realm.io",
    )
    assert repository_candidates(model) == [
        "https://github.com/realm/realm-java",
        "git@github.com:realm/realm-java.git",
        "https://realm.io",
    ]


def managing_parent(entries: str, properties: str = "") -> str:
    return (
        "<project><groupId>org.p</groupId><artifactId>parent</artifactId><version>1</version>"
        f"<properties>{properties}</properties>"
        f"<dependencyManagement><dependencies>{entries}</dependencies></dependencyManagement>"
        "</project>"
    )


def child_of_parent(body: str) -> str:
    return (
        "<project><parent><groupId>org.p</groupId><artifactId>parent</artifactId>"
        f"<version>1</version></parent><artifactId>child</artifactId>{body}</project>"
    )


def test_child_management_wins_once_the_parents_keys_are_interpolated() -> None:
    parent = managing_parent(
        "<dependency><groupId>${project.groupId}</groupId><artifactId>x</artifactId>"
        "<version>1.0</version></dependency>"
    )
    child = child_of_parent(
        "<dependencyManagement><dependencies><dependency><groupId>org.p</groupId>"
        "<artifactId>x</artifactId><version>2.0</version></dependency></dependencies>"
        "</dependencyManagement><dependencies><dependency><groupId>org.p</groupId>"
        "<artifactId>x</artifactId></dependency></dependencies>"
    )
    resolver, _ = loader_for({"org.p:parent:1": parent})
    model = effective(resolver, child)
    assert [(d.name, d.version) for d in model.dependencies] == [("org.p:x", "2.0")]
    assert [d.version for d in model.managed.values()] == ["2.0"]


def test_a_child_property_overrides_a_version_its_parent_manages() -> None:
    parent = managing_parent(
        "<dependency><groupId>org.q</groupId><artifactId>y</artifactId>"
        "<version>${y.version}</version></dependency>",
        properties="<y.version>1.0</y.version>",
    )
    child = child_of_parent(
        "<properties><y.version>3.0</y.version></properties><dependencies><dependency>"
        "<groupId>org.q</groupId><artifactId>y</artifactId></dependency></dependencies>"
    )
    resolver, _ = loader_for({"org.p:parent:1": parent})
    assert [d.version for d in effective(resolver, child).dependencies] == ["3.0"]


def test_optional_is_not_inherited_from_dependency_management() -> None:
    parent = managing_parent(
        "<dependency><groupId>org.q</groupId><artifactId>z</artifactId><version>1.0</version>"
        "<optional>true</optional><scope>runtime</scope></dependency>"
    )
    child = child_of_parent(
        "<dependencies><dependency><groupId>org.q</groupId><artifactId>z</artifactId>"
        "</dependency></dependencies>"
    )
    resolver, _ = loader_for({"org.p:parent:1": parent})
    (dep,) = effective(resolver, child).dependencies
    assert (dep.version, dep.scope, dep.optional) == ("1.0", "runtime", False)
