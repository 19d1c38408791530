"""Inside a container, an embedded graph on the container's own filesystem is announced on every run."""

from __future__ import annotations

from pathlib import Path

from ssc_cli.container import data_dir_is_kept, in_container, mounts, persistent_mount
from tests.conftest import Ssc
from tests.fakeregistry import pypi
from tests.fakeregistry.server import FakeRegistry

MOUNTINFO = """\
22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 0:40 / / rw,relatime - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w
31 27 253:1 /volumes/ssc-data/_data /var/lib/ssc rw,relatime - ext4 /dev/vda1 rw
32 27 0:50 / /scratch rw,nosuid - tmpfs tmpfs rw,size=65536k
33 27 253:1 /srv /srv/my\\040data rw,relatime - xfs /dev/vda2 rw
"""


def test_container_markers(tmp_path: Path) -> None:
    assert not in_container(tmp_path, {})
    assert in_container(tmp_path, {"KUBERNETES_SERVICE_HOST": "10.96.0.1"})
    docker = tmp_path / "docker"
    docker.mkdir()
    (docker / ".dockerenv").write_text("")
    assert in_container(docker, {})
    pod = tmp_path / "pod"
    (pod / "proc/1").mkdir(parents=True)
    (pod / "proc/1/cgroup").write_text("0::/kubepods/besteffort/pod1234/abcd\n")
    assert in_container(pod, {})
    (pod / "proc/1/cgroup").write_text("0::/init.scope\n")
    assert not in_container(pod, {})


def test_a_data_dir_is_kept_only_on_a_real_mount() -> None:
    table = mounts(MOUNTINFO)
    assert table["/var/lib/ssc"] == "ext4"
    assert persistent_mount(Path("/var/lib/ssc"), table) == "/var/lib/ssc"
    assert persistent_mount(Path("/var/lib/ssc/nested/dir"), table) == "/var/lib/ssc"
    assert persistent_mount(Path("/srv/my data/ssc"), table) == "/srv/my data"
    # The container's root filesystem, and a tmpfs, go with the container.
    assert persistent_mount(Path("/var/lib/other"), table) is None
    assert persistent_mount(Path("/scratch/ssc"), table) is None
    assert persistent_mount(Path("/var/lib"), table) is None


def test_every_run_warns_about_an_unmounted_data_dir(
    ssc: Ssc, fake_registry: FakeRegistry, tmp_path: Path
) -> None:
    fake_registry.mount("pypi", pypi.synthetic(3, versions=1, deps=0, wheels=False))
    pod = {"SSC_GRAPH_URI": None, "KUBERNETES_SERVICE_HOST": "10.96.0.1"}
    data_dir = ssc.env["SSC_DATA_DIR"]
    # tmp_path is on the root filesystem on the machines the suite runs on; where it is a
    # mount of its own, the run must stay silent instead.
    expected = 0 if data_dir_is_kept(Path(data_dir)) else 1
    for _ in range(2):
        result = ssc("ingest", "pypi", env=pod)
        warnings = [line for line in result.stderr.splitlines() if "SSC_DATA_DIR" in line]
        assert len(warnings) == expected, result.stderr
        if not expected:
            continue
        assert f"SSC_DATA_DIR={data_dir}" in warnings[0]
        assert "mount a volume there" in warnings[0]
    assert (Path(data_dir) / "graph.sqlite").exists()
    # A graph named by SSC_GRAPH_URI is the operator's choice: no warning.
    named = ssc("ingest", "pypi", env={"KUBERNETES_SERVICE_HOST": "10.96.0.1"})
    assert "SSC_DATA_DIR" not in named.stderr
    # -q keeps only errors.
    quiet = ssc("-q", "ingest", "pypi", env=pod)
    assert "SSC_DATA_DIR" not in quiet.stderr
