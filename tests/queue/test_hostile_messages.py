"""Hostile queue entries: any fields, any `data`; a message or a Rejected with a reason, only."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ssc_cli.queue.message import ExtractionMessage, Rejected, parse_entry
from tests.reliability.strategies import json_values, mutated, nasty_text

VALID: dict[str, Any] = {
    "node_type": "PyPIPackage",
    "package": "requests",
    "version": "2.0",
    "constraints": ">=2.0",
    "parent_id": "abc",
    "parent_version": "1.0",
    "refresh": False,
}

data = st.one_of(
    mutated(VALID, max_changes=3).map(json.dumps),
    json_values(list(VALID)).map(json.dumps),
    nasty_text,
)
fields = st.one_of(
    st.fixed_dictionaries({"data": data}),
    st.dictionaries(nasty_text, nasty_text, max_size=3),
    st.fixed_dictionaries({"data": data}, optional={"attempt": nasty_text, "extra": nasty_text}),
)


@settings(max_examples=60, deadline=None)
@given(fields)
def test_any_entry_is_a_message_or_rejected_with_a_reason(entry: dict[str, str]) -> None:
    result = parse_entry(entry)
    if isinstance(result, Rejected):
        assert result.reason and result.error
        assert len(result.error) < 20_000
    else:
        assert isinstance(result, ExtractionMessage)
        assert result.ecosystem() is not None
        # Stored verbatim: the package name is what the producer sent, not an interpretation.
        sent = json.loads(entry["data"])
        assert result.package == sent["package"].strip() or result.package == sent["package"]
