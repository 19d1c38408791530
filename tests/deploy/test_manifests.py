"""deploy/kubernetes/: valid against the Kubernetes schemas, and the operating policies hold."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from croniter import croniter
from dotenv import dotenv_values

from ssc_cli.settings import Settings
from tests.conftest import REPO
from tests.deploy.manifests import (
    KUBERNETES,
    KUBERNETES_VERSION,
    KUSTOMIZATION,
    Doc,
    documents,
    manifest_files,
    pod_spec,
    render,
    ssc_command,
)

VARIANTS = {
    "production": lambda: render(KUBERNETES / "production"),
    "embedded": lambda: render(KUBERNETES / "embedded"),
    "production+keda": lambda: render(KUBERNETES / "production") + render(KUBERNETES / "keda"),
}
KEDA_KINDS = {"ScaledObject", "TriggerAuthentication"}


def _by_kind(objects: list[Doc], kind: str) -> list[Doc]:
    return [o for o in objects if o["kind"] == kind]


def _cronjobs(objects: list[Doc]) -> dict[str, Doc]:
    return {o["metadata"]["name"]: o for o in _by_kind(objects, "CronJob")}


def _validate(doc: Doc) -> None:
    """Strict schema validation of Kubernetes' own kinds, offline (schemas ship in the wheel)."""
    if doc["kind"] in KEDA_KINDS:
        assert doc["apiVersion"] == "keda.sh/v1alpha1"
        return
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(p) for p in exc.path)
        pytest.fail(f"{doc['kind']}/{doc['metadata']['name']}: {path}: {exc.message}")


def test_the_validator_bundles_the_schemas_of_a_current_release() -> None:
    """No download at test time: the schemas are files of the installed package."""
    assert f"{KUBERNETES_VERSION}.0" in kubernetes_validate.utils.all_versions()
    validator_files = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    assert (
        validator_files / f"v{KUBERNETES_VERSION}.0-local-strict" / "cronjob-batch-v1.json"
    ).is_file()


def test_the_validator_rejects_what_kubernetes_rejects() -> None:
    bad = documents(KUBERNETES / "base" / "cronjobs" / "update-pypi.yaml")[0]
    bad["spec"]["concurrencyPolicy"] = 7  # a number where the API wants a string
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES_VERSION, strict=True)
    bad = documents(KUBERNETES / "base" / "drain-queue.yaml")[0]
    bad["spec"]["template"]["spec"]["terminationGracePeriod"] = 600  # misspelt: strict refuses
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: str(p.relative_to(KUBERNETES)))
def test_every_manifest_file_validates(path: Path) -> None:
    docs = documents(path)
    assert docs, f"{path} holds no manifest"
    for doc in docs:
        _validate(doc)


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_rendered_object_validates(variant: str) -> None:
    objects = VARIANTS[variant]()
    for obj in objects:
        _validate(obj)
    names = [(o["kind"], o["metadata"]["name"]) for o in objects]
    assert len(names) == len(set(names)), "an object is defined twice"


def test_every_manifest_is_part_of_a_kustomization() -> None:
    """A file no kustomization lists is never applied (except the Secret's example)."""
    listed: set[Path] = set()
    for kustomization in KUBERNETES.rglob(KUSTOMIZATION):
        for entry in documents(kustomization)[0].get("resources", []):
            target = (kustomization.parent / entry).resolve()
            assert target.exists(), f"{kustomization}: {entry} does not exist"
            listed.add(target)
    unlisted = {p.resolve() for p in manifest_files()} - listed
    assert unlisted == {(KUBERNETES / "base" / "secret.example.yaml").resolve()}


