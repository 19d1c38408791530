"""The message schema: what depex sends is accepted, what cannot succeed is rejected with its field."""

from __future__ import annotations

import json

import pytest

from ssc_cli.models import Ecosystem
from ssc_cli.queue.message import ExtractionMessage, Rejected, parse_entry


def _data(**body: object) -> dict[str, str]:
    return {"data": json.dumps(body)}


def test_depex_payload_is_accepted() -> None:
    message = parse_entry(
        _data(
            node_type="PyPIPackage",
            package=" Requests ",
            vendor="n/a",
            repository_url=None,
            moment="2025-01-01T00:00:00",
            constraints=">= 2.0",
            parent_id="4:abc:12",
            parent_version=None,
            refresh=False,
        )
    )
    assert isinstance(message, ExtractionMessage)
    assert message.ecosystem() is Ecosystem.PYPI and message.package == "Requests"
    assert message.parent_id == "4:abc:12" and message.constraints == ">= 2.0"


@pytest.mark.parametrize("url", ["n/a", None, "", "https://github.com/psf/requests"])
def test_repository_url_accepts_na_null_and_urls(url: str | None) -> None:
    message = parse_entry(_data(node_type="NPMPackage", package="x", repository_url=url))
    assert isinstance(message, ExtractionMessage)


def test_parent_version_name_is_the_same_field_and_ids_may_be_numbers() -> None:
    message = parse_entry(
        _data(
            node_type="CargoPackage",
            package="serde",
            parent_version_name="pkg:cargo/a",
            parent_id=7,
        )
    )
    assert isinstance(message, ExtractionMessage)
    assert message.parent_version == "pkg:cargo/a" and message.parent_id == "7"


@pytest.mark.parametrize(
    ("fields", "reason", "needle"),
    [
        ({"data": "{oops"}, "invalid_json", "not JSON"),
        ({"data": "[1, 2]"}, "invalid_message", "JSON object"),
        ({"other": "x"}, "no_data", "no `data`"),
        (_data(node_type="PyPIPackage"), "invalid_message", "package"),
        (
            _data(node_type="PyPIPackage", package="x", refresh="maybe"),
            "invalid_message",
            "refresh",
        ),
        (
            _data(node_type="PyPIPackage", package="x", repository_url="ftp:/x"),
            "invalid_message",
            "repository_url",
        ),
        (_data(node_type="GoPackage", package="x"), "unsupported_type", "GoPackage"),
        (
            _data(node_type="MavenPackage", package="just-artifact"),
            "invalid_message",
            "group:artifact",
        ),
    ],
)
def test_rejections_name_the_problem(fields: dict[str, str], reason: str, needle: str) -> None:
    rejected = parse_entry(fields)
    assert isinstance(rejected, Rejected)
    assert rejected.reason == reason and needle in rejected.error


def test_to_fields_round_trips() -> None:
    message = ExtractionMessage.request(
        Ecosystem.RUBYGEMS, "rails", constraints="~> 7", parent_id="rf:1", refresh=True
    )
    fields = message.to_fields()
    assert json.loads(fields["data"])["node_type"] == "RubyGemsPackage"
    assert json.loads(fields["data"])["vendor"] == "n/a"
    assert parse_entry(fields) == message
