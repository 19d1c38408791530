"""A fake Maven 2 repository with a Maven Indexer export, in the real wire formats.

Serves `/.index/nexus-maven-repository-index{.gz,.N.gz,.properties}` (chunks written in the real
binary transport format), `maven-metadata.xml`, HTML directory listings, POMs (with parents,
properties and an imported BOM) carrying Last-Modified, and jars that are real zips (Range is
handled by the server). State is mutable: add versions or artifacts, then `publish()` an
incremental chunk, `reset_chain()` or `drop_incrementals()` to force a full reload.
"""

from __future__ import annotations

import email.utils
import io
import zipfile
from dataclasses import dataclass, field

from ssc_cli.registries.maven.indexer import (
    INDEX_PREFIX,
    artifact_record,
    removal_record,
    write_chunk,
)
from tests.fakeregistry.server import NOT_FOUND, Request, Response

BASE_MS = 1_600_000_000_000


@dataclass
class FakeVersion:
    pom: str
    modified_ms: int
    jar: bytes | None = None
    packaging: str = "jar"
    in_index: bool = True


@dataclass
class MavenApp:
    """The repository's state; `handle` answers like repo.maven.apache.org."""

    chain_id: str = "1318453614498"
    keep_incrementals: int = 30
    artifacts: dict[tuple[str, str], dict[str, FakeVersion]] = field(default_factory=dict)
    extra_metadata_versions: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    no_metadata: set[tuple[str, str]] = field(default_factory=set)
    last_incremental: int | None = None
    incrementals: dict[int, bytes] = field(default_factory=dict)
    pending: list[dict[str, str]] = field(default_factory=list)
    full_chunk: bytes = b""
    published_at: int = BASE_MS
    # Paths (below the mount) answered once with a garbled body of the right length.
    garble_once: set[str] = field(default_factory=set)

    # -- building the repository ----------------------------------------------------------

    def add(
        self,
        group_id: str,
        artifact_id: str,
        version: str,
        pom: str,
        *,
        modified_ms: int | None = None,
        packages: list[str] | None = None,
        packaging: str = "jar",
        in_index: bool = True,
    ) -> None:
        """Deploy one version (POM, and a jar of classes in `packages` unless packaging is pom)."""
        when = modified_ms if modified_ms is not None else BASE_MS + 86_400_000 * len(self.gavs())
        jar = make_jar(packages or []) if packaging != "pom" else None
        self.artifacts.setdefault((group_id, artifact_id), {})[version] = FakeVersion(
            pom, when, jar, packaging, in_index
        )
        if in_index:
            self.pending.extend(_records(group_id, artifact_id, version, when, packaging))

    def remove(self, group_id: str, artifact_id: str, version: str) -> None:
        gone = self.artifacts[(group_id, artifact_id)].pop(version)
        self.pending.append(
            removal_record(group_id, artifact_id, version, modified_ms=gone.modified_ms)
        )

    def gavs(self) -> list[tuple[str, str, str]]:
        return [(g, a, v) for (g, a), versions in self.artifacts.items() for v in versions]

    def publish(self, *, incremental: bool = True) -> None:
        """Publish the index: a new full chunk and (after the first) an incremental of the changes."""
        self.published_at += 3_600_000
        if self.full_chunk and incremental and self.pending:
            number = (self.last_incremental or 0) + 1
            self.incrementals[number] = _chunk(self.pending, self.published_at)
            self.last_incremental = number
            for old in sorted(self.incrementals)[: -self.keep_incrementals]:
                del self.incrementals[old]
        elif self.last_incremental is None:
            self.last_incremental = 0
        self.pending = []
        records = [{"DESCRIPTOR": "NexusIndex", "IDXINFO": "1.0|central"}]
        for (g, a), versions in sorted(self.artifacts.items()):
            for v, fake in versions.items():
                if fake.in_index:
                    records.extend(_records(g, a, v, fake.modified_ms, fake.packaging))
        groups = sorted({g for g, _ in self.artifacts})
        records.append({"allGroups": "allGroups", "allGroupsList": "|".join(groups)})
        records.append(
            {
                "rootGroups": "rootGroups",
                "rootGroupsList": "|".join(sorted({g.split(".")[0] for g in groups})),
            }
        )
        self.full_chunk = _chunk(records, self.published_at)

    def reset_chain(self, chain_id: str) -> None:
        """A new chain (the publisher rebuilt its index): every incremental is gone."""
        self.chain_id = chain_id
        self.incrementals.clear()
        self.last_incremental = None
        self.full_chunk = b""
        self.publish()

    def drop_incrementals(self, keep: int) -> None:
        """Forget all but the newest `keep` incrementals (a gap for a client that is behind)."""
        for old in sorted(self.incrementals)[:-keep] if keep else list(self.incrementals):
            del self.incrementals[old]

    def properties(self) -> str:
        lines = [
            "#Maven Indexer Writer",
            "nexus.index.id=central",
            f"nexus.index.chain-id={self.chain_id}",
            f"nexus.index.timestamp={_index_date(self.published_at)}",
            f"nexus.index.time={_index_date(BASE_MS)}",
        ]
        if self.last_incremental is not None:
            lines.append(f"nexus.index.last-incremental={self.last_incremental}")
        for position, number in enumerate(sorted(self.incrementals, reverse=True)):
            lines.append(f"nexus.index.incremental-{position}={number}")
        return "\n".join(lines) + "\n"

    # -- serving --------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        response = self._route(request)
        if request.path in self.garble_once and response.status == 200:
            self.garble_once.discard(request.path)
            body = response.body
            garbled = body[: len(body) // 3] + b"\x00<garbage" * (len(body) // 10 + 1)
            return Response(
                200, garbled[: max(len(body), 12)], response.headers, response.content_type
            )
        return response

    def _route(self, request: Request) -> Response:
        path = request.path
        if path.startswith("/.index/"):
            return self._index_file(path.removeprefix("/.index/"))
        parts = [p for p in path.split("/") if p]
        if path.endswith("/") and parts:
            return self._listing(parts, request.base_url)
        if len(parts) >= 3 and parts[-1] == "maven-metadata.xml":
            key = (".".join(parts[:-2]), parts[-2])
            if key not in self.artifacts or key in self.no_metadata:
                return NOT_FOUND
            return Response(200, self._metadata(key), content_type="text/xml")
        if len(parts) >= 4:
            group_id, artifact_id, version, filename = (
                ".".join(parts[:-3]),
                parts[-3],
                parts[-2],
                parts[-1],
            )
            fake = self.artifacts.get((group_id, artifact_id), {}).get(version)
            if fake is None:
                return NOT_FOUND
            stem = f"{artifact_id}-{version}"
            headers = {
                "Last-Modified": email.utils.formatdate(fake.modified_ms / 1000, usegmt=True)
            }
            if filename == f"{stem}.pom":
                return Response(200, fake.pom.encode(), headers, content_type="text/xml")
            if filename == f"{stem}.jar" and fake.jar is not None:
                return Response(200, fake.jar, headers, content_type="application/java-archive")
        return NOT_FOUND

    def _index_file(self, name: str) -> Response:
        if not self.full_chunk:
            return NOT_FOUND
        if name == f"{INDEX_PREFIX}.properties":
            return Response(200, self.properties().encode(), content_type="text/plain")
        if name == f"{INDEX_PREFIX}.gz":
            return Response(200, self.full_chunk, content_type="application/x-gzip")
        middle = name.removeprefix(f"{INDEX_PREFIX}.").removesuffix(".gz")
        if middle.isdigit() and int(middle) in self.incrementals:
            return Response(200, self.incrementals[int(middle)], content_type="application/x-gzip")
        return NOT_FOUND

    def _metadata(self, key: tuple[str, str]) -> bytes:
        versions = list(self.artifacts[key]) + self.extra_metadata_versions.get(key, [])
        items = "\n".join(f"      <version>{v}</version>" for v in versions)
        latest = list(self.artifacts[key])[-1]
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n<metadata>\n'
            f"  <groupId>{key[0]}</groupId>\n  <artifactId>{key[1]}</artifactId>\n"
            f"  <versioning>\n    <latest>{latest}</latest>\n    <release>{latest}</release>\n"
            f"    <versions>\n{items}\n    </versions>\n"
            "    <lastUpdated>20240101000000</lastUpdated>\n  </versioning>\n</metadata>\n"
        ).encode()

    def _listing(self, parts: list[str], base_url: str) -> Response:
        key = (".".join(parts[:-1]), parts[-1])
        versions = self.artifacts.get(key)
        if not versions:
            return NOT_FOUND
        root = f"{base_url}/{'/'.join(parts)}/"
        links = "\n".join(
            f'<a href="{root}{v}/" title="{v}/">{v}/</a>    2020-01-01 00:00  -' for v in versions
        )
        links += f'\n<a href="{root}maven-metadata.xml" title="maven-metadata.xml">maven-metadata.xml</a>'
        html = (
            f'<html><body><pre id="contents"><a href="../">../</a>\n{links}\n</pre></body></html>'
        )
        return Response(200, html.encode(), content_type="text/html")

    # -- generators -----------------------------------------------------------------------

    @classmethod
    def default(cls) -> MavenApp:
        """A small world: a parent with properties and management, a BOM, scoped dependencies."""
        app = cls()
        app.add("org.example", "parent", "1", PARENT_POM, packaging="pom")
        app.add("org.example", "bom", "1.0", BOM_POM, packaging="pom")
        app.add(
            "org.example",
            "core",
            "1.0",
            simple_pom("org.example", "core", "1.0"),
            packages=["org.example.core"],
        )
        app.add(
            "org.example",
            "core",
            "1.1",
            simple_pom("org.example", "core", "1.1"),
            packages=["org.example.core"],
        )
        app.add(
            "org.example",
            "lib-a",
            "2.0",
            simple_pom("org.example", "lib-a", "2.0"),
            packages=["org.example.liba"],
        )
        app.add(
            "com.acme",
            "util",
            "2.1",
            simple_pom("com.acme", "util", "2.1"),
            packages=["com.acme.util", "com.acme.util.internal"],
        )
        for version in ("1.0", "1.1"):
            app.add(
                "org.example",
                "app",
                version,
                app_pom(version),
                packages=["org.example.app", "org.example.app.impl", "org.example.shaded"],
            )
        app.publish()
        return app

    @classmethod
    def synthetic(cls, n_packages: int, versions_per_package: int = 3) -> MavenApp:
        """n_packages artifacts with a few versions each, depending on their predecessor."""
        app = cls()
        for i in range(n_packages):
            for j in range(versions_per_package):
                deps = [("org.synth", f"a{i - 1}", f"1.{j}")] if i else []
                app.add(
                    "org.synth",
                    f"a{i}",
                    f"1.{j}",
                    simple_pom("org.synth", f"a{i}", f"1.{j}", deps),
                    modified_ms=BASE_MS + i * 1000 + j,
                    packages=[f"org.synth.a{i}"],
                )
        app.publish()
        return app


