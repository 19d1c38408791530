"""The open-source classifier: evidence + the synced SPDX list -> verdict, reason, expression, ids.

Pure: no store, no network. Decision tree (docs/licenses.md):
  leaf   SPDX id -> source-available list: proprietary; isOsiApproved: open (spdx-osi);
         isFsfLibre true: open (spdx-fsf); otherwise unknown (spdx-not-open). Deprecated ids are
         written as their successors; `+` and WITH keep the licence's class.
  AND    every operand open -> open; otherwise the lowest class (and-not-all-open)
  OR     one open operand suffices (or-one-open); otherwise the highest class
  lists  a choice (Maven, npm legacy) is an OR; a list of unstated relation (RubyGems, several
         PyPI classifiers) has its members' class when they agree, else unknown
         (conflicting-signals)
Order of classes: proprietary < unknown < open_source.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from ssc_cli.licenses import names
from ssc_cli.licenses.index import LicenseIndex
from ssc_cli.models import LicenseEvidence, LicenseGroup, LicenseTerm, Verdict

OPEN, PROPRIETARY, UNKNOWN = "open_source", "proprietary", "unknown"
STATUSES = (OPEN, PROPRIETARY, UNKNOWN)
_RANK = {PROPRIETARY: 0, UNKNOWN: 1, OPEN: 2}
_DETERMINATE = (OPEN, PROPRIETARY)

# Reasons of an open verdict, from the most direct to the most inferred: a combination reports
# its weakest link.
_OPEN_REASONS = (
    "spdx-osi",
    "spdx-fsf",
    "classifier-spdx",
    "classifier-osi",
    "name-known",
    "url-known",
    "license-text",
    "classifier-osi-family",
    "name-family",
)

# Licences SPDX lists that are not open source although often taken for it (reference §9.3):
# source-available, delayed-open, non-commercial or no-derivatives, field-of-use restricted.
SOURCE_AVAILABLE = frozenset(
    {
        "BUSL-1.1",
        "SSPL-1.0",
        "Elastic-2.0",
        "Hippocratic-2.1",
        "Parity-6.0.0",
        "Parity-7.0.0",
        "NCGL-UK-2.0",
        "Commons-Clause",
    }
)
_SOURCE_AVAILABLE_RE = re.compile(r"^(CC-BY-(NC|ND)(-|$)|PolyForm-|FSL-)", re.IGNORECASE)
_SCANCODE_CLASS = {
    "Permissive": OPEN,
    "Copyleft": OPEN,
    "Copyleft Limited": OPEN,
    "Commercial": PROPRIETARY,
    "Proprietary Free": PROPRIETARY,
    "Source-available": PROPRIETARY,
}

_NO_SIGNAL = frozenset(
    {
        "unknown",
        "none",
        "n/a",
        "na",
        "null",
        "nil",
        "-",
        "tbd",
        "todo",
        "other",
        "license",
        "undefined",
    }
)
_LICENSE_FILE = re.compile(
    r"^(see\s+)?(the\s+)?(included\s+|attached\s+|bundled\s+)?"
    r"(license|licence|copying|licen[cs]e\.\w+|copying\.\w+)(\s+file)?(\s+for\s+details)?\.?$",
    re.IGNORECASE,
)
_SEE_LICENSE_IN = re.compile(r"^see\s+licen[cs]e\s+in\b", re.IGNORECASE)
_LICENSE_REF = re.compile(r"^(DocumentRef-[A-Za-z0-9.-]+:)?LicenseRef-([A-Za-z0-9.-]+)$", re.I)
_IDLIKE = re.compile(r"^[A-Za-z0-9.+-]+$")
_OPERATORS = re.compile(r"\b(AND|OR|WITH)\b|[()]")
_EULA_URL = re.compile(r"eula|end-?user-?licen[cs]e", re.IGNORECASE)
_LONG_TEXT = 200  # longer, or several lines: a licence text pasted in, recognised not parsed


@dataclass(frozen=True, slots=True)
class _Result:
    status: str
    reason: str
    expression: str | None = None
    ids: tuple[str, ...] = ()
    identified: bool = True  # it named a licence (or said plainly that it names none)
    op: str | None = None  # "and" / "or" when the expression is a combination


def _weakest(reasons: Iterable[str]) -> str:
    ranked = [r for r in reasons if r in _OPEN_REASONS]
    return max(ranked, key=_OPEN_REASONS.index) if ranked else "spdx-osi"


def _ids(parts: Iterable[_Result]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(i for p in parts for i in p.ids))


def _wrap(part: _Result, op: str) -> str | None:
    if part.expression is None:
        return None
    return f"({part.expression})" if part.op not in (None, op) else part.expression


def _join(parts: list[_Result], op: str) -> str | None:
    pieces = [_wrap(p, op) for p in parts]
    if any(p is None for p in pieces):
        return None
    return f" {op.upper()} ".join(dict.fromkeys(p for p in pieces if p))


def _or(parts: list[_Result]) -> _Result:
    best = max(parts, key=lambda p: _RANK[p.status])
    if best.status == OPEN:
        reason = (
            "or-one-open"
            if any(p.status != OPEN for p in parts)
            else _weakest(p.reason for p in parts)
        )
    else:
        reason = best.reason
    return _Result(best.status, reason, _join(parts, "or"), _ids(parts), op="or")


def _and(parts: list[_Result]) -> _Result:
    worst = min(parts, key=lambda p: _RANK[p.status])
    reason = _weakest(p.reason for p in parts) if worst.status == OPEN else "and-not-all-open"
    return _Result(worst.status, reason, _join(parts, "and"), _ids(parts), op="and")


def _unspecified(parts: list[_Result]) -> _Result:
    if len(parts) == 1:
        return parts[0]
    statuses = {p.status for p in parts}
    if len(statuses) > 1:
        return _Result(UNKNOWN, "conflicting-signals", None, _ids(parts))
    status = parts[0].status
    reason = _weakest(p.reason for p in parts) if status == OPEN else parts[0].reason
    expressions = {p.expression for p in parts}
    expression = parts[0].expression if len(expressions) == 1 else None
    return _Result(status, reason, expression, _ids(parts))


class Classifier:
    """Verdicts under one synced SPDX list, memoised by evidence (few distinct strings exist)."""

    def __init__(self, index: LicenseIndex) -> None:
        self.index = index
        self._memo: dict[LicenseEvidence, Verdict] = {}
        self._texts: dict[str, _Result] = {}
        self._scancode: dict[str, str] | None = None

    @property
    def list_version(self) -> str:
        return self.index.list_version

    def verdict(self, evidence: LicenseEvidence) -> Verdict:
        cached = self._memo.get(evidence)
        if cached is not None:
            return cached
        if evidence.root is None:
            verdict = Verdict(UNKNOWN, "no-signal", None, evidence.raw)
        else:
            result = self._node(evidence.root)
            verdict = Verdict(
                result.status, result.reason, result.expression, evidence.raw, result.ids
            )
        if len(self._memo) < 200_000:  # bounded: pathological inputs cannot grow it for ever
            self._memo[evidence] = verdict
        return verdict

    # -- nodes --------------------------------------------------------------------------------

    def _node(self, node: LicenseTerm | LicenseGroup) -> _Result:
        if isinstance(node, LicenseTerm):
            return self._term(node)
        parts = [self._node(p) for p in node.parts]
        if not parts:
            return _Result(UNKNOWN, "no-signal", identified=False)
        if node.mode == "or":
            return _or(parts)
        if node.mode == "unspecified":
            return _unspecified(parts)
        if node.mode == "first":
            for part in parts:
                if part.status in _DETERMINATE:
                    return part
            return next((p for p in parts if p.identified), parts[0])
        if node.mode == "corroborate":
            return _corroborate(parts)
        raise ValueError(f"unknown licence group mode {node.mode!r}")

    def _term(self, term: LicenseTerm) -> _Result:
        if term.kind == "text":
            return self.text(term.value)
        if term.kind == "url":
            return self._url(term.value)
        if term.kind == "marker":
            status = PROPRIETARY if term.value.startswith("marker-") else UNKNOWN
            return _Result(status, term.value, identified=term.value != "classifier-unmapped")
        if term.kind in ("classifier", "osi-classifier"):
            found = self._spdx(term.value)
            if found is None:
                return _Result(UNKNOWN, "unknown-id", identified=False)
            if found.status == OPEN:
                return replace(found, reason="classifier-spdx")
            if term.kind == "osi-classifier":
                # The classifier asserts OSI approval where the list's flags do not.
                return replace(found, status=OPEN, reason="classifier-osi")
            return found
        if term.kind == "osi-family":
            return _Result(OPEN, "classifier-osi-family")
        raise ValueError(f"unknown licence term kind {term.kind!r}")

    # -- text: an expression, a name, a marker or a whole licence text ------------------------

    def text(self, raw: str) -> _Result:
        cached = self._texts.get(raw)
        if cached is None:
            cached = self._text(raw)
            if len(self._texts) < 200_000:
                self._texts[raw] = cached
        return cached

    def _text(self, raw: str) -> _Result:
        stripped = raw.strip()
        text = " ".join(stripped.split())
        if not text or text.lower().strip(".") in _NO_SIGNAL:
            return _Result(UNKNOWN, "no-signal", identified=False)
        if len(text) > _LONG_TEXT or "\n" in stripped:
            found = names.recognise_text(stripped)
            if found is None:
                return _Result(UNKNOWN, "unparseable", identified=False)
            return self._target(found, "license-text")
        if text.upper() == "UNLICENSED":
            return _Result(PROPRIETARY, "marker-unlicensed")
        if _SEE_LICENSE_IN.match(text) or _LICENSE_FILE.match(text):
            return _Result(UNKNOWN, "see-license-file")
        parsed = self._expression(text)
        if parsed is not None and parsed.identified:
            return parsed
        named = self._name(text)
        if named is not None:
            return named
        if parsed is not None:
            return parsed  # an expression with unrecognised operands
        if names.PROPRIETARY_WORDS.search(text):
            return _Result(PROPRIETARY, "marker-proprietary")
        return _Result(UNKNOWN, _unknown_reason(text), identified=False)

    def _expression(self, text: str) -> _Result | None:
        """An SPDX expression; None when it does not parse (license-expression raises)."""
        try:
            tree = self.index.licensing.parse(text, validate=False, strict=False)
        except Exception:  # ExpressionError, and AttributeError/TypeError on odd input (§7.2)
            return None
        if tree is None:
            return None
        return self._walk(tree)

    def _walk(self, node: Any) -> _Result:
        from license_expression import LicenseSymbol, LicenseWithExceptionSymbol

        licensing = self.index.licensing
        if isinstance(node, LicenseWithExceptionSymbol):
            base = self._symbol(str(node.license_symbol.key))
            exc_key = str(node.exception_symbol.key)
            exception = self.index.exception(exc_key) or self.index.exception_by_name(exc_key)
            return _with(base, exception)
        if isinstance(node, LicenseSymbol):
            return self._symbol(str(node.key))
        parts = [self._walk(arg) for arg in node.args]
        result = _and(parts) if isinstance(node, licensing.AND) else _or(parts)
        return replace(result, identified=all(p.identified for p in parts))

    def _symbol(self, key: str) -> _Result:
        found = self._spdx(key)
        if found is not None:
            return found
        ref = _LICENSE_REF.match(key)
        if ref:
            return self._license_ref(key, ref.group(2))
        named = self._name(key)
        if named is not None:
            return named
        if names.PROPRIETARY_WORDS.search(key):
            return _Result(PROPRIETARY, "marker-proprietary")
        return _Result(UNKNOWN, _unknown_reason(key), identified=False)

    def _spdx(self, token: str) -> _Result | None:
        """A licence id of the list (any case; deprecated ids as their successors; X+ kept)."""
        index = self.index
        plus = False
        known = index.license(token)
        if known is None and token.endswith("+"):
            known, plus = index.license(token[:-1]), True
        if known is None:
            return None
        expression = index.successor(known.spdx_id)
        if expression != known.spdx_id and not plus:
            # A deprecated id is decided as the expression SPDX names in its place.
            replaced = self._expression(expression)
            if replaced is not None and replaced.identified:
                return replaced
        if plus:
            later = index.license(f"{known.spdx_id}-or-later")
            expression = later.spdx_id if later else f"{known.spdx_id}+"
        ids = tuple(t for t in re.split(r"\s+WITH\s+", expression))
        ids = tuple(t.rstrip("+") if index.license(t) is None else t for t in ids)
        if known.spdx_id in SOURCE_AVAILABLE or _SOURCE_AVAILABLE_RE.match(known.spdx_id):
            return _Result(PROPRIETARY, "source-available", expression, ids)
        if known.osi:
            return _Result(OPEN, "spdx-osi", expression, ids)
        if known.fsf is True:
            return _Result(OPEN, "spdx-fsf", expression, ids)
        return _Result(UNKNOWN, "spdx-not-open", expression, ids)

    def _license_ref(self, key: str, suffix: str) -> _Result:
        lowered = suffix.lower()
        if lowered.startswith("scancode-"):
            category = self._scancode_category(lowered[len("scancode-") :])
            status = _SCANCODE_CLASS.get(category or "")
            if status == OPEN:
                return _Result(OPEN, "licenseref-scancode", key, (key,))
            if status == PROPRIETARY:
                return _Result(PROPRIETARY, "source-available", key, (key,))
        if "public-domain" in lowered or lowered in ("pd", "publicdomain"):
            return _Result(UNKNOWN, "public-domain", key, (key,))
        if names.PROPRIETARY_WORDS.search(lowered.replace("-", " ")):
            return _Result(PROPRIETARY, "marker-proprietary", key, (key,))
        return _Result(UNKNOWN, "licenseref", key, (key,))

    def _scancode_category(self, key: str) -> str | None:
        """ScanCode's category of a LicenseRef-scancode-* key (license-expression's bundled index)."""
        if self._scancode is None:
            from license_expression import get_license_index

            self._scancode = {
                str(entry["license_key"]): str(entry.get("category") or "")
                for entry in get_license_index()
                if entry.get("license_key")
            }
        return self._scancode.get(key)

    def _name(self, text: str) -> _Result | None:
        """A free-text licence name (or names offered as a choice, or joined by and / with)."""
        found = self.index.by_name(text)
        if found is not None:
            return self._target(found, "name-known")
        licence, exception = names.split_with(text)
        if exception is not None:
            base = self._name(licence) or self._spdx(licence)
            if base is None:
                return None
            exc_id = self.index.exception(exception) or self.index.exception_by_name(exception)
            return _with(base, exc_id)
        for split, combine in ((names.split_alternatives, _or), (names.split_conjunction, _and)):
            parts = split(text)
            if len(parts) > 1:
                results = [self._spdx(p.strip()) or self._name(p.strip()) for p in parts]
                if all(r is not None for r in results):
                    return combine([r for r in results if r is not None])
        return None

    def _target(self, found: str, reason: str) -> _Result:
        """What a name, URL or text lookup found: an id, a family or public domain."""
        if found == names.PUBLIC_DOMAIN:
            return _Result(UNKNOWN, "public-domain")
        members = names.FAMILIES.get(found)
        if members is not None:
            results = [self._spdx(m) for m in members]
            if results and all(r is not None and r.status == OPEN for r in results):
                return _Result(OPEN, "name-family")
            return _Result(UNKNOWN, "ambiguous-family")
        result = self._spdx(found)
        if result is None:
            return _Result(UNKNOWN, "unknown-id", identified=False)
        return replace(result, reason=reason) if result.status == OPEN else result

    # -- URLs ---------------------------------------------------------------------------------

    def _url(self, url: str) -> _Result:
        if not re.match(r"^[a-z][a-z0-9+.-]*://", url.strip(), re.IGNORECASE):
            return _Result(UNKNOWN, "url-unknown", identified=False)
        if _EULA_URL.search(url):
            return _Result(PROPRIETARY, "marker-eula")
        found = self.index.by_url(url)
        if not found:
            return _Result(UNKNOWN, "url-unknown", identified=False)
        results = [self._target(f, "url-known") for f in found]
        if len(results) == 1:
            return results[0]
        # A URL several licences share: their common class, no single expression.
        statuses = {r.status for r in results}
        if len(statuses) == 1 and OPEN in statuses:
            return _Result(OPEN, "url-known")
        return _Result(UNKNOWN, "url-unknown", identified=False)


def _unknown_reason(text: str) -> str:
    """unknown-id: shaped like an id the list lacks; unparseable: a broken expression;
    unrecognised: free text naming no licence ssc knows."""
    if _IDLIKE.match(text):
        return "unknown-id"
    if _OPERATORS.search(text):
        return "unparseable"
    return "unrecognised"


def _with(base: _Result, exception: str | None) -> _Result:
    """`licence WITH exception`: the licence's class (exceptions only add permissions)."""
    if exception is None:
        return replace(base, expression=None, op=None)
    expression = f"{base.expression} WITH {exception}" if base.expression else None
    return replace(base, expression=expression, ids=(*base.ids, exception), op=None)


def _corroborate(parts: list[_Result]) -> _Result:
    """The first part, unless it says nothing the second says, or the two contradict."""
    primary, secondary = parts[0], parts[1] if len(parts) > 1 else parts[0]
    if (
        primary.status in _DETERMINATE
        and secondary.status in _DETERMINATE
        and primary.status != secondary.status
    ):
        return _Result(UNKNOWN, "conflicting-signals", None, _ids(parts))
    if primary.status in _DETERMINATE:
        if secondary.status == primary.status and primary.expression is None:
            return secondary if secondary.expression else primary
        return primary
    if secondary.status in _DETERMINATE:
        return secondary
    return primary if primary.identified else secondary
