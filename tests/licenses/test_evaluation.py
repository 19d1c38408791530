"""Agreement of the classifier with the labelled real licence strings (issue 11: >= 98 %)."""

from __future__ import annotations

from collections import Counter

from ssc_cli.licenses.classify import STATUSES
from ssc_cli.models import Ecosystem
from tests.conftest import REPO
from tests.licenses.evaluation import evaluate, load


def test_the_set_is_real_labelled_and_covers_every_ecosystem() -> None:
    items = load()
    assert len(items) >= 300
    assert len({i["id"] for i in items}) == len(items)
    assert set(Counter(i["ecosystem"] for i in items)) == {e.value for e in Ecosystem}
    for item in items:
        assert item["expected"] in STATUSES, item["id"]
        assert item["why"].strip() and "\n" not in item["why"], item["id"]
        assert item["source"].strip(), item["id"]
        assert item["signals"], item["id"]


def test_agreement_is_at_least_98_percent() -> None:
    report = evaluate()
    assert report.agreement >= 0.98, [(i["id"], got) for i, got, _ in report.disagreements]


def test_docs_list_the_confusion_matrix_and_every_disagreement() -> None:
    report = evaluate()
    docs = (REPO / "docs" / "licenses.md").read_text(encoding="utf-8")
    assert f"{len(report.items)} strings, agreement {report.agreement:.1%}" in docs
    for expected in STATUSES:
        row = " | ".join(str(report.matrix.get((expected, got), 0)) for got in STATUSES)
        assert f"| {expected} | {row} |" in docs
    for item, got, reason in report.disagreements:
        assert f"| {item['id']} |" in docs and f"{got} ({reason})" in docs
