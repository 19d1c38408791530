"""Exit codes per the contract (docs/cli.md, "Exit codes"; issue 9.1): bad settings are exit 2
naming the setting, anything unexpected is exit 70 with one line, never a bare traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ssc_cli.cli.app import app
from ssc_cli.graph.sqlite import SqliteStore
from ssc_cli.models import Ecosystem, PackageRecord, VersionRecord
from tests.conftest import Ssc


@pytest.mark.parametrize("command", [["check"], ["drain-queue", "--until-empty"], ["doctor"]])
def test_a_redis_url_that_is_not_redis_is_exit_2_naming_the_setting(
    ssc: Ssc, command: list[str]
) -> None:
    env: dict[str, str | None] = {"SSC_REDIS_URL": "http://user:s3cret@localhost:6379"}
    result = ssc(*command, expect=2, env=env)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "SSC_REDIS_URL" in lines[0]
    assert "redis://host:port/db" in lines[0]
    assert "http://user:***@localhost:6379" in lines[0]
    assert "s3cret" not in result.stderr


def test_a_redis_url_with_a_bad_port_or_db_is_exit_2(ssc: Ssc) -> None:
    for url in ("redis://localhost:notaport/0", "redis://localhost:6379/queue"):
        result = ssc("check", expect=2, env={"SSC_REDIS_URL": url})
        assert "SSC_REDIS_URL" in result.stderr
        assert "Traceback" not in result.stderr


def test_an_empty_redis_url_means_unset(ssc: Ssc) -> None:
    # As an empty SSC_GRAPH_URI: a template that leaves the value empty configures no Redis.
    result = ssc("drain-queue", "--until-empty", expect=5, env={"SSC_REDIS_URL": ""})
    assert "no Redis configured: set SSC_REDIS_URL" in result.stderr
    assert "Traceback" not in result.stderr
    ssc("status", env={"SSC_REDIS_URL": ""})


def test_a_cache_dir_that_is_a_file_is_exit_2_naming_the_setting(ssc: Ssc) -> None:
    cache = ssc.home / "cache-file"
    cache.write_text("not a directory\n")
    result = ssc("ingest", "pypi", "--limit", "1", expect=2, env={"SSC_CACHE_DIR": str(cache)})
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "SSC_CACHE_DIR" in lines[0]
    assert str(cache) in lines[0]


def _boom(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("something nobody planned for")


def test_an_unexpected_error_is_exit_70_with_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("ssc_cli.settings.load_settings", _boom)  # imported by Context when used
    result = CliRunner().invoke(app, ["status"])
    assert result.exit_code == 70, result.output
    assert result.stderr.strip() == (
        "ssc: internal error: RuntimeError: something nobody planned for "
        "(run with -v for the traceback; please report it)"
    )
    assert result.stdout == ""


def test_an_unexpected_error_with_json_is_a_json_line_too(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("ssc_cli.settings.load_settings", _boom)  # imported by Context when used
    result = CliRunner().invoke(app, ["status", "--json"])
    assert result.exit_code == 70
    line = json.loads(result.stdout)
    # The run record every --json line carries (tests/test_run_records.py checks its values).
    for field in ("command", "ecosystem", "started_at", "finished_at", "ssc_version"):
        del line[field]
    assert line == {
        "error": "RuntimeError: something nobody planned for",
        "kind": "InternalError",
        "exit_code": 70,
    }
    assert "Traceback" not in result.stderr


def test_an_unexpected_error_with_v_prints_the_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("ssc_cli.settings.load_settings", _boom)  # imported by Context when used
    result = CliRunner().invoke(app, ["-v", "status"])
    assert result.exit_code == 70
    assert "Traceback" in result.stderr
    assert "_boom" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("ssc: internal error: RuntimeError")


def test_an_error_that_escapes_every_command_is_exit_70_too(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ssc_cli.cli import app as app_module

    monkeypatch.setattr(app_module, "app", _boom)
    monkeypatch.setattr(app_module, "terminate_on_sigterm", lambda: None)
    monkeypatch.setattr("sys.argv", ["ssc", "--json", "status"])
    with pytest.raises(SystemExit) as exited:
        app_module.main()
    assert exited.value.code == 70
    out, err = capsys.readouterr()
    assert json.loads(out)["kind"] == "InternalError"
    assert err.startswith("ssc: internal error: RuntimeError: something nobody planned for")


def test_a_reader_that_goes_away_is_exit_141_with_no_message(ssc: Ssc) -> None:
    # `ssc graph export | head -1`: far more than a pipe's buffer, and the reader leaves early.
    store = SqliteStore.from_uri(ssc.graph_uri)
    store.migrate()
    store.write_packages(
        [
            PackageRecord(Ecosystem.PYPI, f"p{i}", [VersionRecord(name=f"1.{j}") for j in range(5)])
            for i in range(2_000)
        ]
    )
    store.close()
    process = ssc.popen("graph", "export")
    assert process.stdout is not None and process.stderr is not None
    assert json.loads(process.stdout.readline())["type"] == "package"
    process.stdout.close()
    err = process.stderr.read()
    process.stderr.close()
    assert process.wait(timeout=120) == 141
    assert err == ""  # no "internal error", no "Exception ignored" from the final flush
