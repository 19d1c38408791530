"""Reading deploy/kubernetes/ as kubectl would: YAML documents and a small kustomize renderer."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import REPO

KUBERNETES = REPO / "deploy" / "kubernetes"
CRONTAB = REPO / "crontab.example"
DOCKERFILE = REPO / "Dockerfile"
KUSTOMIZATION = "kustomization.yaml"
# What kubernetes-validate calls the newest release it bundles schemas for, pinned so a new
# validator release cannot silently change what "current" means here.
KUBERNETES_VERSION = "1.37"

Doc = dict[str, Any]


def documents(path: Path) -> list[Doc]:
    """Every non-empty YAML document of one file."""
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def manifest_files() -> list[Path]:
    """Every manifest under deploy/kubernetes/ (kustomization files are not resources)."""
    return sorted(p for p in KUBERNETES.rglob("*.yaml") if p.name != KUSTOMIZATION)


def render(directory: Path) -> list[Doc]:
    """The objects `kubectl apply -k directory` would send, for the features used here:
    resources, components, JSON 6902 patches (add/replace) with kind/name targets, labels,
    namespace and images (tests/deploy/test_manifests.py compares it with `kubectl kustomize`)."""
    spec = documents(directory / KUSTOMIZATION)[0]
    objects: list[Doc] = []
    for entry in spec.get("resources", []):
        target = directory / entry
        objects += render(target) if target.is_dir() else documents(target)
    for entry in spec.get("components", []):
        objects += render(directory / entry)
    for patch in spec.get("patches", []):
        selector = patch["target"]
        for obj in objects:
            if obj["kind"] == selector.get("kind", obj["kind"]) and obj["metadata"][
                "name"
            ] == selector.get("name", obj["metadata"]["name"]):
                for op in yaml.safe_load(patch["patch"]):
                    _apply(obj, op)
    for entry in spec.get("labels", []):
        # Plain `labels:` (no selectors, no templates) label each object's own metadata only.
        assert not entry.get("includeSelectors") and not entry.get("includeTemplates"), entry
        for obj in objects:
            obj["metadata"].setdefault("labels", {}).update(entry["pairs"])
    if "namespace" in spec:
        for obj in objects:
            if obj["kind"] != "Namespace":
                obj["metadata"]["namespace"] = spec["namespace"]
    for image in spec.get("images", []):
        for container in containers_of_all(objects):
            name, _, _tag = container["image"].partition(":")
            if name == image["name"]:
                container["image"] = f"{image.get('newName', name)}:{image['newTag']}"
    return objects


def _apply(obj: Doc, op: Doc) -> None:
    """One JSON 6902 operation; the path must exist up to its parent (kustomize fails too)."""
    assert op["op"] in ("add", "replace"), f"patch op {op['op']} not supported by this reader"
    *parents, last = [p for p in op["path"].split("/") if p]
    node: Any = obj
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        index = int(last)
        if op["op"] == "replace":
            assert index < len(node), f"{op['path']} does not exist"
            node[index] = copy.deepcopy(op["value"])
        else:
            node.insert(index, copy.deepcopy(op["value"]))
    else:
        assert op["op"] == "add" or last in node, f"{op['path']} does not exist"
        node[last] = copy.deepcopy(op["value"])


def pod_spec(obj: Doc) -> Doc:
    """The pod template's spec of a CronJob or a Deployment."""
    if obj["kind"] == "CronJob":
        return dict(obj["spec"]["jobTemplate"]["spec"]["template"]["spec"])
    return dict(obj["spec"]["template"]["spec"])


def containers_of_all(objects: list[Doc]) -> list[Doc]:
    return [
        c
        for obj in objects
        if obj["kind"] in ("CronJob", "Deployment")
        for c in pod_spec(obj)["containers"]
    ]


def ssc_command(args: list[str]) -> tuple[str, ...]:
    """The ssc command line of a container or crontab entry, without --env-file and --json."""
    out: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--env-file":
            skip = True
        elif arg != "--json":
            out.append(arg)
    return tuple(out)


_CRON_LINE = re.compile(r"^(?P<off>#\s*)?(?P<expr>(?:\S+\s+){4}\S+)\s+\$SSC\s+(?P<rest>.*)$")


def crontab_entries() -> list[Doc]:
    """Every job of crontab.example, commented-out ones too: expression, ssc args, redirections."""
    entries = []
    for number, line in enumerate(CRONTAB.read_text().splitlines(), start=1):
        match = _CRON_LINE.match(line.strip())
        if match is None:
            continue
        command, _, redirections = match["rest"].partition(">>")
        entries.append(
            {
                "line": number,
                "enabled": match["off"] is None,
                "expr": " ".join(match["expr"].split()),
                "args": command.split(),
                "redirections": (">>" + redirections).split(),
            }
        )
    return entries


def crontab_variables() -> dict[str, str]:
    """NAME=value lines of crontab.example."""
    out = {}
    for line in CRONTAB.read_text().splitlines():
        match = re.match(r"^([A-Z_][A-Z0-9_]*)=(.*)$", line)
        if match:
            out[match[1]] = match[2]
    return out
