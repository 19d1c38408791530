"""docs/operations.md's example Prometheus alert rules name series and labels ssc writes."""

from __future__ import annotations

import re

import yaml
from prometheus_client.parser import text_string_to_metric_families

from ssc_cli.quality.metrics import COUNTERS, RunMetrics, render
from tests.deploy.runbook import OPERATIONS

_BLOCK = re.compile(r"^```yaml alert-rules\n(?P<body>.*?)^```$", re.S | re.M)
_SELECTOR = re.compile(r"(?P<name>ssc_\w+)(?:\{(?P<labels>[^}]*)\})?")


def _rules() -> list[dict[str, object]]:
    (match,) = _BLOCK.finditer(OPERATIONS.read_text())
    document = yaml.safe_load(match["body"])
    return [rule for group in document["groups"] for rule in group["rules"]]


def _series() -> dict[str, set[str]]:
    """Every series name ssc's files can hold, with its label names (a run, a check, a status)."""
    files = [
        RunMetrics(
            job="update", ecosystem="pypi", status="ok", finished=1.0, duration=1.0,
            last_success=1.0, age=1.0, threshold=2.0, increments=dict.fromkeys(COUNTERS, 1.0),
        ),
        RunMetrics(
            job="check", finished=1.0,
            checks=[{"check": "pypi/packages_nonempty", "severity": "ERROR", "blocking": True,
                     "passed": False}],
        ),
        RunMetrics(
            job="status", finished=1.0,
            datasets=[{"job": "update", "ecosystem": "pypi", "last_success_unix": 1.0,
                       "age_seconds": 1.0, "threshold_seconds": 2.0, "state": "stale"}],
        ),
    ]  # fmt: skip
    found: dict[str, set[str]] = {}
    for metrics in files:
        for family in text_string_to_metric_families(render(metrics, {}).decode()):
            for sample in family.samples:
                found.setdefault(sample.name, set()).update(sample.labels)
    return found


def test_the_rules_cover_stale_datasets_and_failing_gates() -> None:
    rules = _rules()
    assert len(rules) >= 4
    exprs = " ".join(str(rule["expr"]) for rule in rules)
    assert "ssc_status_stale" in exprs
    assert 'blocking="true"' in exprs
    for rule in rules:
        assert re.fullmatch(r"Ssc[A-Z]\w+", str(rule["alert"])), rule
        assert rule["labels"]["severity"] in ("warning", "critical"), rule  # type: ignore[index]
        assert rule["annotations"]["summary"], rule  # type: ignore[index]


def test_every_series_and_label_in_the_rules_is_one_ssc_writes() -> None:
    series = _series()
    for rule in _rules():
        selectors = list(_SELECTOR.finditer(str(rule["expr"])))
        assert selectors, rule
        for selector in selectors:
            name = selector["name"]
            assert name in series, (rule["alert"], name, sorted(series))
            for matcher in filter(None, (selector["labels"] or "").split(",")):
                label = matcher.split("=")[0].strip().rstrip("!~")
                assert label in series[name], (rule["alert"], name, label)
        for label in re.findall(r"\$labels\.(\w+)", str(rule["annotations"])):
            assert any(label in series[s["name"]] for s in selectors), (rule["alert"], label)
