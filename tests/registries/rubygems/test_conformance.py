"""Every genuine RubyGems payload of ../shared/fixtures/real/rubygems parses into records."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path

import pytest
from univers.version_range import GemVersionRange

from ssc_cli.http import Http, HttpConfig
from ssc_cli.models import PackageRecord
from ssc_cli.registries.rubygems.client import RubyGemsRegistry
from ssc_cli.registries.rubygems.compact_index import (
    VersionsIndex,
    parse_info,
    parse_versions_lines,
    split_header,
)
from ssc_cli.registries.rubygems.records import (
    API_VERSIONS,
    ApiGem,
    ApiVersionDetail,
    collapse_versions,
    development_requirements,
    group_entries,
    newest,
)
from ssc_cli.settings import Settings
from tests.conftest import SHARED_FIXTURES, real_fixtures, require_real_fixtures
from tests.fakeregistry.server import NOT_FOUND, FakeRegistry, Request, Response

FILES = real_fixtures("rubygems")


def _id(path: Path) -> str:
    return str(path.relative_to(SHARED_FIXTURES))


@pytest.fixture(params=FILES or [None], ids=[_id(p) for p in FILES] or ["absent"])
def payload(request: pytest.FixtureRequest) -> Path:
    require_real_fixtures("rubygems")
    path: Path = request.param
    return path


def test_every_payload_parses(payload: Path) -> None:
    name = payload.name
    if name.startswith("compact-index-info-"):
        _check_info(payload)
    elif name.startswith("compact-index-versions"):
        _check_versions_file(payload)
    elif name.startswith("api-v1-versions-"):
        _check_api_versions(payload)
    elif name.startswith("api-v1-gems-"):
        _check_api_gem(payload)
    elif name.startswith("api-v2-rubygems-"):
        _check_api_v2(payload)
    else:
        pytest.fail(f"no parser claims {payload}: add one")


# Per file: (number of lines, distinct version numbers, a version, its runtime deps).
INFO_EXPECTED = {
    "activesupport": (
        355,
        355,
        "6.0.3.1",
        {
            ("concurrent-ruby", ">= 1.0.2, ~> 1.0"),
            ("i18n", "< 2, >= 0.7"),
            ("minitest", "~> 5.1"),
            ("tzinfo", "~> 1.1"),
            ("zeitwerk", ">= 2.2.2, ~> 2.2"),
        },
    ),
    "nokogiri": (
        441,
        121,
        "1.3.1",
        {("hoe", ">= 1.12.2"), ("racc", "any"), ("rake-compiler", "any"), ("rexical", "any")},
    ),
    "public_suffix": (41, 41, "1.0.0", set()),
    "rack": (90, 90, "1.0.0", set()),
}


def _check_info(path: Path) -> None:
    gem = path.name.removeprefix("compact-index-info-")
    lines, numbers, probe, deps = INFO_EXPECTED[gem]
    entries = parse_info(path.read_text(), str(path))
    assert len(entries) == lines
    grouped = group_entries(entries)
    assert len(grouped) == numbers
    records = collapse_versions(grouped, [])
    assert len({r.name for r in records}) == numbers  # one Version per number, never per platform
    record = next(r for r in records if r.name == probe)
    assert {(q.name, q.constraints) for q in record.requirements or []} >= deps
    for record in records:
        for requirement in record.requirements or []:
            assert requirement.name == requirement.name.lower() and requirement.kind == "runtime"
            if requirement.constraints != "any":
                GemVersionRange.from_native(requirement.constraints)  # the solver can read it
    assert all(e.checksum for e in entries)
    assert newest(list(grouped)) is not None
    if gem == "nokogiri":
        platforms = next(r for r in records if r.name == "1.3.1").extra["platforms"]
        assert platforms == ["ruby", "java", "x86-mingw32", "x86-mswin32"]
    if gem == "activesupport":
        assert next(r for r in records if r.name == "6.0.3.1").extra == {
            "platforms": ["ruby"],
            "required_ruby_version": ">= 2.5.0",
        }


def _check_versions_file(path: Path) -> None:
    data = path.read_bytes()
    header, start = split_header(data, str(path))
    assert header == {"created_at": "2017-03-27T04:38:13+00:00"}
    lines = list(parse_versions_lines(data[start:].decode(), str(path)))
    assert len(lines) == 16 and "---" not in {line.name for line in lines}
    index = VersionsIndex().extend(lines)
    names = list(index.names())
    assert names[:3] == ["-", ".cat", "0mq"]  # a gem really named "-", then ".cat"
    assert len(index.gems["0mq"].live) == 12
    # `1pass -0.1.2` yanks 0.1.2; its MD5 is the later line's
    assert list(index.gems["1pass"].live) == ["0.1.0", "0.1.1"]
    assert index.gems["1pass"].md5 == "abcdef"


def _check_api_versions(path: Path) -> None:
    api = API_VERSIONS.validate_python(json.loads(path.read_bytes()))
    expected = {
        "statesman": (35, 35, {"ruby"}),
        "nokogiri": (650, 146, None),
        "rubystats": (2, 2, {"ruby"}),
        "rails": (339, 339, {"ruby"}),
    }[path.stem.removeprefix("api-v1-versions-")]
    entries, numbers, platforms = expected
    assert len(api) == entries
    assert len({v.number for v in api}) == numbers
    if platforms is not None:
        assert {v.platform for v in api} == platforms
    else:
        assert {"ruby", "java", "x86_64-linux", "arm64-darwin"} <= {v.platform for v in api}
    assert all(v.created_at for v in api)
    signals = [v.licenses for v in api if v.licenses]
    assert signals and all(isinstance(s, list) for s in signals)


def _check_api_gem(path: Path) -> None:
    gem = ApiGem.model_validate(json.loads(path.read_bytes()))
    expected = {
        "activerecord": "https://github.com/rails/rails",
        "nokogiri": "https://github.com/sparklemotion/nokogiri",
        "rubystats": "https://github.com/phillbaker/rubystats",
        "rails": "https://github.com/rails/rails",
    }
    assert gem.name == path.stem.removeprefix("api-v1-gems-")
    assert gem.repository() == expected[gem.name or ""]
    assert gem.licenses == ["MIT"]


def _check_api_v2(path: Path) -> None:
    detail = ApiVersionDetail.model_validate(json.loads(path.read_bytes()))
    assert detail.number == "0.3.0" and detail.dependencies.runtime == []
    dev = development_requirements(detail)
    assert [(r.name, r.constraints, r.kind) for r in dev] == [
        ("hoe", ">= 1.7.0", "dev"),
        ("minitest", "< 5.0, >= 4.2", "dev"),
    ]


class _FixtureApp:
    """Serves genuine nokogiri payloads as rubygems.org would."""

    def __init__(self) -> None:
        root = SHARED_FIXTURES / "rubygems"
        self.files = {
            "/info/nokogiri": root / "dependabot" / "compact-index-info-nokogiri",
            "/api/v1/versions/nokogiri.json": root / "ecosystems" / "api-v1-versions-nokogiri.json",
        }

    def handle(self, request: Request) -> Response:
        path = self.files.get(request.path)
        if path is None:
            return NOT_FOUND
        content_type = "application/json" if path.suffix == ".json" else "text/plain"
        return Response(200, path.read_bytes(), content_type=content_type)


def test_real_nokogiri_through_the_client(tmp_path: Path) -> None:
    require_real_fixtures("rubygems")
    with FakeRegistry() as server:
        server.mount("rubygems", _FixtureApp())
        settings = Settings(
            rubygems_url=server.url("rubygems"),
            cache_dir=tmp_path / "cache",
            http_rate_limit=False,
            import_names=False,
        )
        http = Http(HttpConfig(user_agent="test", rate_limits=False, cache_dir=None))

        async def go() -> PackageRecord:
            async with http:
                return await RubyGemsRegistry(settings, http).fetch("nokogiri")

        record = asyncio.run(go())
    assert record.name == "nokogiri" and len(record.versions) == 121
    assert record.repository_url == "https://github.com/sparklemotion/nokogiri"
    assert record.vendor == "sparklemotion"
    by_name = {v.name: v for v in record.versions}
    old = by_name["1.3.1"]
    assert old.extra["platforms"] == ["ruby", "java", "x86-mingw32", "x86-mswin32"]
    assert old.release_date == "2009-07-25T18:05:05.000Z"  # /info predates created_at: API's
    assert old.licenses == {}  # the API says null
    recent = by_name["1.10.9"]
    assert recent.licenses == {"licenses": ["MIT"]}
    assert [(r.name, r.constraints) for r in recent.requirements or []] == [
        ("mini_portile2", "~> 2.4.0")
    ]
    assert recent.release_date == "2020-03-01T19:05:49.040Z"  # the ruby build's, not java's
    assert (
        record.token
        == hashlib.md5(
            (SHARED_FIXTURES / "rubygems/dependabot/compact-index-info-nokogiri").read_bytes()
        ).hexdigest()
    )
