"""Hostile crates.io input: sparse index lines, API documents and database-dump rows."""

from __future__ import annotations

import io
import json
import sqlite3
import tarfile
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssc_cli.errors import MalformedPayload
from ssc_cli.registries.cargo import dump, parse
from tests.reliability.strategies import json_values, mutated, nasty_text, survives

URL = "http://127.0.0.1:1/vi/ct/victim"

LINE: dict[str, Any] = {
    "name": "victim",
    "vers": "1.0.0",
    "deps": [
        {"name": "serde", "req": "^1", "kind": None, "optional": False, "target": None},
        {"name": "alias", "package": "real", "req": "=2", "kind": "dev", "optional": True},
    ],
    "cksum": "00",
    "features": {},
    "yanked": False,
    "pubtime": "2024-01-01T00:00:00Z",
}

API: dict[str, Any] = {
    "crate": {"id": "victim", "name": "victim", "repository": "https://github.com/o/v"},
    "versions": [{"num": "1.0.0", "created_at": "2024-01-01T00:00:00Z", "license": "MIT"}],
}

lines = st.one_of(
    mutated(LINE, max_changes=3).map(json.dumps),
    json_values(list(LINE)).map(json.dumps),
    nasty_text,
)


@settings(max_examples=100, deadline=None)
@given(st.lists(lines, min_size=1, max_size=4))
def test_sparse_index_lines_leave_only_malformed_payload(body: list[str]) -> None:
    crate = survives(lambda: parse.parse_index_file("\n".join(body), "victim", URL), "victim")
    if crate is not None:
        for version in crate.versions:
            parse.requirements(
                version.dependencies, frozenset({"runtime", "dev", "build", "optional"})
            )


@settings(max_examples=100, deadline=None)
@given(st.one_of(mutated(API, max_changes=3), json_values(["crate", "versions", "errors"])))
def test_api_documents_leave_only_ssc_errors(doc: Any) -> None:
    survives(lambda: parse.parse_api_crate(doc, "victim", URL), "victim")
    survives(lambda: parse.parse_api_dependencies(doc, "victim", URL), "victim")


def _dump(files: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode("utf-8", "surrogatepass")
            info = tarfile.TarInfo(f"2024-01-01-000000/data/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


cells = st.one_of(nasty_text.filter(lambda t: "\ud800" not in t), st.integers().map(str))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(cells, cells, cells, cells, cells), max_size=4),
    st.lists(st.tuples(cells, cells, cells, cells, cells, cells), max_size=4),
)
def test_dump_rows_leave_only_malformed_payload(
    tmp_path_factory: pytest.TempPathFactory,
    crates: list[tuple[str, ...]],
    versions: list[tuple[str, ...]],
) -> None:
    """Rows of crates.csv and versions.csv with hostile cells: the index is built or refused."""
    import csv

    def table(header: list[str], rows: list[tuple[str, ...]]) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
        return out.getvalue()

    archive = tmp_path_factory.mktemp("dump") / "db-dump.tar.gz"
    archive.write_bytes(
        _dump(
            {
                "metadata.json": json.dumps({"timestamp": "2024-01-01T00:00:00Z"}),
                "crates.csv": table(["id", "name", "created_at", "repository", "homepage"], crates),
                "versions.csv": table(
                    ["id", "crate_id", "num", "created_at", "yanked", "license"], versions
                ),
                "dependencies.csv": table(
                    [
                        "version_id",
                        "crate_id",
                        "req",
                        "optional",
                        "kind",
                        "target",
                        "explicit_name",
                    ],
                    [],
                ),
            }
        )
    )
    try:
        dump.build_index(
            archive,
            archive.with_suffix(".sqlite"),
            kinds=frozenset({"runtime"}),
            marker="m",
            normalize_repository=lambda url: url,
        )
    except MalformedPayload as exc:
        assert "crates.io dump" in str(exc) and str(archive) in str(exc), exc
    except sqlite3.Error as exc:  # pragma: no cover - the assertion names it
        raise AssertionError(f"a dump row reached SQLite unconverted: {exc!r}") from exc
