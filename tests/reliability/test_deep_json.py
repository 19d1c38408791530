"""JSON nested past the interpreter's recursion limit is bad JSON, never a RecursionError.

`json.loads(b"[" * 5000)` raises RecursionError, not ValueError; before ssc_cli/json_payload.py
it left every parser that decodes a payload (a registry body, a queue message, an OSV file, a
names file) as an internal error, and a queue message with it crashed each worker it reached.
"""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path

import pytest

from ssc_cli import json_payload
from ssc_cli.errors import MalformedPayload
from ssc_cli.http import HttpResponse
from ssc_cli.models import read_names_file
from ssc_cli.queue.message import INVALID_JSON, Rejected, parse_entry
from ssc_cli.registries.cargo import dump
from ssc_cli.registries.cargo import parse as cargo
from ssc_cli.registries.pypi import parse as pypi
from ssc_cli.vulns.sync import read_path

URL = "http://127.0.0.1:1/victim"
DEEP = "[" * 5_000  # 5 KB: well past CPython's default limit of 1,000 frames
DEEP_OBJECT = '{"a":' * 5_000


@pytest.mark.parametrize("text", [DEEP, DEEP_OBJECT, DEEP + "]" * 5_000])
def test_loads_turns_too_deep_into_a_decode_error(text: str) -> None:
    with pytest.raises(json.JSONDecodeError, match="nested too deeply"):
        json_payload.loads(text)
    with pytest.raises(json.JSONDecodeError, match="nested too deeply"):
        json_payload.loads(text.encode())


def test_loads_still_decodes_what_json_does() -> None:
    assert json_payload.loads(b'{"a": [1, {"b": null}]}') == {"a": [1, {"b": None}]}
    assert json_payload.loads("[" * 100 + "]" * 100) == json.loads("[" * 100 + "]" * 100)
    with pytest.raises(json.JSONDecodeError):
        json_payload.loads("{")


def test_a_registry_body_is_malformed_payload_naming_the_url() -> None:
    with pytest.raises(MalformedPayload, match=f"{URL}: body is not valid JSON"):
        HttpResponse(URL, 200, {}, DEEP.encode()).json()


def test_pypi_simple_json_pages() -> None:
    kind = "application/vnd.pypi.simple.v1+json"
    with pytest.raises(MalformedPayload, match=URL):
        pypi.parse_simple_listing(DEEP.encode(), kind, URL)
    with pytest.raises(MalformedPayload, match=URL):
        pypi.parse_simple_project(DEEP.encode(), kind, URL)


def test_a_crates_index_line() -> None:
    good = json.dumps({"name": "victim", "vers": "1.0.0", "deps": []})
    with pytest.raises(MalformedPayload, match="victim"):
        cargo.parse_index_file(f"{good}\n{DEEP}\n", "victim", URL)


def test_the_crates_dump_metadata() -> None:
    with pytest.raises(MalformedPayload, match="metadata.json is unusable"):
        dump._load_metadata(sqlite3.connect(":memory:"), io.BytesIO(DEEP.encode()), frozenset())


def test_a_queue_message_is_an_invalid_json_dead_letter() -> None:
    rejected = parse_entry({"data": DEEP})
    assert isinstance(rejected, Rejected)
    assert rejected.reason == INVALID_JSON


def test_an_osv_file_is_an_unreadable_item(tmp_path: Path) -> None:
    path = tmp_path / "GHSA-deep.json"
    path.write_text(DEEP)
    (item,) = read_path(path)
    assert item.error is not None and "nested too deeply" in item.error


def test_a_names_file_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="nested too deeply"):
        read_names_file(DEEP, lambda name: None)
