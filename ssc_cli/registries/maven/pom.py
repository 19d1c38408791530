"""Maven POMs: a real XML parse (no entity expansion) and the effective model a dependency list needs.

securechain-compat.md §4.3 / §6-15: the old extractor string-searched the first `<dependencies>`
(often the dependencyManagement one), kept `${…}` versions and ignored scopes and parents. Here a
POM is parsed with defusedxml, then its parent chain is merged (properties, dependencyManagement,
dependencies, licences, scm), `${…}` is interpolated against the child's effective values as
Maven does, and `import`-scoped BOMs fill versions the POM leaves out.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from ssc_cli.errors import MalformedPayload

MAX_PARENT_DEPTH = 10
MAX_IMPORT_DEPTH = 5
_PROPERTY = re.compile(r"\$\{([^}]+)\}")
# The provider token of an scm URL (`git:` in scm:git:https://…), but not a URL scheme (`https://`).
_SCM_PROVIDER = re.compile(r"^[a-z0-9+]+:(?!//)")
# An ampersand that starts no XML reference: common in old hand-written POMs, fatal to a strict parser.
_BARE_AMPERSAND = re.compile(rb"&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)")


@dataclass(frozen=True, slots=True)
class Coordinates:
    """groupId:artifactId:version of one POM."""

    group_id: str
    artifact_id: str
    version: str

    def __str__(self) -> str:
        return f"{self.group_id}:{self.artifact_id}:{self.version}"

    def pom_path(self) -> str:
        """Path below a Maven 2 repository root."""
        return (
            f"{self.group_id.replace('.', '/')}/{self.artifact_id}/{self.version}/"
            f"{self.artifact_id}-{self.version}.pom"
        )


@dataclass(slots=True)
class Dependency:
    """A `<dependency>` as written (uninterpolated; empty strings when absent)."""

    group_id: str
    artifact_id: str
    version: str = ""
    scope: str = ""
    optional: str = ""
    type: str = ""
    classifier: str = ""


@dataclass(slots=True)
class Pom:
    """What one POM file declares, before inheritance and interpolation."""

    group_id: str
    artifact_id: str
    version: str
    packaging: str = ""
    parent: Coordinates | None = None
    properties: dict[str, str] = field(default_factory=dict)
    dependencies: list[Dependency] = field(default_factory=list)
    managed: list[Dependency] = field(default_factory=list)
    licenses: list[dict[str, str]] | None = None  # None: not declared (inherit the parent's)
    scm: dict[str, str] = field(default_factory=dict)
    scm_append: dict[str, bool] = field(default_factory=dict)
    url: str = ""
    url_append: bool = True
    name: str = ""
    description: str = ""
    relocation: dict[str, str] | None = None


@dataclass(slots=True)
class ResolvedDependency:
    """A dependency of the effective model: interpolated, with managed version/scope filled in."""

    group_id: str
    artifact_id: str
    version: str  # "" when neither the POM nor any management gives one
    raw_version: str  # as written in the POM that declared it
    scope: str
    optional: bool
    type: str
    classifier: str
    managed: bool  # the version came from dependencyManagement

    @property
    def name(self) -> str:
        return f"{self.group_id}:{self.artifact_id}"


@dataclass(slots=True)
class EffectivePom:
    """The parts of Maven's effective model ssc uses."""

    coordinates: Coordinates
    packaging: str
    dependencies: list[ResolvedDependency]
    managed: dict[tuple[str, str, str, str], Dependency]
    licenses: list[dict[str, str]]
    scm: dict[str, str]
    url: str
    relocation: dict[str, str] | None = None
    problems: list[str] = field(default_factory=list)


# A loader returns the POM at those coordinates, or None when the repository does not have it.
PomLoader = Callable[[Coordinates], Awaitable[Pom | None]]


# -- parsing ---------------------------------------------------------------------------------


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(element: Element | None, name: str) -> Element | None:
    if element is None:
        return None
    for child in element:
        if _local(child.tag) == name:
            return child
    return None


def _children(element: Element | None, name: str) -> list[Element]:
    if element is None:
        return []
    return [child for child in element if _local(child.tag) == name]


def _text(element: Element | None, name: str) -> str:
    child = _child(element, name)
    return (child.text or "").strip() if child is not None else ""