def _records(g: str, a: str, v: str, when: int, packaging: str) -> list[dict[str, str]]:
    """What Central's index holds per version: the main file and, for jars, a sources jar."""
    if packaging == "pom":
        return [artifact_record(g, a, v, modified_ms=when, extension="pom", packaging="pom")]
    return [
        artifact_record(g, a, v, modified_ms=when, packaging=packaging),
        artifact_record(g, a, v, modified_ms=when + 5, classifier="sources", packaging=packaging),
    ]


def _chunk(records: list[dict[str, str]], timestamp_ms: int) -> bytes:
    out = io.BytesIO()
    write_chunk(out, records, timestamp_ms=timestamp_ms)
    return out.getvalue()


def _index_date(ms: int) -> str:
    from datetime import UTC, datetime

    when = datetime.fromtimestamp(ms / 1000, UTC)
    return when.strftime("%Y%m%d%H%M%S.") + f"{when.microsecond // 1000:03d} +0000"


def make_jar(packages: list[str]) -> bytes:
    """A real jar: a manifest, classes (with a nested `$` class) in each package, module-info."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as jar:
        jar.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
        jar.writestr("META-INF/versions/9/module-info.class", b"\xca\xfe\xba\xbe")
        jar.writestr("module-info.class", b"\xca\xfe\xba\xbe")
        for package in packages:
            base = package.replace(".", "/")
            jar.writestr(f"{base}/Main.class", b"\xca\xfe\xba\xbe")
            jar.writestr(f"{base}/Main$Inner.class", b"\xca\xfe\xba\xbe")
    return out.getvalue()


def simple_pom(g: str, a: str, v: str, deps: list[tuple[str, str, str]] | None = None) -> str:
    items = "".join(
        f"<dependency><groupId>{dg}</groupId><artifactId>{da}</artifactId><version>{dv}</version></dependency>"
        for dg, da, dv in deps or []
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>{g}</groupId><artifactId>{a}</artifactId><version>{v}</version>
  <licenses><license><name>MIT</name><url>https://opensource.org/licenses/MIT</url></license></licenses>
  <scm><url>https://github.com/{g.split(".")[-1]}/{a}</url></scm>
  <dependencies>{items}</dependencies>
</project>
"""


