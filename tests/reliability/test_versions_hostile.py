"""Hostile version strings: every ecosystem's version key is comparable or a ValueError."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssc_cli.models import Ecosystem
from tests.reliability.strategies import nasty_text

versions = st.one_of(nasty_text, st.from_regex(r"[0-9vV][0-9A-Za-z.+~-]{0,12}", fullmatch=True))


@pytest.mark.parametrize("ecosystem", list(Ecosystem), ids=lambda e: e.value)
@settings(max_examples=100, deadline=None)
@given(st.lists(versions, min_size=1, max_size=4))
def test_version_keys_sort_or_refuse(ecosystem: Ecosystem, texts: list[str]) -> None:
    keys = []
    for text in [*texts, "1.0.0"]:
        try:
            keys.append(ecosystem.version_key(text))
        except ValueError as exc:
            assert repr(text)[:40] in str(exc) or ecosystem.value in str(exc)
    sorted(keys)  # a TypeError here is a key that looked valid and is not


def test_a_nuget_version_univers_leaves_empty_is_refused() -> None:
    """univers parses NuGet "V" without an error into a None value that cannot be compared."""
    with pytest.raises(ValueError, match="unparseable nuget version 'V'"):
        Ecosystem.NUGET.version_key("V")
