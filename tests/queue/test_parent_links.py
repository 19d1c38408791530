"""Parent links (the queue's part of the GraphStore contract) on every store implementation."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ssc_cli.graph.interface import GraphStore, ParentLink
from tests import cypher_emulator
from tests.graph_stores import KINDS, PYPI, open_store, pkg, req, ver

_ELEMENT_ID = re.compile(r"elementId\((\w+)\)")


@pytest.fixture(params=KINDS)
def store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[GraphStore]:
    if request.param == "neo4j-emulated":
        # ocg has no elementId(); its integer id() as text plays the part (opaque strings both).
        run = cypher_emulator.Transaction.run

        def rewritten(self: Any, query: str, parameters: dict[str, Any] | None = None) -> Any:
            return run(self, _ELEMENT_ID.sub(r"toString(id(\1))", query), parameters)

        monkeypatch.setattr(cypher_emulator.Transaction, "run", rewritten)
    made = open_store(request.param, tmp_path, monkeypatch)
    yield made
    made.close()


def test_requirement_file_and_version_parents(store: GraphStore) -> None:
    store.write_packages(
        [pkg("app", [ver("1.0", [req("lib", ">=1", marker='python_version >= "3.8"')])])]
    )
    rf = store.add_requirement_file("requirements.txt", "PyPI")
    version = store.version_ids(PYPI, ["pkg:pypi/app@1.0", "pkg:pypi/app@9.9"])
    assert list(version) == ["pkg:pypi/app@1.0"]
    vid = version["pkg:pypi/app@1.0"]
    unknown = store.link_parents(
        PYPI,
        [
            ParentLink(rf, "app", ">=1"),
            ParentLink(rf, "other", "any"),
            ParentLink(vid, "lib", "<5"),  # the version's own edge stays as the registry gave it
            ParentLink(vid, "extra-dep", "==2"),
            ParentLink("999999", "lost", "any"),
        ],
    )
    assert unknown == ["999999"]
    # Idempotent: the same links again change nothing, new constraints update the file edge.
    store.link_parents(PYPI, [ParentLink(rf, "app", ">=2"), ParentLink(vid, "extra-dep", "==2")])
    assert store.parent_edges(rf) == [
        {"to": "pkg:pypi/app", "constraints": ">=2", "parent_version_name": None},
        {"to": "pkg:pypi/other", "constraints": "any", "parent_version_name": None},
    ]
    assert store.parent_edges(vid) == [
        {"to": "pkg:pypi/extra-dep", "constraints": "==2", "parent_version_name": "pkg:pypi/app"},
        {"to": "pkg:pypi/lib", "constraints": ">=1", "parent_version_name": "pkg:pypi/app"},
    ]
    statuses = store.statuses(PYPI, ["other", "extra-dep", "lost"])
    assert statuses == {"other": "pending", "extra-dep": "pending"}
