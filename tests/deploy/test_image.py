"""The container image: the Dockerfile's layout, and its entry point from a wheel in a clean venv."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from ssc_cli.settings import Settings
from tests.conftest import REPO
from tests.deploy.manifests import DOCKERFILE, KUBERNETES, documents, pod_spec, render
from tests.fakeregistry import pypi
from tests.fakeregistry.server import FakeRegistry


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    out: list[tuple[str, str]] = []
    logical = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        logical += line[:-1] + " " if line.endswith("\\") else line
        if not line.endswith("\\"):
            keyword, _, rest = logical.partition(" ")
            out.append((keyword.upper(), rest.strip()))
            logical = ""
    return out


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for keyword, rest in _instructions():
        if keyword == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((keyword, rest))
    return stages


def _env(stage: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, rest in stage:
        if keyword == "ENV":
            for pair in shlex.split(rest):
                name, _, value = pair.partition("=")
                env[name] = value
    return env


def test_multi_stage_build_with_a_slim_runtime() -> None:
    build, runtime = _stages()
    assert build[0][1].endswith("AS build")
    assert any(k == "RUN" and "pip wheel" in r for k, r in build)
    # The runtime stage gets the finished virtualenv and runs no installer or compiler.
    assert ("COPY", "--from=build /opt/ssc /opt/ssc") in runtime
    for keyword, rest in runtime:
        if keyword == "RUN":
            for word in ("pip", "apt-get", "gcc", "build-essential", "wheel"):
                assert word not in rest.split(), rest


def test_runtime_is_non_root_with_writable_data_and_cache_dirs() -> None:
    runtime = _stages()[-1]
    (user,) = [r for k, r in runtime if k == "USER"]
    assert user == "10001:10001"  # numeric, so runAsNonRoot can check it
    for obj in render(KUBERNETES / "production"):
        if obj["kind"] in ("CronJob", "Deployment"):
            assert str(pod_spec(obj)["securityContext"]["runAsUser"]) == user.split(":")[0]
    env = _env(runtime)
    assert env["SSC_DATA_DIR"] == "/var/lib/ssc"
    assert env["SSC_CACHE_DIR"] == "/var/cache/ssc"
    # The metrics files live in the data dir: writable, and kept with it (crontab and ConfigMap
    # agree: tests/deploy/test_crontab.py).
    assert env["SSC_METRICS_DIR"] == env["SSC_DATA_DIR"] + "/metrics"
    for name in env:
        if name.startswith("SSC_"):
            assert name[4:].lower() in Settings.model_fields, name
    (volume,) = [r for k, r in runtime if k == "VOLUME"]
    assert json.loads(volume) == [env["SSC_DATA_DIR"]]
    chown = next(r for k, r in runtime if k == "RUN" and "chown" in r)
    assert env["SSC_DATA_DIR"] in chown and env["SSC_CACHE_DIR"] in chown


def test_entrypoint_is_ssc_itself_in_exec_form() -> None:
    """No shell in between: SIGTERM from `docker stop` or the kubelet reaches ssc (PID 1)."""
    runtime = dict(_stages()[-1])
    assert json.loads(runtime["ENTRYPOINT"]) == ["ssc"]
    assert json.loads(runtime["CMD"]) == ["--help"]


def test_oci_labels_and_no_secrets() -> None:
    labels = " ".join(r for k, r in _stages()[-1] if k == "LABEL")
    for key in ("title", "description", "version", "licenses", "source"):
        assert f"org.opencontainers.image.{key}=" in labels, key
    for keyword, rest in _instructions():
        if keyword in ("ENV", "ARG"):
            upper = rest.upper()
            for word in ("PASSWORD", "TOKEN", "SECRET", "VULN_DB_URI", "REDIS_URL"):
                assert word not in upper, rest


def test_dockerignore_lets_in_only_what_the_build_copies() -> None:
    copied = {
        part
        for stage in _stages()[:1]
        for keyword, rest in stage
        if keyword == "COPY"
        for part in rest.split()[:-1]
    }
    assert copied == {"pyproject.toml", "README.md", "ssc_cli"}
    ignore = (REPO / ".dockerignore").read_text().splitlines()
    assert "**" in ignore
    assert {line[1:].rstrip("/") for line in ignore if line.startswith("!")} == copied


def _build_wheel(tmp_path: Path) -> Path:
    """The build stage: the three inputs it copies, `pip wheel` of them (offline here)."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    shutil.copytree(REPO / "ssc_cli", src / "ssc_cli", ignore=shutil.ignore_patterns("__pycache__"))
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "--wheel-dir", str(wheels), str(src)],
        check=True, capture_output=True, text=True, timeout=300, env=_pip_env(),
    )  # fmt: skip
    (wheel,) = wheels.glob("ssc-*.whl")
    return wheel


