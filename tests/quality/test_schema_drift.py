"""Schema drift (a registry payload with a field of the wrong type): counted per ecosystem in the
run summary, shown by `ssc status`, and counted in the metrics."""

from __future__ import annotations

import json
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Ssc
from tests.fakeregistry import pypi
from tests.fakeregistry.server import FakeRegistry


def _drifting_pypi(fake_registry: FakeRegistry) -> pypi.PyPIApp:
    app = pypi.PyPIApp()
    for name in ("good-one", "good-two", "drifted"):
        app.add(name)
        app.release(name, "1.0")
    # requires_dist as a string where PyPI sends a list of strings.
    app.release("drifted", "1.1", requires_dist="requests>=2")  # type: ignore[arg-type]
    fake_registry.mount("pypi", app)
    return app


def test_a_field_of_the_wrong_type_is_counted_per_ecosystem_and_shown_by_status(
    ssc: Ssc, fake_registry: FakeRegistry, tmp_path: Path
) -> None:
    app = _drifting_pypi(fake_registry)
    metrics = tmp_path / "metrics"
    env = {"SSC_METRICS_DIR": str(metrics)}
    result = ssc("ingest", "pypi", "--no-follow-deps", "--json", expect=1, env=env)
    summary = json.loads(result.stdout)
    assert summary["schema_drift"] == {"pypi": 1}
    (failure,) = summary["failures"]
    assert failure["package"] == "drifted" and "requires_dist" in failure["reason"]
    status = ssc.json("status", env=env)
    rows = {row["dataset"]: row for row in status["datasets"]}
    assert rows["ingest pypi"]["schema_drift"] == 1
    table = ssc("status", env=env).stdout
    assert "drift" in table.splitlines()[0]
    text = (metrics / "ssc_ingest_pypi.prom").read_text()
    samples = {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}
    assert samples["ssc_schema_drift_total"] == 1.0
    # The registry fixed its payload: the next run has no drift, status says 0.
    app.release("drifted", "1.1", requires_dist=["requests>=2"])
    again = ssc.json("ingest", "pypi", "--no-follow-deps", env=env)
    assert again["schema_drift"] == {"pypi": 0}
    rows = {row["dataset"]: row for row in ssc.json("status", env=env)["datasets"]}
    assert rows["ingest pypi"]["schema_drift"] == 0
