"""Reading commands never create a graph, open SQLite read-only; graph URIs are checked."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from ssc_cli.errors import ConfigError, GraphMissing, GraphUnavailable
from ssc_cli.graph.sqlite import SqliteStore
from ssc_cli.settings import load_settings
from tests.conftest import Ssc
from tests.graph_stores import pkg, req, ver


def _graph_with_one_package(path: Path) -> None:
    store = SqliteStore(path)
    store.migrate()
    store.write_packages([pkg("demo", [ver("1.0", [req("dep", ">=1")])])])
    store.close()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    "command", [("graph", "show", "pypi", "demo"), ("graph", "export"), ("vulns", "show", "X-1")]
)
def test_reading_a_missing_graph_is_exit_2_and_creates_nothing(
    ssc: Ssc, tmp_path: Path, command: tuple[str, ...]
) -> None:
    graph = tmp_path / "nowhere" / "graph.sqlite"
    result = ssc(*command, expect=2, env={"SSC_GRAPH_URI": f"sqlite:///{graph}"})
    assert f"there is no graph at {graph}" in result.stderr
    assert "ssc ingest" in result.stderr
    assert not graph.parent.exists()


def test_missing_graph_json_error_line(ssc: Ssc, tmp_path: Path) -> None:
    graph = tmp_path / "graph-absent.sqlite"
    result = ssc(
        "--json", "graph", "show", "pypi", "demo", expect=2,
        env={"SSC_GRAPH_URI": f"sqlite:///{graph}"},
    )  # fmt: skip
    line = json.loads(result.stdout)
    assert line["exit_code"] == 2 and line["kind"] == "GraphMissing"


def test_show_and_export_read_without_changing_the_file(ssc: Ssc, tmp_path: Path) -> None:
    graph = tmp_path / "kept.sqlite"
    _graph_with_one_package(graph)
    before = _digest(graph)
    env: dict[str, str | None] = {"SSC_GRAPH_URI": f"sqlite:///{graph}"}
    shown = json.loads(ssc("graph", "show", "pypi", "demo", "--json", env=env).stdout)
    assert [v["name"] for v in shown["versions"]] == ["1.0"]
    exported = ssc("graph", "export", env=env).stdout.splitlines()
    assert any('"demo"' in line for line in exported)
    assert _digest(graph) == before


def test_a_read_only_store_refuses_writes(tmp_path: Path) -> None:
    graph = tmp_path / "ro.sqlite"
    _graph_with_one_package(graph)
    store = SqliteStore.from_uri(f"sqlite:///{graph}", read_only=True)
    try:
        store.migrate()  # current schema: nothing to do, no write attempted
        assert store.show(pkg("demo", []).ecosystem, "demo") is not None
        with pytest.raises(GraphUnavailable):
            store.write_packages([pkg("other", [ver("2.0")])])
    finally:
        store.close()


def test_a_graph_from_an_older_ssc_opened_read_only_says_how_to_upgrade(tmp_path: Path) -> None:
    graph = tmp_path / "old.sqlite"
    _graph_with_one_package(graph)
    db = sqlite3.connect(graph)
    db.execute("DROP INDEX IF EXISTS versions_unattributed")
    db.execute("ALTER TABLE versions DROP COLUMN unscored_vulnerabilities")
    db.commit()
    db.close()
    store = SqliteStore.from_uri(f"sqlite:///{graph}", read_only=True)
    try:
        with pytest.raises(GraphMissing, match="older ssc"):
            store.migrate()
    finally:
        store.close()


@pytest.mark.parametrize(
    ("uri", "says"),
    [
        ("sqlite://graph.sqlite", "sqlite:///graph.sqlite"),
        ("sqlite:///", "names no file"),
        ("bolt://", "names no host"),
        ("bolt://:7687", "names no host"),
        ("bolt://neo4j:notaport", "not a number"),
        ("bolt://neo4j:99999", "not a number"),
        ("neo4j://neo 4j:7687", "white space"),
        ("bolt://neo4j:7687/graphs", "SSC_GRAPH_DATABASE"),
        ("bolt://neo4j:7687?region=x", "neo4j://"),
        ("http://neo4j:7474", "must start with"),
    ],
)
def test_malformed_graph_uris_are_configuration_errors(
    uri: str, says: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SSC_GRAPH_URI", uri)
    with pytest.raises(ConfigError, match="SSC_GRAPH_URI") as raised:
        load_settings()
    assert says in str(raised.value)


@pytest.mark.parametrize(
    "uri",
    ["sqlite:///graph.sqlite", "sqlite:////abs/graph.sqlite", "bolt://neo4j:7687",
     "neo4j+s://db.example", "neo4j://db.example:7687?policy=eu"],
)  # fmt: skip
def test_well_formed_graph_uris_are_accepted(
    uri: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SSC_GRAPH_URI", uri)
    assert load_settings().graph_target == uri


def test_a_malformed_bolt_uri_exits_2_without_driver_noise(ssc: Ssc) -> None:
    result = ssc("graph", "show", "pypi", "x", expect=2, env={"SSC_GRAPH_URI": "bolt://:x"})
    assert "Traceback" not in result.stderr and "DNS" not in result.stderr
    assert "SSC_GRAPH_URI" in result.stderr and len(result.stderr.strip().splitlines()) <= 2