PARENT_POM = """<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>org.example</groupId>
  <artifactId>parent</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <properties>
    <liba.version>2.0</liba.version>
    <junit.version>4.13.2</junit.version>
  </properties>
  <licenses>
    <license><name>Apache License, Version 2.0</name><url>https://www.apache.org/licenses/LICENSE-2.0</url></license>
  </licenses>
  <scm>
    <url>https://github.com/example/project</url>
    <connection>scm:git:https://github.com/example/project.git</connection>
  </scm>
  <dependencyManagement>
    <dependencies>
      <dependency><groupId>org.example</groupId><artifactId>lib-a</artifactId><version>${liba.version}</version></dependency>
      <dependency><groupId>junit</groupId><artifactId>junit</artifactId><version>${junit.version}</version><scope>test</scope></dependency>
      <dependency><groupId>org.example</groupId><artifactId>bom</artifactId><version>1.0</version><type>pom</type><scope>import</scope></dependency>
    </dependencies>
  </dependencyManagement>
  <dependencies>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>
"""

BOM_POM = """<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>org.example</groupId>
  <artifactId>bom</artifactId>
  <version>1.0</version>
  <packaging>pom</packaging>
  <properties><acme.version>2.1</acme.version></properties>
  <dependencyManagement>
    <dependencies>
      <dependency><groupId>com.acme</groupId><artifactId>util</artifactId><version>${acme.version}</version></dependency>
      <dependency><groupId>org.example</groupId><artifactId>lib-a</artifactId><version>9.9</version></dependency>
    </dependencies>
  </dependencyManagement>
</project>
"""


