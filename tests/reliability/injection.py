"""Strings that try to break out of a SQL or Cypher statement, for the injection tests (section 5).

Quotes, backticks, statement separators, comments, braces, whole statements, NUL bytes, line
breaks, an RTL override, an emoji, combining marks and a 100 KB string, mixed with any text.
Lone surrogates are not here: they are not text (no store can hold them), and the registry and
queue tests show they are refused where they enter.
"""

from __future__ import annotations

from hypothesis import strategies as st

LONG = "x" * 100_000
HOSTILE = [
    "'",
    '"',
    "`",
    ";",
    "--",
    "/*",
    "*/",
    "}",
    "{",
    "\\",
    "$name",
    "MATCH (n) DETACH DELETE n",
    "'); DROP TABLE packages; --",
    '"}) MATCH (n) DETACH DELETE n //',
    "`) CALL db.clear() //",
    "' OR '1'='1",
    "\x00",
    "a\x00b",
    "\n",
    "a\r\nb",
    "\u202eevil\u202c",
    "🦀💥",
    "e\u0301\u0327",  # combining acute and cedilla
    LONG,
]

_piece = st.one_of(st.sampled_from(HOSTILE[:-1]), st.text(max_size=8))
_short = st.one_of(
    st.sampled_from(HOSTILE[:-1]),
    st.text(max_size=40),
    st.lists(_piece, min_size=1, max_size=4).map("".join),
)
hostile_text = st.one_of(_short, st.just(LONG))
# Names and versions are keys: they need a purl (something besides blanks), and one no longer
# than the graph's MAX_PURL (a 100 KB name is refused before the write, see test_injection_e2e).
hostile_name = _short.filter(lambda s: bool(s.strip()))