def _dependencies(container: Element | None) -> list[Dependency]:
    result = []
    for dep in _children(_child(container, "dependencies"), "dependency"):
        group_id, artifact_id = _text(dep, "groupId"), _text(dep, "artifactId")
        if not artifact_id:
            continue
        result.append(
            Dependency(
                group_id=group_id,
                artifact_id=artifact_id,
                version=_text(dep, "version"),
                scope=_text(dep, "scope"),
                optional=_text(dep, "optional"),
                type=_text(dep, "type"),
                classifier=_text(dep, "classifier"),
            )
        )
    return result


def _append_flag(element: Element | None, attribute: str) -> bool:
    if element is None:
        return True
    return element.get(attribute, "true").strip().lower() != "false"


def _parse_xml(content: bytes, where: str) -> Element:
    content = content.lstrip(b"\xef\xbb\xbf \t\r\n")
    try:
        try:
            root: Element = fromstring(
                content, forbid_dtd=False, forbid_entities=True, forbid_external=True
            )
            return root
        except ParseError:
            repaired = _BARE_AMPERSAND.sub(b"&amp;", content)
            if repaired == content:
                raise
            root = fromstring(
                repaired, forbid_dtd=False, forbid_entities=True, forbid_external=True
            )
            return root
    except DefusedXmlException as exc:
        raise MalformedPayload(f"{where}: refused XML ({exc})", url=where) from exc
    except ParseError as exc:
        raise MalformedPayload(f"{where}: not well-formed XML ({exc})", url=where) from exc
    except (LookupError, ValueError) as exc:
        # An XML declaration naming an encoding Python lacks (`UTF-2`) or cannot feed to expat
        # (`utf-7`, `rot13`): expat raises these, not ParseError. Found by atheris (issue 15).
        raise MalformedPayload(f"{where}: unreadable XML encoding ({exc})", url=where) from exc


def parse_pom(content: bytes, where: str) -> Pom:
    """One POM file; raises MalformedPayload when it is not a well-formed `<project>`."""
    root = _parse_xml(content, where)
    if _local(root.tag) != "project":
        raise MalformedPayload(
            f"{where}: root element is <{_local(root.tag)}>, not <project>", url=where
        )
    parent_el = _child(root, "parent")
    parent = None
    if parent_el is not None and _text(parent_el, "artifactId"):
        parent = Coordinates(
            _text(parent_el, "groupId"), _text(parent_el, "artifactId"), _text(parent_el, "version")
        )
    properties_el = _child(root, "properties")
    properties = {
        _local(prop.tag): (prop.text or "").strip()
        for prop in (list(properties_el) if properties_el is not None else [])
        if _local(prop.tag)
    }
    licenses_el = _child(root, "licenses")
    licenses = None
    if licenses_el is not None:
        licenses = []
        for lic in _children(licenses_el, "license"):
            entry = {k: _text(lic, k) for k in ("name", "url") if _text(lic, k)}
            if entry:
                licenses.append(entry)
    scm_el = _child(root, "scm")
    scm = {k: _text(scm_el, k) for k in ("url", "connection", "developerConnection")}
    relocation_el = _child(_child(root, "distributionManagement"), "relocation")
    relocation = None
    if relocation_el is not None:
        relocation = {
            k: _text(relocation_el, k)
            for k in ("groupId", "artifactId", "version")
            if _text(relocation_el, k)
        }
    return Pom(
        group_id=_text(root, "groupId"),
        artifact_id=_text(root, "artifactId"),
        version=_text(root, "version"),
        packaging=_text(root, "packaging"),
        parent=parent,
        properties=properties,
        dependencies=_dependencies(root),
        managed=_dependencies(_child(root, "dependencyManagement")),
        licenses=licenses,
        scm={k: v for k, v in scm.items() if v},
        scm_append={
            k: _append_flag(scm_el, f"child.scm.{a}.inherit.append.path")
            for k, a in (
                ("url", "url"),
                ("connection", "connection"),
                ("developerConnection", "developerConnection"),
            )
        },
        url=_text(root, "url"),
        url_append=_append_flag(root, "child.project.url.inherit.append.path"),
        name=_text(root, "name"),
        description=_text(root, "description"),
        relocation=relocation,
    )


# -- the effective model ---------------------------------------------------------------------


def management_key(dep: Dependency) -> tuple[str, str, str, str]:
    """Maven's dependency identity: groupId, artifactId, type, classifier."""
    return (dep.group_id, dep.artifact_id, dep.type or "jar", dep.classifier)


# No coordinate, version or URL is longer; a POM whose properties expand past it is hostile.
MAX_INTERPOLATED = 64 * 1024


