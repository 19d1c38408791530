"""Every genuine NuGet payload in ../shared/fixtures/real/nuget parses into what ssc expects."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from ssc_cli.registries.nuget import parse
from ssc_cli.registries.nuget.catalog import DELETE, DETAILS
from tests.conftest import SHARED_FIXTURES

REAL = SHARED_FIXTURES / "nuget"
FILES = sorted(p for p in REAL.rglob("*") if p.is_file()) if REAL.is_dir() else []
RUNTIME = frozenset({"runtime"})

# Facts read off each file by hand: (versions, last version, unlisted, deprecated, edges).
REGISTRATIONS = {
    "registration3-microsoft.extensions.dependencymodel-index.json": (
        22,
        "2.2.0-preview2-26406-04",
        1,
        0,
        105,
    ),
    "registration5-gz-semver2-ogcapi.net.sqlserver-index.json": (2, "0.3.1", 0, 0, 6),
    "registration5-semver1-newtonsoft.json-index.json": (1, "13.0.3", 0, 0, 0),
    "registration-microsoft.extensions.logging.abstractions-index.json": (
        60,
        "5.0.0-rc.2.20475.5",
        0,
        1,
        51,
    ),
    "registration-nlog-index.json": (0, None, 0, 0, 0),
    "registration-nlog-page-1.0.0.505-4.4.0-beta5.json": (64, "4.4.0-beta5", 35, 0, 248),
    "registration-nlog-page-4.4.0-beta6-4.6.0-rc2.json": (64, "4.6.0-rc2", 38, 0, 520),
    "registration-nlog-page-4.6.0-rc3-5.0.0-beta11.json": (28, "5.0.0-beta11", 15, 0, 513),
    "registration-nunit-index.json": (45, "3.12.0+build-632", 1, 1, 33),
    "registration-proxykit-index.json": (2, "2.3.4+build.119", 2, 2, 8),
}
NUSPECS = {
    "nuspec-newtonsoft.json-13.0.3.xml": (
        "Newtonsoft.Json",
        "https://github.com/JamesNK/Newtonsoft.Json",
        "expression",
        10,
    ),
    "nuspec-nlog-4.7.3.xml": ("NLog", "https://github.com/NLog/NLog", None, 24),
    "nuspec-nunit-3.12.0.xml": ("NUnit", "https://github.com/nunit/nunit", "file", 4),
    "nuspec-proxykit-2.3.4.xml": (
        "ProxyKit",
        "https://github.com/ProxyKit/ProxyKit",
        "expression",
        4,
    ),
}
SEARCHES = {
    "search-query-nuke.common.json": (1, "Nuke.Common"),
    "search-query-newtonsoft.json.json": (1, "Newtonsoft.Json"),
    "search-query-packageid-OgcApi.Net.SqlServer.json": (1, "OgcApi.Net.SqlServer"),
    "search-query-blank-2020.json": (11059, "Microsoft.Extensions.Logging.Abstractions"),
    "search-query-entityframework-2016.json": (49232, "EntityFramework"),
}


class SearchVersion(BaseModel):
    model_config = ConfigDict(extra="ignore")
    version: str
    downloads: int


class SearchHit(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str
    version: str
    versions: list[SearchVersion]


class SearchResponse(BaseModel):
    model_config = ConfigDict(extra="ignore")
    totalHits: int
    data: list[SearchHit]


def _ids() -> list[str]:
    return [str(p.relative_to(REAL)) for p in FILES] or ["absent"]


@pytest.fixture(params=FILES or [None], ids=_ids())
def fixture_file(request: pytest.FixtureRequest) -> Path:
    if request.param is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{REAL} is missing in CI")
        pytest.skip(f"{REAL} not present")
    path: Path = request.param
    return path


def _json(path: Path) -> Any:
    return json.loads(path.read_bytes().decode("utf-8-sig"))


def test_real_payload_parses(fixture_file: Path) -> None:
    name = fixture_file.name
    url = f"file://{fixture_file}"
    if name.endswith(".xml"):
        package_id, repository, license_type, deps = NUSPECS[name]
        spec = parse.parse_nuspec(fixture_file.read_bytes(), url)
        assert spec.id == package_id and spec.repository_url == repository
        assert spec.license.get("type") == license_type
        assert sum(len(group) for group in spec.dependencies.values()) == deps
        return
    data = _json(fixture_file)
    if name.startswith("service-index"):
        resources = parse.parse_service_index(data, url)
        assert resources.registration and resources.registration.endswith("/")
        assert resources.package_base and resources.package_base.endswith("/")
        if "github" in name:
            assert resources.catalog is None  # such a feed is fetched by name only
        else:
            assert resources.catalog == "https://api.nuget.org/v3/catalog0/index.json"
            assert resources.registration.endswith("/registration5-gz-semver2/")
    elif name == "catalog0-index.json":
        index = parse.parse_catalog_index(data, url)
        assert index.count == 15387 and [p.count for p in index.items] == [221]
        assert index.commit_ts == "2022-03-24T14:52:07.9550798Z"
    elif name.startswith("catalog0-page"):
        page, items = parse.parse_catalog_page(data, url)
        assert page.count == len(items) == 223
        assert {item.type for item in items} == {DETAILS}
        assert items == sorted(items, key=lambda i: (i.commit_ts, i.leaf_url))
        assert len({i.lower_id for i in items}) > 100
    elif name.startswith("catalog-leaf"):
        _check_leaf(name, data, url)
    elif name.startswith("registration"):
        _check_registration(name, data, url)
    elif name.startswith("search-query"):
        total, first = SEARCHES[name]
        response = SearchResponse.model_validate(data)
        assert response.totalHits == total and response.data[0].id == first
        assert all(hit.versions for hit in response.data)
    elif name.startswith("flatcontainer"):
        versions = data["versions"]
        assert len(versions) == 22 and all(v == v.lower() for v in versions)
    else:
        pytest.fail(f"no conformance check for {name}")


def _check_leaf(name: str, data: dict[str, Any], url: str) -> None:
    item = parse.leaf_item(data, url)
    if "PackageDelete" in name:
        assert (item.type, item.id, item.version) == (DELETE, "netstandard1.4_lib", "1.0.0-test")
        assert item.commit_ts == "2017-11-02T00:40:00.1969812Z"
        return
    assert item.type == DETAILS
    version = parse.version_record(data, RUNTIME)
    assert version.name == item.version
    if "newtonsoft" in name:
        assert item.commit_ts == "2023-04-12T05:19:09.2263596Z"  # "+00:00" spelled as Z
        assert version.release_date == "2023-03-08T07:42:54.647+00:00"
        assert version.licenses["licenseExpression"] == "MIT"
        edges = {r.name: r for r in version.requirements or []}
        assert len(edges) == 6  # two frameworks' groups, flattened per dependency id
        assert edges["microsoft.csharp"].extra["frameworks"] == [
            ".NETStandard1.0",
            ".NETStandard1.3",
        ]
        assert edges["system.xml.xmldocument"].extra["frameworks"] == [".NETStandard1.3"]
        assert all(
            r.constraints == "[4.3.0, )" or r.name == "netstandard.library" for r in edges.values()
        )
    elif "antixss" in name:
        # No `listed` field: published = 1900-01-01 says unlisted; created is the real date.
        assert version.yanked and version.release_date == "2011-01-07T07:49:50.307Z"
        assert version.licenses == {"licenseUrl": "http://wpl.codeplex.com/license"}
    elif "nlog" in name:
        assert not version.yanked and version.licenses == {} and version.requirements == []
    else:
        pytest.fail(f"no expectations for {name}")


def _check_registration(name: str, data: dict[str, Any], url: str) -> None:
    expected_count, last, unlisted, deprecated, edges = REGISTRATIONS[name]
    if "-page-" in name:
        leaves = parse.parse_registration_page(data, url).items or []
    else:
        index = parse.parse_registration_index(data, url)
        if name == "registration-nlog-index.json":
            assert [p.items for p in index.items] == [None, None, None]  # pages not inlined
            assert [p.count for p in index.items] == [64, 64, 28]
        leaves = [leaf for page in index.items for leaf in page.items or []]
    versions = []
    for leaf in leaves:
        assert isinstance(leaf.catalog_entry, dict)
        entry = dict(leaf.catalog_entry)
        assert str(entry["@id"]).startswith("https://api.nuget.org/v3/catalog0/data/")
        versions.append(parse.version_record(entry, RUNTIME))
    assert len(versions) == expected_count
    assert (versions[-1].name if versions else None) == last
    assert sum(v.yanked for v in versions) == unlisted
    assert sum(v.deprecated is not None for v in versions) == deprecated
    assert sum(len(v.requirements or []) for v in versions) == edges