@pytest.mark.parametrize("variant", VARIANTS)
def test_cronjob_policies(variant: str) -> None:
    cronjobs = _cronjobs(VARIANTS[variant]())
    assert cronjobs
    for name, job in cronjobs.items():
        spec = job["spec"]
        job_spec = spec["jobTemplate"]["spec"]
        assert spec["concurrencyPolicy"] == "Forbid", name
        assert spec["startingDeadlineSeconds"] > 0, name
        assert 0 < spec["successfulJobsHistoryLimit"] <= 10, name
        assert 0 < spec["failedJobsHistoryLimit"] <= 10, name
        assert spec["timeZone"] == "Etc/UTC", name
        assert 0 <= job_spec["backoffLimit"] <= 3, name
        assert job_spec["activeDeadlineSeconds"] > 0, name
        assert pod_spec(job)["restartPolicy"] == "Never", name
        # A deadline shorter than the schedule's interval, so runs never pile up behind Forbid.
        times = croniter(spec["schedule"], 0)
        interval = -times.get_next(float) + times.get_next(float)
        assert job_spec["activeDeadlineSeconds"] < interval, name
        # Configuration errors, gates and held locks are not retried.
        rules = job_spec["podFailurePolicy"]["rules"]
        fail_job = [r for r in rules if r["action"] == "FailJob"]
        assert {2, 3, 75} <= set(fail_job[0]["onExitCodes"]["values"]), name


def test_bulk_ingestion_ships_suspended_and_everything_else_runs() -> None:
    cronjobs = _cronjobs(render(KUBERNETES / "production"))
    ingests = {n for n in cronjobs if n.startswith("ssc-ingest-")}
    assert ingests == {
        f"ssc-ingest-{e}" for e in ("pypi", "npm", "maven", "nuget", "cargo", "rubygems")
    }
    for name, job in cronjobs.items():
        assert job["spec"]["suspend"] is (name in ingests), name
    # At the seed's (stopped) weekly ingestion times: Sundays from 02:00, one hour apart.
    seed = {"pypi": 2, "npm": 3, "maven": 4, "nuget": 5, "cargo": 6, "rubygems": 7}
    for eco, hour in seed.items():
        job = cronjobs[f"ssc-ingest-{eco}"]
        assert job["spec"]["schedule"] == f"0 {hour} * * 0", eco
        assert ssc_command(pod_spec(job)["containers"][0]["args"]) == ("ingest", eco)


def test_one_cronjob_per_update_staggered_like_the_seed() -> None:
    """The seed's update schedules: 10:00 PyPI, then every two hours."""
    cronjobs = _cronjobs(render(KUBERNETES / "production"))
    seed = {"pypi": 10, "npm": 12, "maven": 14, "cargo": 16, "rubygems": 18, "nuget": 20}
    for eco, hour in seed.items():
        job = cronjobs[f"ssc-update-{eco}"]
        assert job["spec"]["schedule"] == f"0 {hour} * * *"
        args = pod_spec(job)["containers"][0]["args"]
        assert ssc_command(args) == ("update", eco)


def test_cadences_of_licences_and_classification() -> None:
    cronjobs = _cronjobs(render(KUBERNETES / "production"))
    day, week = 86_400, 7 * 86_400

    def interval(name: str) -> float:
        times = croniter(cronjobs[name]["spec"]["schedule"], 0)
        return -times.get_next(float) + times.get_next(float)

    assert interval("ssc-licenses-sync") == week
    assert interval("ssc-classify") == day
    assert interval("ssc-vulns-sync") == interval("ssc-vulns-attribute") == day
    # Attribution follows the sync it depends on, on the same day, before the first update.
    sync = croniter(cronjobs["ssc-vulns-sync"]["spec"]["schedule"], 0).get_next(float)
    attribute = croniter(cronjobs["ssc-vulns-attribute"]["spec"]["schedule"], 0).get_next(float)
    update = croniter(cronjobs["ssc-update-pypi"]["spec"]["schedule"], 0).get_next(float)
    assert sync < attribute < update