def app_pom(version: str) -> str:
    """org.example:app: inherits, interpolates, takes versions from the parent and the BOM."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <parent><groupId>org.example</groupId><artifactId>parent</artifactId><version>1</version></parent>
  <artifactId>app</artifactId>
  <version>{version}</version>
  <dependencies>
    <dependency><groupId>${{project.groupId}}</groupId><artifactId>core</artifactId><version>${{project.version}}</version></dependency>
    <dependency><groupId>org.example</groupId><artifactId>lib-a</artifactId></dependency>
    <dependency><groupId>com.acme</groupId><artifactId>util</artifactId></dependency>
    <dependency><groupId>junit</groupId><artifactId>junit</artifactId></dependency>
    <dependency><groupId>javax.servlet</groupId><artifactId>servlet-api</artifactId><version>2.5</version><scope>provided</scope></dependency>
    <dependency><groupId>com.acme</groupId><artifactId>optional-thing</artifactId><version>[1.0,2.0)</version><optional>true</optional></dependency>
    <dependency><groupId>com.acme</groupId><artifactId>runtime-only</artifactId><version>3.0</version><scope>runtime</scope></dependency>
  </dependencies>
  <dependencyManagement>
    <dependencies>
      <dependency><groupId>org.example</groupId><artifactId>bom</artifactId><version>1.0</version><type>pom</type><scope>import</scope></dependency>
    </dependencies>
  </dependencyManagement>
</project>
"""