def _pip_env() -> dict[str, str]:
    """This environment without PYTHONPATH: a checkout on it (with its ssc.egg-info) makes pip
    believe ssc is installed already, and it would install nothing."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


@pytest.mark.slow
def test_the_wheel_runs_ssc_from_a_clean_venv(tmp_path: Path) -> None:
    """ssc --help and ssc doctor from the installed wheel alone: no source tree, no PYTHONPATH,
    a read-only install, the image's environment (its dependencies are borrowed from this
    environment through a .pth so the test needs no index)."""
    wheel = _build_wheel(tmp_path)
    venv = tmp_path / "opt-ssc"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
         "--no-index", str(wheel)],
        check=True, capture_output=True, text=True, timeout=300, env=_pip_env(),
    )  # fmt: skip
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
    )  # fmt: skip
    borrowed = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (site / "borrowed-dependencies.pth").write_text("\n".join(sorted(borrowed)) + "\n")
    # The image's read-only root filesystem (not through bin/python's link to the interpreter).
    read_only = [p for p in venv.rglob("*") if not p.is_symlink()]
    for path in read_only:
        path.chmod(path.stat().st_mode & ~0o222)
    home = tmp_path / "var-lib-ssc"
    home.mkdir()
    image_env = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "PYTHONDONTWRITEBYTECODE": "1",
        "HOME": str(home),
        "SSC_DATA_DIR": str(home),
        "SSC_CACHE_DIR": str(tmp_path / "var-cache-ssc"),
    }
    try:
        where = subprocess.run(
            [str(python), "-c", "import ssc_cli; print(ssc_cli.__file__)"],
            env=image_env, cwd=home, capture_output=True, text=True,
        )  # fmt: skip
        assert where.stdout.startswith(str(site)), where.stdout + where.stderr
        usage = subprocess.run(
            ["ssc", "--help"], env=image_env, cwd=home, capture_output=True, text=True, timeout=120
        )
        assert usage.returncode == 0, usage.stderr
        for command in ("ingest", "update", "drain-queue", "doctor"):
            assert command in usage.stdout
        registry = FakeRegistry()
        registry.mount("pypi", pypi.synthetic(3))
        registry.start()
        try:
            env = {**image_env, "SSC_PYPI_URL": registry.url("pypi"), "SSC_HTTP_RATE_LIMIT": "off"}
            doctor = subprocess.run(
                ["ssc", "doctor", "--ecosystem", "pypi", "--json"],
                env=env, cwd=home, capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            assert doctor.returncode == 0, doctor.stdout + doctor.stderr
            assert (home / "graph.sqlite").is_file()  # the default graph, in the data dir
            # And the graph unreachable: doctor is a readiness command, exit 5.
            env["SSC_GRAPH_URI"] = "bolt://127.0.0.1:9"
            down = subprocess.run(
                ["ssc", "doctor", "--ecosystem", "pypi"],
                env=env, cwd=home, capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            assert down.returncode == 5, down.stdout + down.stderr
            # The queue unreachable (the graph fine): the worker's readiness probe fails too.
            del env["SSC_GRAPH_URI"]
            env["SSC_REDIS_URL"] = "redis://127.0.0.1:9/0"
            no_queue = subprocess.run(
                ["ssc", "doctor", "--ecosystem", "pypi"],
                env=env, cwd=home, capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            assert no_queue.returncode == 5, no_queue.stdout + no_queue.stderr
            assert "FAIL redis" in no_queue.stdout
        finally:
            registry.stop()
    finally:
        for path in read_only:
            path.chmod(path.stat().st_mode | 0o200)


def _docker_daemon() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "info"], capture_output=True, timeout=60)
    return probe.returncode == 0


@pytest.mark.slow
def test_the_image_builds_and_runs_ssc_help() -> None:
    if not _docker_daemon():
        pytest.skip("no Docker daemon (`docker info` fails): the image itself is not built here")
    tag = f"ssc-test:{os.getpid()}"
    subprocess.run(["docker", "build", "-t", tag, str(REPO)], check=True, timeout=1800)
    try:
        out = subprocess.run(
            ["docker", "run", "--rm", "--read-only", "--tmpfs", "/tmp", "--tmpfs",
             "/var/cache/ssc", tag, "--help"],
            check=True, capture_output=True, text=True, timeout=300,
        ).stdout  # fmt: skip
        assert "drain-queue" in out
        user = subprocess.run(
            ["docker", "image", "inspect", "-f", "{{.Config.User}}", tag],
            check=True, capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip
        assert user == "10001:10001"
    finally:
        subprocess.run(["docker", "image", "rm", "-f", tag], capture_output=True)


def test_manifests_mount_the_image_dirs() -> None:
    env = _env(_stages()[-1])
    (job,) = documents(KUBERNETES / "base" / "cronjobs" / "update-pypi.yaml")
    mounts = {m["mountPath"] for m in pod_spec(job)["containers"][0]["volumeMounts"]}
    assert {env["SSC_DATA_DIR"], env["SSC_CACHE_DIR"], "/tmp"} <= mounts