def interpolate(text: str, values: dict[str, str]) -> str:
    """Replace `${name}` from values, repeatedly (properties refer to properties), bounded."""
    if "${" not in text:
        return text
    for _ in range(10):
        replaced = _PROPERTY.sub(lambda m: values.get(m.group(1).strip(), m.group(0)), text)
        if replaced == text or len(replaced) > MAX_INTERPOLATED:
            # Over the cap: properties expanding into properties (a "billion laughs" without
            # entities); the text stays unresolved, as a missing property would.
            break
        text = replaced
    return text


def _inherit_url(parent_value: str, child_artifact: str, append: bool) -> str:
    if not parent_value:
        return ""
    return f"{parent_value.rstrip('/')}/{child_artifact}" if append else parent_value


class Resolver:
    """Builds effective models, loading parents and BOMs through one loader (cached by the caller)."""

    def __init__(self, loader: PomLoader, *, max_parents: int = MAX_PARENT_DEPTH) -> None:
        self.loader = loader
        self.max_parents = max_parents

    async def effective(self, pom: Pom, *, _imports: tuple[str, ...] = ()) -> EffectivePom:
        problems: list[str] = []
        chain = [pom]
        seen = {(pom.group_id, pom.artifact_id, pom.version)}
        current = pom
        while current.parent is not None:
            if len(chain) > self.max_parents:
                problems.append(f"parent chain longer than {self.max_parents}: stopped")
                break
            ref = current.parent
            key = (ref.group_id, ref.artifact_id, ref.version)
            if key in seen:
                problems.append(f"parent cycle at {ref}")
                break
            seen.add(key)
            parent = await self.loader(ref)
            if parent is None:
                problems.append(f"parent {ref} not found")
                break
            # A parent POM may itself omit groupId/version: they come from its own <parent>.
            chain.append(parent)
            current = parent
        model, values = self._merge(chain)
        await self._import_boms(model, problems, _imports)
        model.dependencies = self._dependencies(chain, model, values)
        model.problems = problems
        return model

    def _merge(self, chain: list[Pom]) -> tuple[EffectivePom, dict[str, str]]:
        """Inheritance from the root ancestor down to the POM, then interpolation."""
        properties: dict[str, str] = {}
        licenses: list[dict[str, str]] = []
        scm: dict[str, str] = {}
        scm_append: dict[str, bool] = {}
        url = ""
        url_append = True
        group_id = version = ""
        for pom in reversed(chain):
            parent_group = pom.parent.group_id if pom.parent else group_id
            parent_version = pom.parent.version if pom.parent else version
            group_id = pom.group_id or parent_group
            version = pom.version or parent_version
            properties.update(pom.properties)
            if pom.licenses is not None:
                licenses = pom.licenses
            # The append flags are declared by the POM that holds the value, for its children.
            for key in ("url", "connection", "developerConnection"):
                if pom.scm.get(key):
                    scm[key] = pom.scm[key]
                    scm_append[key] = pom.scm_append.get(key, True)
                elif scm.get(key):
                    scm[key] = _inherit_url(scm[key], pom.artifact_id, scm_append.get(key, True))
            if pom.url:
                url, url_append = pom.url, pom.url_append
            else:
                url = _inherit_url(url, pom.artifact_id, url_append)
        child = chain[0]
        values = dict(properties)
        project = {
            "groupId": group_id,
            "artifactId": child.artifact_id,
            "version": version,
            "packaging": child.packaging or "jar",
            "name": child.name,
            "url": url,
        }
        if child.parent is not None:
            for key, value in (
                ("groupId", child.parent.group_id),
                ("artifactId", child.parent.artifact_id),
                ("version", child.parent.version),
            ):
                values[f"project.parent.{key}"] = value
                values[f"parent.{key}"] = value
        for key, value in project.items():
            values[f"project.{key}"] = value
            values[f"pom.{key}"] = value
            values.setdefault(key, value)  # Maven 2's bare ${version}, ${groupId}
        model = EffectivePom(
            coordinates=Coordinates(
                interpolate(group_id, values), child.artifact_id, interpolate(version, values)
            ),
            packaging=child.packaging or "jar",
            dependencies=[],
            managed=_managed(chain, values),
            licenses=[{k: interpolate(v, values) for k, v in lic.items()} for lic in licenses],
            scm={k: interpolate(v, values) for k, v in scm.items()},
            url=interpolate(url, values),
            relocation=child.relocation,
        )
        return model, values

    async def _import_boms(
        self, model: EffectivePom, problems: list[str], stack: tuple[str, ...]
    ) -> None:
        """Replace `import`-scoped entries by the managed dependencies of those BOMs."""
        imports = [
            (key, dep)
            for key, dep in model.managed.items()
            if dep.scope == "import" and (dep.type or "jar") == "pom"
        ]
        for key, _dep in imports:
            del model.managed[key]
        for _key, dep in imports:
            ref = Coordinates(dep.group_id, dep.artifact_id, dep.version)
            if "${" in str(ref) or not dep.version:
                problems.append(f"BOM {ref} has unresolved coordinates")
                continue
            if str(ref) in stack or len(stack) >= MAX_IMPORT_DEPTH:
                problems.append(f"BOM import of {ref} skipped (cycle or depth)")
                continue
            bom = await self.loader(ref)
            if bom is None:
                problems.append(f"BOM {ref} not found")
                continue
            sub = await Resolver(self.loader, max_parents=self.max_parents).effective(
                bom, _imports=(*stack, str(model.coordinates), str(ref))
            )
            problems.extend(f"in BOM {ref}: {p}" for p in sub.problems)
            for bom_key, bom_dep in sub.managed.items():
                model.managed.setdefault(bom_key, bom_dep)  # own/inherited entries win

    def _dependencies(
        self, chain: list[Pom], model: EffectivePom, values: dict[str, str]
    ) -> list[ResolvedDependency]:
        merged: dict[tuple[str, str, str, str], Dependency] = {}
        for pom in reversed(chain):  # parent-first, as the effective POM lists them
            for dep in pom.dependencies:
                key = management_key(dep)
                merged.pop(key, None)
                merged[key] = dep
        result = []
        for raw in merged.values():
            dep = _interpolated(raw, values)
            managed = model.managed.get(management_key(dep))
            version = dep.version
            from_management = False
            if not version and managed is not None and managed.version:
                version, from_management = managed.version, True
            scope = dep.scope or (managed.scope if managed is not None else "") or "compile"
            # Management supplies version and scope only: Maven never injects <optional>.
            optional = dep.optional
            result.append(
                ResolvedDependency(
                    group_id=dep.group_id,
                    artifact_id=dep.artifact_id,
                    version=version,
                    raw_version=raw.version,
                    scope=scope.lower(),
                    optional=optional.strip().lower() == "true",
                    type=dep.type or "jar",
                    classifier=dep.classifier,
                    managed=from_management,
                )
            )
        return result