@pytest.mark.parametrize("variant", VARIANTS)
def test_pod_security_and_resources(variant: str) -> None:
    for obj in VARIANTS[variant]():
        if obj["kind"] not in ("CronJob", "Deployment"):
            continue
        name = obj["metadata"]["name"]
        pod = pod_spec(obj)
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] == 10001, name  # the image's USER
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert pod["automountServiceAccountToken"] is False, name
        volumes = {v["name"]: v for v in pod["volumes"]}
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            assert "add" not in context["capabilities"], name
            res = container["resources"]
            for key in ("cpu", "memory"):
                assert res["requests"][key] and res["limits"][key], (name, key)
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            # Writable places on a read-only root: the cache and /tmp are emptyDirs.
            assert "emptyDir" in volumes[mounts["/var/cache/ssc"]], name
            assert "emptyDir" in volumes[mounts["/tmp"]], name
            assert "/var/lib/ssc" in mounts, name
            assert container["args"][:2] == ["--env-file", "/etc/ssc/ssc.env"], name
            assert volumes[mounts["/etc/ssc"]]["secret"]["secretName"] == "ssc-env", name


def test_a_persistent_volume_claim_only_for_the_embedded_graph() -> None:
    production = render(KUBERNETES / "production")
    embedded = render(KUBERNETES / "embedded")
    assert _by_kind(production, "PersistentVolumeClaim") == []
    for obj in production:
        if obj["kind"] in ("CronJob", "Deployment"):
            assert "emptyDir" in pod_spec(obj)["volumes"][0]
    (claim,) = _by_kind(embedded, "PersistentVolumeClaim")
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    for obj in embedded:
        if obj["kind"] in ("CronJob", "Deployment"):
            data = pod_spec(obj)["volumes"][0]
            assert data == {"name": "data", "persistentVolumeClaim": {"claimName": "ssc-data"}}
    (worker,) = _by_kind(embedded, "Deployment")
    assert worker["spec"]["replicas"] == 1


def _config() -> dict[str, str]:
    (config,) = documents(KUBERNETES / "base" / "config.yaml")
    return dict(config["data"])


def test_the_configmap_names_real_settings() -> None:
    fields = Settings.model_fields
    for key in _config():
        assert key.startswith("SSC_") and key[4:].lower() in fields, key
    Settings(**{k[4:].lower(): v for k, v in _config().items()})  # and the values parse


