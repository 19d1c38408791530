"""Each registry's naming rule (ssc_cli/registries/<eco>/names.py): real names pass, text no
registry accepts (quotes, Cypher and SQL metacharacters, whitespace, NUL) is refused with a
reason before anything fetches or stores it (issue 15.5)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssc_cli import registries
from ssc_cli.models import Ecosystem
from ssc_cli.queue.message import INVALID_MESSAGE, ExtractionMessage, Rejected, parse_entry
from tests.conftest import Ssc

REAL = {
    Ecosystem.PYPI: ["requests", "Django", "zope.interface", "a", "backports_abc", "ruamel.yaml"],
    Ecosystem.NPM: ["lodash", "@types/node", "JSONStream", "left-pad", "@babel/core", "lodash.get"],
    Ecosystem.MAVEN: ["org.apache.commons:commons-lang3", "com.google.guava:guava", "junit:junit"],
    Ecosystem.NUGET: ["Newtonsoft.Json", "System.Text.Json", "xunit.runner.visualstudio"],
    Ecosystem.CARGO: ["serde", "serde_json", "tokio-util", "a"],
    Ecosystem.RUBYGEMS: ["rails", "net-http", "ruby_parser", "activesupport", "nokogiri"],
}

HOSTILE = [
    "'); DROP TABLE packages; --",
    "x` MATCH (n) DETACH DELETE n //",
    'a"b',
    "a;b",
    "a b",
    "a\x00b",
    "a\nb",
    "{x}",
    "",
    "\u202eevil",
]


@pytest.mark.parametrize("eco", list(Ecosystem))
def test_real_names_pass(eco: Ecosystem) -> None:
    for name in REAL[eco]:
        assert registries.name_problem(eco, name) is None, name


@pytest.mark.parametrize("eco", list(Ecosystem))
def test_hostile_names_are_refused_with_the_rule(eco: Ecosystem) -> None:
    for name in HOSTILE:
        problem = registries.name_problem(eco, name)
        assert problem is not None, name
        assert problem.startswith(f"not a valid {eco.value} package name (")


def test_limits() -> None:
    assert registries.name_problem(Ecosystem.CARGO, "a" * 64) is None
    assert registries.name_problem(Ecosystem.CARGO, "a" * 65) is not None
    assert registries.name_problem(Ecosystem.NUGET, "a" * 101) is not None
    assert registries.name_problem(Ecosystem.NPM, "a" * 215) is not None
    assert registries.name_problem(Ecosystem.MAVEN, "no-colon") is not None
    assert registries.name_problem(Ecosystem.MAVEN, "a:b:c") is not None
    assert registries.name_problem(Ecosystem.PYPI, "-leading") is not None


@given(st.text(min_size=1, max_size=40), st.sampled_from(list(Ecosystem)))
def test_no_name_with_whitespace_quotes_or_control_characters_passes(
    text: str, eco: Ecosystem
) -> None:
    if any(c.isspace() or not c.isprintable() or c in '"`;{}\\' for c in text):
        assert registries.name_problem(eco, text) is not None


@pytest.mark.parametrize("name", HOSTILE[:4])
def test_a_queue_message_with_a_hostile_name_is_rejected_naming_the_field(name: str) -> None:
    data = {"node_type": "PyPIPackage", "package": name}
    entry = parse_entry({"data": json.dumps(data)})
    assert isinstance(entry, Rejected)
    assert entry.reason == INVALID_MESSAGE
    assert entry.error.startswith("package: not a valid pypi package name")


def test_a_queue_message_with_a_real_name_is_accepted() -> None:
    entry = parse_entry(ExtractionMessage.request(Ecosystem.NPM, "@types/node").to_fields())
    assert isinstance(entry, ExtractionMessage)


def test_names_from_with_a_hostile_line_is_exit_2_naming_it(ssc: Ssc) -> None:
    names = ssc.home / "names.txt"
    names.write_text("lodash\n'\");DROP_TABLE\n", encoding="utf-8")
    result = ssc("ingest", "npm", "--names-from", str(names), expect=2)
    assert "not a valid npm package name" in result.stderr
    assert "DROP_TABLE" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_queue_message_whose_purl_the_graph_cannot_key_is_rejected_before_any_link() -> None:
    # PEP 508 sets no length limit: the name passes PyPI's rule, but not the graph's key limit,
    # so it is a dead letter instead of a parent link the store would refuse.
    entry = parse_entry({"data": json.dumps({"node_type": "PyPIPackage", "package": "a" * 5000})})
    assert isinstance(entry, Rejected)
    assert entry.reason == INVALID_MESSAGE
    assert "over the graph's limit of 4096" in entry.error
