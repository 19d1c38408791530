"""Hypothesis strategies for hostile payloads, and the check every parser must pass under them.

A parser given anything may return, or raise one of ssc's own errors (SscError) whose message
names the package or URL: never a KeyError, TypeError, RecursionError or a third-party error.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import strategies as st

from ssc_cli.errors import SscError

T = TypeVar("T")

# Strings an attacker would try: quoting, query languages, shells, paths, control characters.
NASTY = [
    "",
    " ",
    "'",
    '"',
    "`",
    "\\",
    "\x00",
    "a\x00b",
    "\u202e",
    "\ud800",
    "'; DROP TABLE packages; --",
    '" OR 1=1 --',
    "x') RETURN n //",
    "}) MATCH (n) DETACH DELETE n //",
    "`Label` SET n:Admin",
    "$(rm -rf /)",
    "${jndi:ldap://127.0.0.1/a}",
    "../../../../etc/passwd",
    "%2e%2e%2f",
    "file:///etc/passwd",
    "http://169.254.169.254/latest/meta-data/",
    "\r\nX-Injected: 1",
    "<script>",
    "&amp;&#0;",
    "NaN",
    "-1",
    "9" * 400,
    "x" * 2_000,
    "é" * 50,
    "🦀",
]

nasty_text = st.one_of(
    st.sampled_from(NASTY),
    st.text(alphabet=st.characters(codec=None), max_size=40),  # surrogates, NUL, controls
    st.text(max_size=12),
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    nasty_text,
)


def json_values(keys: list[str] | None = None) -> st.SearchStrategy[Any]:
    """Any JSON value; object keys drawn from the given field names and from nasty text."""
    key = st.one_of(st.sampled_from(keys), nasty_text) if keys else nasty_text
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(key, inner, max_size=5),
        ),
        max_leaves=20,
    )


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            found.extend(_paths(v, (*prefix, k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found.extend(_paths(v, (*prefix, i)))
    return found


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        copy = dict(value)
        copy[head] = _replace(value[head], rest, new)
        return copy
    copy_list = list(value)
    copy_list[head] = _replace(value[head], rest, new)
    return copy_list


@st.composite
def mutated(draw: st.DrawFn, document: Any, max_changes: int = 3) -> Any:
    """A valid document with a few of its values (anywhere in it) replaced by hostile ones."""
    doc = json.loads(json.dumps(document))
    keys = sorted({p[-1] for p in _paths(doc) if p and isinstance(p[-1], str)})
    for _ in range(draw(st.integers(min_value=1, max_value=max_changes))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        doc = _replace(doc, path, draw(json_values(keys)))
    return doc


def survives(call: Callable[[], T], *names: str) -> T | None:
    """Run a parser: its result, or None when it raised an SscError naming one of names."""
    try:
        return call()
    except SscError as exc:
        message = str(exc)
        assert any(n in message for n in names), (
            f"{type(exc).__name__} names none of {names}: {message!r}"
        )
        assert len(message) < 20_000, "an error message must not quote a whole payload"
        return None


# XML attacks every XML parser of ssc must refuse (or read harmlessly) in bounded time.
BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    + b"]><project><name>&lol9;</name></project>"
)
EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b"<project><name>&x;</name></project>"
)
PARAMETER_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY % x SYSTEM "http://127.0.0.1:9/x.dtd"> %x;]>'
    b"<project/>"
)
DEEP = b"<project>" + b"<a>" * 100_000 + b"</a>" * 100_000 + b"</project>"
XML_ATTACKS = [BILLION_LAUGHS, EXTERNAL_ENTITY, PARAMETER_ENTITY, DEEP]


def xml_escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


@st.composite
def xml_documents(draw: st.DrawFn, template: str) -> bytes:
    """The template with each `{}` filled by hostile text: escaped, raw, or markup-breaking."""
    parts = template.split("{}")
    out = [parts[0]]
    for rest in parts[1:]:
        value = draw(nasty_text)
        mode = draw(st.sampled_from(["escaped", "raw", "cdata"]))
        if mode == "escaped":
            value = xml_escape(value)
        elif mode == "cdata":
            value = f"<![CDATA[{value}]]>"
        out.extend([value, rest])
    body = "".join(out).encode("utf-8", "surrogatepass")
    cut = draw(st.integers(min_value=0, max_value=len(body)))
    return body if draw(st.booleans()) else body[:cut]