def test_the_secret_example_is_a_dotenv_with_the_old_names(tmp_path: Path) -> None:
    (secret,) = documents(KUBERNETES / "base" / "secret.example.yaml")
    text = secret["stringData"]["ssc.env"]
    assert "GRAPH_DB_URI" in dotenv_values(stream=io.StringIO(text))
    env_file = tmp_path / "ssc.env"
    env_file.write_text(text)
    # Read by ssc exactly as a container reads it (--env-file), in a clean environment.
    code = (
        "from pathlib import Path; from ssc_cli.settings import load_settings; "
        f"s = load_settings(Path({str(env_file)!r})); "
        "print(s.graph_uri, s.graph_user, s.redis_host, s.redis_stream, s.redis_group, "
        "s.consumer_name)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        # As in the drain-queue pod: SSC_REDIS_CONSUMER from the pod name wins over the file.
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "SSC_REDIS_CONSUMER": "pod-a"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out == [
        "bolt://neo4j:7687",
        "neo4j",
        "redis",
        "package-extraction",
        "extractors",
        "pod-a",
    ]


def _one_package_worst_case(settings: Settings) -> float:
    """Seconds one fetch may take before it fails: every attempt times out, every backoff is
    the longest, then the stop grace."""
    attempts = settings.http_retries + 1
    return (
        attempts * (settings.http_timeout + settings.http_connect_timeout)
        + settings.http_retries * settings.http_backoff_max
        + settings.stop_grace
    )


def test_drain_queue_worker_outlives_one_batch_after_sigterm() -> None:
    (worker,) = _by_kind(render(KUBERNETES / "production"), "Deployment")
    pod = pod_spec(worker)
    (container,) = pod["containers"]
    assert ssc_command(container["args"]) == ("drain-queue",)  # runs until signalled
    (consumer,) = [e for e in container["env"] if e["name"] == "SSC_REDIS_CONSUMER"]
    assert consumer["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    settings = Settings(**{k[4:].lower(): v for k, v in _config().items()})
    # A batch is fetched concurrently, so its worst case is that of one package.
    assert pod["terminationGracePeriodSeconds"] > _one_package_worst_case(settings)
    probe = container["readinessProbe"]["exec"]["command"]
    assert probe[0] == "ssc" and "doctor" in probe


def test_keda_scales_the_worker_on_the_consumer_group_lag() -> None:
    objects = render(KUBERNETES / "production") + render(KUBERNETES / "keda")
    (worker,) = _by_kind(objects, "Deployment")
    (scaled,) = _by_kind(objects, "ScaledObject")
    (auth,) = _by_kind(objects, "TriggerAuthentication")
    assert scaled["spec"]["scaleTargetRef"]["name"] == worker["metadata"]["name"]
    assert scaled["spec"]["minReplicaCount"] >= 1
    assert scaled["spec"]["maxReplicaCount"] > scaled["spec"]["minReplicaCount"]
    assert scaled["spec"]["cooldownPeriod"] > pod_spec(worker)["terminationGracePeriodSeconds"]
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "redis-streams"
    defaults = Settings()
    assert trigger["metadata"]["stream"] == defaults.redis_stream
    assert trigger["metadata"]["consumerGroup"] == defaults.redis_group
    assert int(trigger["metadata"]["lagCount"]) > 0  # XINFO GROUPS lag, not XLEN
    assert trigger["authenticationRef"]["name"] == auth["metadata"]["name"]
    # Not wired in by default: it needs KEDA's CRDs in the cluster.
    assert "components" not in documents(KUBERNETES / "production" / KUSTOMIZATION)[0]


def test_the_operations_files_name_tests_that_exist() -> None:
    """A comment saying which test keeps a file in step names one a reader can open."""
    files = [REPO / "Dockerfile", REPO / "crontab.example", REPO / "docs" / "operations.md"]
    files += sorted(KUBERNETES.rglob("*.yaml"))
    for path in files:
        for named in re.findall(r"tests/[\w/]+\.py", path.read_text()):
            assert (REPO / named).is_file(), f"{path.relative_to(REPO)} names {named}"


def _kubectl_kustomize(directory: Path) -> list[Doc]:
    """What `kubectl apply -k directory` sends, rendered offline by kubectl's own kustomize."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        if os.environ.get("CI") == "true":  # this machine kind carries one: never a skip in CI
            pytest.fail("no kubectl on PATH in CI")
        pytest.skip("no kubectl: the rendering is checked by tests/deploy/manifests.py alone")
    out = subprocess.run(
        [kubectl, "kustomize", str(directory)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def _with_keda(tmp_path: Path) -> Path:
    """production/ with `components: [../keda]` uncommented, as docs/operations.md says."""
    copy = tmp_path / "kubernetes"
    shutil.copytree(KUBERNETES, copy)
    kustomization = copy / "production" / KUSTOMIZATION
    text = kustomization.read_text()
    assert "# components:\n#   - ../keda\n" in text
    kustomization.write_text(
        text.replace("# components:\n#   - ../keda\n", "components:\n  - ../keda\n")
    )
    return copy / "production"


@pytest.mark.parametrize("variant", ["embedded", "production", "production+keda"])
def test_kubectl_renders_what_these_tests_check(variant: str, tmp_path: Path) -> None:
    """The policies above are asserted on tests/deploy/manifests.py's rendering; kubectl's
    kustomize must send the same objects, and they validate too."""
    directory = _with_keda(tmp_path) if variant == "production+keda" else KUBERNETES / variant
    sent = _kubectl_kustomize(directory)
    for obj in sent:
        _validate(obj)
    checked = render(directory)

    def by_name(objects: list[Doc]) -> dict[tuple[str, str], Doc]:
        return {(o["kind"], o["metadata"]["name"]): o for o in objects}

    assert by_name(sent) == by_name(checked)
