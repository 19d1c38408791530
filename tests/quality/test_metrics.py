"""The Prometheus text files: parsed back with prometheus_client, one per job, written atomically."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ssc_cli.quality import metrics
from ssc_cli.quality.metrics import RunMetrics


def samples(path: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a file, parsed by prometheus_client's own text parser."""
    found = {}
    for family in text_string_to_metric_families(path.read_text(encoding="utf-8")):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(path: Path, name: str, **labels: str) -> float:
    return samples(path)[(name, tuple(sorted(labels.items())))]


def _run(job: str = "update", eco: str | None = "nuget", **increments: float) -> RunMetrics:
    return RunMetrics(
        job=job,
        ecosystem=eco,
        status="ok",
        finished=1_700_000_000.0,
        duration=12.5,
        last_success=1_700_000_000.0,
        age=3.0,
        threshold=172_800.0,
        increments=dict(increments),
        checks=[
            {
                "check": "nuget/packages_nonempty",
                "severity": "ERROR",
                "blocking": True,
                "passed": False,
            }
        ],
    )


def test_a_run_file_parses_and_its_counters_carry_on(tmp_path: Path) -> None:
    path = metrics.write(tmp_path, _run(ssc_packages_processed=5, ssc_http_received_bytes=1024))
    assert path.name == "ssc_update_nuget.prom"
    job = {"command": "update", "ecosystem": "nuget"}
    assert value(path, "ssc_packages_processed_total", **job) == 5
    assert value(path, "ssc_http_received_bytes_total", **job) == 1024
    assert value(path, "ssc_run_last_duration_seconds", **job) == 12.5
    assert value(path, "ssc_run_last_status", **job, status="ok") == 1
    assert value(path, "ssc_run_last_status", **job, status="aborted") == 0
    assert value(path, "ssc_dataset_freshness_threshold_seconds", **job) == 172_800
    check = {"check": "nuget/packages_nonempty", "dataset": "nuget", "severity": "ERROR"}
    assert value(path, "ssc_check_passed", **job, **check, blocking="true") == 0

    metrics.write(tmp_path, _run(ssc_packages_processed=2))
    assert value(path, "ssc_packages_processed_total", **job) == 7
    assert value(path, "ssc_http_received_bytes_total", **job) == 1024
    assert value(path, "ssc_runs_total", **job, status="ok") == 2


def test_names_follow_the_prometheus_conventions(tmp_path: Path) -> None:
    path = metrics.write(tmp_path, _run(ssc_packages_processed=1))
    families = list(text_string_to_metric_families(path.read_text(encoding="utf-8")))
    assert families
    for family in families:
        assert family.name.startswith("ssc_")
        if family.type == "counter":
            assert all(
                s.name.endswith("_total")
                for s in family.samples
                if s.name.startswith(family.name + "_t")
            )
        else:
            assert not family.name.endswith("_total")
        assert "_milliseconds" not in family.name and "_kilobytes" not in family.name


def _write_many(args: tuple[str, str, int]) -> None:
    directory, job, times = args
    for _ in range(times):
        metrics.write(Path(directory), _run(job=job, eco=None, ssc_packages_processed=1))


def test_concurrent_jobs_write_separate_files_and_lose_no_increment(tmp_path: Path) -> None:
    jobs = [(str(tmp_path), "drain-queue", 15), (str(tmp_path), "drain-queue", 15)]
    jobs += [(str(tmp_path), "ingest", 10)]
    with multiprocessing.get_context("fork").Pool(3) as pool:
        pool.map(_write_many, jobs)
    assert sorted(p.name for p in tmp_path.glob("*.prom")) == [
        "ssc_drain_queue.prom",
        "ssc_ingest.prom",
    ]
    drain = {"command": "drain-queue", "ecosystem": ""}
    assert value(tmp_path / "ssc_drain_queue.prom", "ssc_packages_processed_total", **drain) == 30
    ingest = {"command": "ingest", "ecosystem": ""}
    assert value(tmp_path / "ssc_ingest.prom", "ssc_packages_processed_total", **ingest) == 10
    assert not list(tmp_path.glob("*.tmp"))


def _die_before_rename(directory: str) -> None:
    def crash(fd: int) -> None:
        os._exit(3)  # the process dies with the new body written to the temporary file only

    os.fsync = crash  # type: ignore[assignment]
    metrics.write(Path(directory), _run(ssc_packages_processed=1000))


def test_a_crash_mid_write_leaves_the_previous_file_whole(tmp_path: Path) -> None:
    path = metrics.write(tmp_path, _run(ssc_packages_processed=4))
    before = path.read_bytes()
    child = multiprocessing.get_context("fork").Process(
        target=_die_before_rename, args=(str(tmp_path),)
    )
    child.start()
    child.join(30)
    assert child.exitcode == 3
    assert path.read_bytes() == before
    assert list(tmp_path.glob(".ssc_update_nuget.prom.*.tmp"))  # what the dead writer left
    metrics.write(tmp_path, _run(ssc_packages_processed=1))
    job = {"command": "update", "ecosystem": "nuget"}
    assert value(path, "ssc_packages_processed_total", **job) == 5
    assert not list(tmp_path.glob("*.tmp"))  # the next writer cleared it


def test_an_unwritable_directory_is_a_configuration_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(Exception) as raised:
        metrics.write(blocker / "metrics", _run())
    assert "SSC_METRICS_DIR" in str(raised.value)


def test_counters_come_from_each_jobs_summary() -> None:
    ingest: dict[str, Any] = {
        "new_packages_ingested": 3,
        "errors": 1,
        "new_versions": 9,
        "http": {"requests": 20, "retries": 2, "not_modified": 4, "bytes": 5000},
        "schema_drift": 2,
    }
    assert metrics.counters_from_summary("ingest", ingest) == {
        "ssc_packages_processed": 3,
        "ssc_packages_failed": 1,
        "ssc_versions_written": 9,
        "ssc_http_requests": 20,
        "ssc_http_retries": 2,
        "ssc_http_not_modified": 4,
        "ssc_http_received_bytes": 5000,
        "ssc_schema_drift": 2,
    }
    drain = {
        "extracted": 4,
        "failed": 2,
        "total_processed": 10,
        "dead_lettered": 1,
        "schema_drift": {"npm": 1, "pypi": 2},
    }
    assert metrics.counters_from_summary("drain-queue", drain) == {
        "ssc_packages_processed": 4,
        "ssc_packages_failed": 2,
        "ssc_queue_messages_processed": 10,
        "ssc_queue_messages_dead_lettered": 1,
        "ssc_schema_drift": 3,
    }