def _managed(
    chain: list[Pom], values: dict[str, str]
) -> dict[tuple[str, str, str, str], Dependency]:
    """dependencyManagement of the chain keyed after interpolation, the nearest POM winning.

    Keys are taken only once `${…}` is resolved, so a parent's `${project.groupId}:x` and a
    child's literal `org.p:x` are one entry (the child's). The values are the child's effective
    ones, as Maven interpolates the inherited model: a child property can still override a
    version its parent manages through that property.
    """
    merged: dict[tuple[str, str, str, str], Dependency] = {}
    for pom in chain:  # nearest first; the parents' entries only fill what is left
        own: dict[tuple[str, str, str, str], Dependency] = {}
        for dep in pom.managed:
            resolved = _interpolated(dep, values)
            own[management_key(resolved)] = resolved
        for key, dep in own.items():
            merged.setdefault(key, dep)
    return merged


def _interpolated(dep: Dependency, values: dict[str, str]) -> Dependency:
    return Dependency(
        group_id=interpolate(dep.group_id, values),
        artifact_id=interpolate(dep.artifact_id, values),
        version=interpolate(dep.version, values),
        scope=interpolate(dep.scope, values),
        optional=interpolate(dep.optional, values),
        type=interpolate(dep.type, values),
        classifier=interpolate(dep.classifier, values),
    )


def repository_candidates(model: EffectivePom) -> list[str]:
    """URLs that may name the source repository, best first (scm before the project URL)."""
    found = []
    for key in ("url", "connection", "developerConnection"):
        value = model.scm.get(key, "")
        # scm:git:https://…, scm:git:git@github.com:o/r.git, scm:svn:…
        value = _SCM_PROVIDER.sub("", value.removeprefix("scm:"))
        if value and "${" not in value:
            found.append(value)
    if model.url and "${" not in model.url:
        found.append(model.url)
    return found
