"""Unknown setting names are reported with the closest known one (issue 9.5, 9.1)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Ssc


def test_a_misspelt_registry_url_is_exit_2_before_any_request(ssc: Ssc) -> None:
    # The real setting names a closed port, never the public PyPI: before the fix, exit 4.
    env: dict[str, str | None] = {
        "SSC_PYPI_URL": "http://127.0.0.1:9",
        "SSC_PYPI_URLL": ssc.env["SSC_PYPI_URL"],
    }
    result = ssc("ingest", "pypi", "--limit", "1", expect=2, env=env)
    assert "SSC_PYPI_URLL" in result.stderr
    assert "did you mean SSC_PYPI_URL?" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not Path(ssc.graph_uri.removeprefix("sqlite:///")).exists()


def test_an_unknown_name_that_is_no_url_is_a_warning_and_the_run_goes_on(ssc: Ssc) -> None:
    result = ssc("status", env={"SSC_HTTP_RETRISE": "3", "SSC_TEST_NEO4J_URL": "bolt://x:1"})
    assert "SSC_TEST_" not in result.stderr  # the test harness's names are not ssc's
    assert "unknown setting SSC_HTTP_RETRISE" in result.stderr
    assert "did you mean SSC_HTTP_RETRIES?" in result.stderr


def test_names_in_the_env_file_are_checked_against_the_legacy_aliases_too(
    ssc: Ssc, tmp_path: Path
) -> None:
    env_file = tmp_path / "prod.env"
    env_file.write_text("REDIS_HOSTT=redis\nGRAPH_DB_USER=neo4j\n")
    result = ssc("--env-file", str(env_file), "status")
    assert f"unknown setting REDIS_HOSTT in {env_file}; did you mean REDIS_HOST?" in result.stderr
    assert "GRAPH_DB_USER" not in result.stderr
    env_file.write_text("VULN_DB_URL=mongodb://mongo:27017\n")
    result = ssc("--env-file", str(env_file), "status", expect=2)
    assert "did you mean VULN_DB_URI?" in result.stderr


def test_a_dot_env_that_is_not_utf8_is_exit_2_naming_the_file(ssc: Ssc) -> None:
    (ssc.home / ".env").write_bytes(b"SSC_HTTP_RETRIES=3\nNAME=caf\xe9\n")
    result = ssc("status", expect=2)
    assert result.stderr.strip() == "ssc: error: ./.env: not UTF-8 text (byte 27); save it as UTF-8"
    assert "Traceback" not in result.stderr
