"""Every --json line carries the run record (issue 9.4): `command`, `ecosystem`, `started_at`,
`finished_at`, `ssc_version`, `exit_code`; and docs/cli.md lists exactly the keys each command
really prints, so the documentation cannot drift from the code."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import ssc_cli
from tests.conftest import REPO, RUN_RECORD, Ssc
from tests.fakeregistry import pypi
from tests.fakeregistry.server import FakeRegistry
from tests.licenses.spdx_data import SPDX_DIR, require_real_fixtures
from tests.queue.conftest import qssc, redis_client, redis_server  # noqa: F401  (fixtures)

COMMON = RUN_RECORD
CLI_MD = REPO / "docs" / "cli.md"


# --- what docs/cli.md says ------------------------------------------------------------------


def _fields(text: str, marker: str) -> set[str]:
    """The backticked names after `marker`, outside parentheses, up to the end of the sentence."""
    start = text.index(marker) + len(marker)
    names: set[str] = set()
    depth, i = 0, start
    while i < len(text):
        char = text[i]
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif depth == 0 and (char == "|" or re.match(r"\.(\s|$)", text[i:])):
            break
        elif depth == 0 and char == "…":
            raise AssertionError(f"{marker!r}: the list ends in '…', list every field")
        elif char == "`":
            end = text.index("`", i + 1)
            if depth == 0:
                names.add(text[i + 1 : end])
            i = end
        i += 1
    return names


def documented_summaries() -> dict[str, set[str]]:
    """command path (`vulns sync`) -> the fields its table row lists after "Summary: "."""
    rows: dict[str, set[str]] = {}
    for line in CLI_MD.read_text(encoding="utf-8").splitlines():
        if not line.startswith("| `ssc "):
            continue
        usage, description = line.strip().strip("|").split(" | ")
        for command in re.findall(r"`ssc ([^`]*)`", usage)[:1]:
            words = []
            for word in command.split():
                if not re.fullmatch(r"[a-z][a-z-]*", word):
                    break
                words.append(word)
            if "Summary: " in description:
                rows.setdefault(" ".join(words), _fields(description, "Summary: "))
    return rows


def documented(marker: str) -> set[str]:
    return _fields(CLI_MD.read_text(encoding="utf-8"), marker)


def test_the_docs_name_the_run_record_and_the_error_line() -> None:
    assert documented("Run record: ") == set(COMMON)
    assert documented("Error line: ") == {"error", "kind"}


# --- what ssc prints --------------------------------------------------------------------------


def _utc(text: str) -> datetime:
    assert text.endswith("Z"), text  # the one spelling of UTC the docs promise
    moment = datetime.fromisoformat(text)
    assert moment.utcoffset() is not None
    assert moment.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    return moment


def check_record(
    line: dict[str, Any],
    returncode: int,
    command: str,
    ecosystem: str | None,
    before: datetime,
    after: datetime,
) -> None:
    assert line["command"] == command
    assert line["ecosystem"] == ecosystem
    assert line["ssc_version"] == ssc_cli.__version__
    assert isinstance(line["exit_code"], int)
    assert line["exit_code"] == returncode
    started, finished = _utc(line["started_at"]), _utc(line["finished_at"])
    # The clock the test reads around the process, to the millisecond the record keeps.
    assert before.replace(microsecond=before.microsecond // 1000 * 1000) <= started
    assert started <= finished <= after


def run_json(
    ssc: Ssc, *args: str, expect: int, command: str, ecosystem: str | None
) -> dict[str, Any]:
    """`ssc --json ARGS`: one JSON line on stdout, its run record checked."""
    before = datetime.now(UTC)
    result = ssc("--json", *args, expect=expect)
    after = datetime.now(UTC)
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    line: dict[str, Any] = json.loads(lines[0])
    check_record(line, result.returncode, command, ecosystem, before, after)
    return line


def check_summary_documented(command: str, line: dict[str, Any]) -> None:
    docs = documented_summaries()
    assert command in docs, f"docs/cli.md has no 'Summary:' for `ssc {command}`"
    real = set(line) - set(COMMON)
    assert not docs[command] & set(COMMON), "the run record is documented once, not per command"
    assert sorted(real - docs[command]) == [], f"`ssc {command}` prints undocumented fields"
    assert sorted(docs[command] - real) == [], f"docs/cli.md lists fields `ssc {command}` lacks"


def check_error_line(line: dict[str, Any], kind: str) -> None:
    assert set(line) == {"error", "kind", *COMMON}
    assert line["kind"] == kind


@pytest.fixture
def registry(fake_registry: FakeRegistry) -> pypi.PyPIApp:
    app = pypi.synthetic(6, versions=2, deps=1)
    fake_registry.mount("pypi", app)
    return app


def _osv_folder(home: Path) -> Path:
    folder = home / "osv"
    folder.mkdir()
    record = {
        "id": "PYSEC-0000-1",
        "modified": "2024-01-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "pkg-00001"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}],
            }
        ],
    }
    (folder / "PYSEC-0000-1.json").write_text(json.dumps(record), encoding="utf-8")
    bad = {"id": "PYSEC-0000-2"}  # no `modified`: invalid, so the sync exits 1
    (folder / "PYSEC-0000-2.json").write_text(json.dumps(bad), encoding="utf-8")
    return folder


def test_job_and_report_commands_carry_the_run_record(ssc: Ssc, registry: pypi.PyPIApp) -> None:
    runs: list[tuple[tuple[str, ...], int, str, str | None]] = [
        (("ingest", "pypi", "--limit", "3"), 0, "ingest", "pypi"),
        (("update", "pypi"), 0, "update", "pypi"),
        (("vulns", "sync", str(_osv_folder(ssc.home))), 1, "vulns sync", None),
        (("vulns", "attribute", "pypi"), 0, "vulns attribute", "pypi"),
        (("check",), 0, "check", None),
        (("check", "pypi"), 0, "check", "pypi"),
        (("status",), 0, "status", None),
    ]
    for args, code, command, ecosystem in runs:
        line = run_json(ssc, *args, expect=code, command=command, ecosystem=ecosystem)
        check_summary_documented(command, line)
    # The options after the command, as cron lines often have them: the same record.
    result = ssc("update", "pypi", "--json")
    assert json.loads(result.stdout)["command"] == "update"


def test_licence_commands_carry_the_run_record(ssc: Ssc, registry: pypi.PyPIApp) -> None:
    require_real_fixtures("spdx")
    ssc("ingest", "pypi", "--limit", "2")
    line = run_json(
        ssc, "licenses", "sync", str(SPDX_DIR), expect=0, command="licenses sync", ecosystem=None
    )
    check_summary_documented("licenses sync", line)
    # `crates` is an alias: the record names the ecosystem by its canonical value.
    line = run_json(
        ssc, "classify", "crates", "--all", expect=0, command="classify", ecosystem="cargo"
    )
    check_summary_documented("classify", line)


def test_queue_commands_carry_the_run_record(qssc: Ssc) -> None:  # noqa: F811
    runs: list[tuple[tuple[str, ...], int, str, str | None]] = [
        (("enqueue", "npm", "left-pad"), 0, "enqueue", "npm"),
        (("queue", "stats"), 0, "queue stats", None),
        (("queue", "retry-dead"), 0, "queue retry-dead", None),
        # The fake npm registry has no left-pad: recorded as missing, acked, exit 0.
        (("drain-queue", "--until-empty"), 0, "drain-queue", None),
    ]
    for args, code, command, ecosystem in runs:
        line = run_json(qssc, *args, expect=code, command=command, ecosystem=ecosystem)
        check_summary_documented(command, line)


def test_error_lines_carry_the_run_record(ssc: Ssc) -> None:
    # A usage error (exit 2) on the command line, then one in the settings.
    line = run_json(ssc, "ingest", "nope", expect=2, command="ingest", ecosystem=None)
    check_error_line(line, "ConfigError")
    ssc.env["SSC_REDIS_URL"] = "http://localhost:6379"
    line = run_json(ssc, "check", "npm", expect=2, command="check", ecosystem="npm")
    check_error_line(line, "ConfigError")
    del ssc.env["SSC_REDIS_URL"]
    # A guard (exit 3): classify before any SPDX list was synced.
    line = run_json(ssc, "classify", "pypi", expect=3, command="classify", ecosystem="pypi")
    check_error_line(line, "QualityGateError")


# The real entry point (as the `ssc` script runs it) with one function replaced by a bug.
PLANTED = """
import importlib, sys
module, name = sys.argv[1].rsplit(".", 1)
def boom(*args, **kwargs):
    raise RuntimeError("planted")
setattr(importlib.import_module(module), name, boom)
sys.argv = ["ssc", *sys.argv[2:]]
from ssc_cli.cli.app import main
main()
"""


@pytest.mark.parametrize(
    "target",
    [
        "ssc_cli.settings.load_settings",  # inside the command: errors_to_exit_codes
        "ssc_cli.cli.quality.emit_summary",  # after it: escapes to main()
    ],
)
def test_an_internal_error_line_carries_the_run_record(ssc: Ssc, target: str) -> None:
    before = datetime.now(UTC)
    result = subprocess.run(
        [sys.executable, "-c", PLANTED, target, "--json", "check", "pypi"],
        cwd=ssc.home,
        env=ssc.environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    after = datetime.now(UTC)
    assert result.returncode == 70, result.stderr
    line = json.loads(result.stdout)
    check_error_line(line, "InternalError")
    check_record(line, result.returncode, "check", "pypi", before, after)
