"""What a check produces, and the store protocol the checks read and record through."""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ssc_cli.models import Ecosystem

# Run statuses (GraphStore.finish_run): ok; failed = finished, some packages failed (each
# recorded, exit 1); aborted = died (registry or graph down, Ctrl-C); running.
COMPLETED = ("ok", "failed")  # the run reached its end: it refreshed its dataset


class Severity(enum.StrEnum):
    """ERROR: the data is wrong; WARN: worth a look, the data is still usable."""

    ERROR = "ERROR"
    WARN = "WARN"


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check's verdict on one dataset, with the figure it measured and what to do."""

    name: str
    dataset: str
    severity: Severity
    blocking: bool
    passed: bool
    measured: float | None
    threshold: float | None
    message: str
    checked_at: str
    run_id: int | None = None

    @property
    def key(self) -> str:
        """How the check is named on the command line and in messages: dataset/name."""
        return f"{self.dataset}/{self.name}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dataset": self.dataset,
            "severity": self.severity.value,
            "blocking": self.blocking,
            "passed": self.passed,
            "measured": self.measured,
            "threshold": self.threshold,
            "message": self.message,
            "checked_at": self.checked_at,
            "run_id": self.run_id,
        }

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> CheckResult:
        """From a stored row (either store: booleans may come back as 0/1)."""
        return cls(
            name=str(row["name"]),
            dataset=str(row["dataset"]),
            severity=Severity(row["severity"]),
            blocking=bool(row["blocking"]),
            passed=bool(row["passed"]),
            measured=None if row.get("measured") is None else float(row["measured"]),
            threshold=None if row.get("threshold") is None else float(row["threshold"]),
            message=str(row["message"]),
            checked_at=str(row["checked_at"]),
            run_id=None if row.get("run_id") is None else int(row["run_id"]),
        )


@dataclass(frozen=True, slots=True)
class RunRecord:
    """A stored run of a job (GraphStore.start_run / finish_run)."""

    id: int
    job: str
    ecosystem: str | None
    status: str
    started_at: str
    finished_at: str | None
    summary: dict[str, Any]

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> RunRecord:
        raw = row.get("summary")
        try:
            summary = json.loads(raw) if isinstance(raw, str) and raw else {}
        except ValueError:
            summary = {}
        return cls(
            id=int(row["id"]),
            job=str(row["job"]),
            ecosystem=row.get("ecosystem"),
            status=str(row["status"]),
            started_at=str(row["started_at"]),
            finished_at=None if row.get("finished_at") is None else str(row["finished_at"]),
            summary=summary if isinstance(summary, dict) else {},
        )

    @property
    def completed(self) -> bool:
        return self.status in COMPLETED


class QualityStore(Protocol):
    """What the checks, the gate and `ssc status` read from a graph store (both stores have it)."""

    def count(self, ecosystem: Ecosystem, status: str) -> int:
        """Packages of the ecosystem with this status."""
        ...

    def graph_counts(self, ecosystem: Ecosystem) -> dict[str, int]:
        """packages (extracted), pending, missing, versions, edges of one ecosystem."""
        ...

    def orphan_versions(self, ecosystem: Ecosystem) -> int:
        """Versions no package HAVEs."""
        ...

    def dangling_edges(self, ecosystem: Ecosystem) -> int:
        """REQUIRE edges whose source version or target package is not stored."""
        ...

    def duplicate_purls(self, ecosystem: Ecosystem) -> int:
        """purls held by more than one node, or package names that normalise to one name."""
        ...

    def recent_runs(
        self, jobs: Sequence[str], ecosystem: Ecosystem | None = None, limit: int = 20
    ) -> list[dict[str, Any]]:
        """Runs of these jobs, newest first: of the ecosystem or of all (NULL), or every run."""
        ...

    def run_datasets(self) -> list[tuple[str, str | None]]:
        """Every (job, ecosystem) pair with a stored run."""
        ...

    def save_check_results(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Keep each check's latest result (one per dataset and name)."""
        ...

    def check_results(self, datasets: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """The latest result of every check (of these datasets), by dataset and name."""
        ...
