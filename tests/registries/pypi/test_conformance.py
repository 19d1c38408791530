"""Every genuine PyPI payload in ../shared/fixtures/real/pypi parses into records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ssc_cli.models import Ecosystem, serial_numbers
from ssc_cli.registries.pypi import parse
from tests.conftest import real_fixtures, require_real_fixtures

FILES = real_fixtures("pypi")
# RSS is not read by ssc: its windows (100 releases, 40 projects) are too short for a daily
# cursor (reference/registries.md §1.2), so the listing's serials are used instead.
PAYLOADS = [p for p in FILES if p.suffix != ".xml"]


def _id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def test_fixture_folder_is_read() -> None:
    require_real_fixtures("pypi")
    assert len(PAYLOADS) >= 15


@pytest.mark.parametrize("path", [p for p in PAYLOADS if p.name.startswith("json-api")], ids=_id)
def test_json_api_documents_parse_into_records(path: Path) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    project = parse.parse_project(data, str(path))
    name = Ecosystem.PYPI.normalize_name(project.info.name)
    assert name
    requirements = parse.requirements(project.info.requires_dist)
    for req in requirements:
        assert req.name == Ecosystem.PYPI.normalize_name(req.name)
        assert "~=" not in req.constraints and ".*" not in req.constraints
        assert "extra" not in (req.marker or "")
    if "releases" in data:  # the project endpoint (the version endpoint has no releases)
        assert len(project.releases) == len(data["releases"])
        serials = serial_numbers(Ecosystem.PYPI, project.releases)
        assert sorted(s for s in serials.values() if s >= 0) == list(
            range(sum(1 for s in serials.values() if s >= 0))
        )
        dated = [parse.release_date(files) for files in project.releases.values() if files]
        assert all(d is None or d.endswith("Z") for d in dated)
        assert any(d is not None for d in dated) or not any(project.releases.values())
    signals = parse.license_signals(project.info)
    assert isinstance(signals, dict)


@pytest.mark.parametrize("path", [p for p in PAYLOADS if p.name.startswith("json-api")], ids=_id)
def test_decoding_from_bytes_gives_the_same_project(path: Path) -> None:
    """decode_project (pydantic's JSON parser, issue 16) reads a genuine document as json.loads
    then parse_project did, field for field."""
    body = path.read_bytes()
    decoded = parse.decode_project(body, str(path))
    assert isinstance(decoded, parse.PyPIProject)
    assert decoded == parse.parse_project(json.loads(body), str(path))


def test_celery_extras_are_not_edges_and_markers_are_kept() -> None:
    require_real_fixtures("pypi")
    path = next(p for p in PAYLOADS if p.name == "json-api-celery.json")
    project = parse.parse_project(json.loads(path.read_text()), str(path))
    raw = project.info.requires_dist or []
    edges = parse.requirements(raw)
    assert any("extra ==" in r for r in raw)
    assert len(edges) == sum(1 for r in raw if "extra" not in r)
    assert {e.name for e in edges} >= {"kombu", "billiard"}


def test_flask_repository_and_licence() -> None:
    require_real_fixtures("pypi")
    path = next(p for p in PAYLOADS if p.name == "json-api-flask.json")
    project = parse.parse_project(json.loads(path.read_text()), str(path))
    assert parse.repository_url(project.info) == "https://github.com/pallets/flask"
    assert parse.license_signals(project.info)


@pytest.mark.parametrize("path", [p for p in PAYLOADS if p.name.startswith("simple")], ids=_id)
def test_simple_project_pages_parse_into_files(path: Path) -> None:
    content_type = "application/vnd.pypi.simple.v1+json" if path.suffix == ".json" else "text/html"
    files = parse.parse_simple_project(
        path.read_bytes(), content_type, "https://pypi.org/simple/x/"
    )
    assert files, path
    assert all(f.url.startswith(("http://", "https://")) for f in files)
    if "yanked" in path.name:
        assert any(f.yanked for f in files)


def test_constraint_rewriting() -> None:
    assert parse.securechain_constraints(">=2.0,<3") == ">=2.0, <3"
    assert parse.securechain_constraints("~=1.4.2") == ">=1.4.2, <1.5"
    assert parse.securechain_constraints("~=2.2") == ">=2.2, <3"
    assert (
        parse.securechain_constraints("==1.19.*") == ">=1.19, <1.20"
    )  # the old parser said <1.110
    assert parse.securechain_constraints("!=1.5.*,>=1") == ">=1"
    assert parse.securechain_constraints("") == "any"


def test_requirement_shapes() -> None:
    reqs = parse.requirements(
        [
            "Foo_Bar (>=1.0,<2) ; python_version >= '3.8'",
            "baz[extra1]>=2",
            "direct @ https://example.com/direct-1.0.tar.gz",
            "not a requirement !!",
            "pytz (>dev)",
            "opt ; extra == 'dev'",
        ]
    )
    assert [(r.name, r.raw_constraints, r.constraints, r.marker) for r in reqs] == [
        ("foo-bar", ">=1.0,<2", ">=1.0, <2", 'python_version >= "3.8"'),
        ("baz", ">=2", ">=2", None),
        ("direct", "@ https://example.com/direct-1.0.tar.gz", "any", None),
        ("pytz", ">dev", "any", None),
    ]


def test_a_target_listed_twice_is_one_edge_with_both_constraints() -> None:
    reqs = parse.requirements(["b>=1", "c", "b<3", "b ; python_version < '3.9'", "c>2"])
    assert [(r.name, r.raw_constraints, r.constraints, r.marker) for r in reqs] == [
        ("b", ">=1,<3", ">=1, <3", None),
        ("c", ">2", ">2", None),
        ("b", "", "any", 'python_version < "3.9"'),
    ]


def test_import_names_from_file_lists() -> None:
    wheel = [
        "requests/__init__.py",
        "requests/packages/urllib3/util.py",
        "requests/tests/test_x.py",
        "six.py",
        "_cffi_backend.cpython-311-x86_64-linux-gnu.so",
        "requests-2.0.dist-info/METADATA",
    ]
    assert parse.wheel_import_names(wheel) == [
        "_cffi_backend",
        "requests",
        "requests.packages.urllib3",
        "six",
    ]
    sdist = [
        "pkg-1.0/setup.py",
        "pkg-1.0/src/pkg/__init__.py",
        "pkg-1.0/src/pkg/sub/__init__.py",
        "pkg-1.0/tests/__init__.py",
    ]
    assert parse.sdist_import_names(sdist) == ["pkg", "pkg.sub"]
