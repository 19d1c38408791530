"""Injection from a registry (section 5): hostile dependency names, constraints, versions, end to end.

A fake npm and a fake PyPI serve packages whose dependencies and versions carry quotes,
backticks, statement separators, comments, whole Cypher and SQL statements, NUL bytes, line
breaks, an RTL override, emoji, combining marks, a 100 KB string and a lone surrogate. `ssc
ingest --names-from` runs as a user would; the export must hold every string verbatim, or the
package must be recorded as failed with a reason: exit 0 or 1, never a traceback.
"""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import Ssc
from tests.fakeregistry.hostile import steer
from tests.fakeregistry.npm import NpmApp
from tests.fakeregistry.pypi import PyPIApp
from tests.fakeregistry.server import FakeRegistry
from tests.reliability.injection import LONG

SQL = "'); DROP TABLE packages; --"
CYPHER = "MATCH (n) DETACH DELETE n"


def _ingest(ssc: Ssc, eco: str, names: list[str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    path = ssc.home / "names.txt"
    path.write_text("\n".join(names) + "\n", encoding="utf-8")
    result = ssc("ingest", eco, "--names-from", str(path), "--no-follow-deps", "--json", expect=1)
    assert "Traceback" not in result.stderr
    return json.loads(result.stdout), ssc.export()


def _reasons(summary: dict[str, Any]) -> dict[str, str]:
    return {f["package"]: f["reason"] for f in summary["failures"]}


def test_npm_hostile_dependencies_are_stored_verbatim_or_refused(
    ssc: Ssc, fake_registry: FakeRegistry
) -> None:
    app = NpmApp()
    app.mount(fake_registry)
    deps = {
        "x`y\"'": "'\"`;--/*}",
        "🦀\u202eevil": "^1.0 || " + SQL,
        "e\u0301\u0327": "a\x00b",
        "brace}": CYPHER,
        "big": LONG,
        SQL: "1",  # not installable (spaces): npm's parser skips it, no node, no edge
    }
    app.publish("victim", "1.0.0", dependencies=deps, license=SQL)
    app.publish("victim", "1.0.1-x" + CYPHER.replace(" ", "-"), dependencies={"a\x00b": "1"})
    app.publish("longdep", "1.0.0", dependencies={LONG: "1"})
    app.publish("surrogate", "1.0.0", dependencies={"SURROGATE": "1"})
    steer(fake_registry, "npm", rewrites=[(b'"SURROGATE"', b'"\\ud800"')])

    summary, rows = _ingest(ssc, "npm", ["victim", "longdep", "surrogate"])

    reasons = _reasons(summary)
    assert set(reasons) == {"longdep", "surrogate"}
    assert "over the graph's limit" in reasons["longdep"] and len(reasons["longdep"]) < 500
    assert "no package URL" in reasons["surrogate"]
    packages = {r["name"]: r for r in rows if r["type"] == "package"}
    assert packages["victim"]["status"] == "extracted"
    assert {packages[n]["status"] for n in ("longdep", "surrogate")} == {"pending"}
    versions = {r["name"] for r in rows if r["type"] == "version"}
    assert versions == {"1.0.0", "1.0.1-x" + CYPHER.replace(" ", "-")}
    edges = {(r["to"], r["raw_constraints"]) for r in rows if r["type"] == "requires"}
    expected = {name: spec for name, spec in deps.items() if name != SQL}
    expected["a\x00b"] = "1"
    for name, spec in expected.items():
        assert packages[name]["status"] == "pending"  # the target, named verbatim
        assert (packages[name]["purl"], spec) in edges
    assert len(edges) == len(expected)
    assert not any(SQL in r.get("name", "") for r in rows)
    assert "DROP" not in str(packages.keys())


def test_pypi_hostile_requirements_are_stored_verbatim_or_refused(
    ssc: Ssc, fake_registry: FakeRegistry
) -> None:
    app = PyPIApp()
    fake_registry.mount("pypi", app)
    app.add("victim")
    app.release(
        "victim",
        "1.0",
        requires_dist=[
            f'dep-a (>=1.0) ; python_version == "{SQL}"',
            f"dep-b ; platform_release == '{CYPHER}'",
            f"dep-e ; extra == '{CYPHER}'",  # an extra's requirement: not a runtime edge
            'dep-c[x] ; platform_machine == "\u202e🦀e\u0301"',
            "dep-d >=1,<2",
            f"{SQL} (>=1)",  # not PEP 508: refused or skipped, never a node named after SQL
        ],
        license=SQL,
    )
    app.add("longdep")
    app.release("longdep", "1.0", requires_dist=[f'dep-a ; python_version == "{LONG}"'])
    app.add("longname")
    app.release("longname", "1.0", requires_dist=["a" * 5000])

    summary, rows = _ingest(ssc, "pypi", ["victim", "longdep", "longname", "x" * 100_000])

    reasons = _reasons(summary)
    assert "longname" in reasons and "over the graph's limit" in reasons["longname"]
    assert "over the graph's limit" in reasons["x" * 100_000][:2000]
    assert all(len(r) < 1000 for r in reasons.values())
    packages = {r["name"]: r for r in rows if r["type"] == "package"}
    assert packages["victim"]["status"] == "extracted"
    assert packages["longdep"]["status"] == "extracted"  # a 100 KB marker is only data
    edges = {
        (r["from"], r["to"].rsplit("/", 1)[1]): (r["marker"], r["raw_constraints"])
        for r in rows
        if r["type"] == "requires"
    }
    assert edges == {
        ("pkg:pypi/victim@1.0", "dep-a"): (f'python_version == "{SQL}"', ">=1.0"),
        ("pkg:pypi/victim@1.0", "dep-b"): (f'platform_release == "{CYPHER}"', ""),
        ("pkg:pypi/victim@1.0", "dep-c"): ('platform_machine == "\u202e🦀e\u0301"', ""),
        ("pkg:pypi/victim@1.0", "dep-d"): (None, ">=1,<2"),
        ("pkg:pypi/longdep@1.0", "dep-a"): (f'python_version == "{LONG}"', ""),
    }
    assert not any("DROP" in r.get("name", "") for r in rows)
