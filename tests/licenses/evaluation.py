"""The evaluation set (data/evaluation.json): real licence strings, labelled, against the classifier.

`python -m tests.licenses.evaluation` prints the confusion matrix and the disagreements in the
Markdown docs/licenses.md carries.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ssc_cli.licenses import signals
from ssc_cli.licenses.classify import STATUSES, Classifier
from ssc_cli.models import Ecosystem
from tests.licenses.spdx_data import real_classifier

DATA = Path(__file__).parent / "data" / "evaluation.json"


@dataclass
class Report:
    items: list[dict[str, Any]]
    matrix: dict[tuple[str, str], int] = field(default_factory=dict)  # (expected, got) -> n
    disagreements: list[tuple[dict[str, Any], str, str]] = field(default_factory=list)

    @property
    def agreement(self) -> float:
        return 1 - len(self.disagreements) / len(self.items)


def load() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(DATA.read_text(encoding="utf-8"))
    return items


def evaluate(classifier: Classifier | None = None) -> Report:
    classifier = classifier or real_classifier()
    report = Report(load())
    for item in report.items:
        evidence = signals.evidence(Ecosystem(item["ecosystem"]), item["signals"])
        verdict = classifier.verdict(evidence)
        key = (item["expected"], verdict.status)
        report.matrix[key] = report.matrix.get(key, 0) + 1
        if verdict.status != item["expected"]:
            report.disagreements.append((item, verdict.status, verdict.reason))
    return report


def markdown(report: Report) -> str:
    lines = [
        f"{len(report.items)} strings, agreement {report.agreement:.1%} "
        f"({len(report.items) - len(report.disagreements)} of {len(report.items)}).",
        "",
        "| expected \\ classified | " + " | ".join(STATUSES) + " |",
        "|---|" + "---:|" * len(STATUSES),
    ]
    for expected in STATUSES:
        row = [str(report.matrix.get((expected, got), 0)) for got in STATUSES]
        lines.append(f"| {expected} | " + " | ".join(row) + " |")
    lines += [
        "",
        "| id | signals | expected | classified (reason) | why |",
        "|---|---|---|---|---|",
    ]
    for item, got, reason in report.disagreements:
        shown = json.dumps(item["signals"], ensure_ascii=False)
        shown = shown if len(shown) <= 120 else shown[:117] + "..."
        shown = shown.replace("|", "\\|")
        lines.append(
            f"| {item['id']} | `{shown}` | {item['expected']} | {got} ({reason}) | {item['why']} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(evaluate()))
