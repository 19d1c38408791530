"""drain-queue classifies the packages each batch wrote (the licence hook of issue 11)."""

from __future__ import annotations

import redis

from tests.conftest import Ssc
from tests.fakeregistry import pypi
from tests.fakeregistry.server import FakeRegistry
from tests.licenses.spdx_data import SPDX_DIR, require_real_fixtures


def test_each_batch_classifies_what_it_wrote(
    qssc: Ssc, fake_registry: FakeRegistry, redis_client: redis.Redis
) -> None:
    require_real_fixtures("spdx")
    fake_registry.mount("pypi", pypi.synthetic(6, versions=2, deps=1))
    qssc("licenses", "sync", str(SPDX_DIR))
    qssc("enqueue", "pypi", "pkg-00005")
    summary = qssc.json("drain-queue", "--until-empty", "--batch", "2")
    assert summary["extracted"] >= 2
    assert summary["classified"]["packages"] == summary["extracted"]
    assert summary["classified"]["by_status"]["open_source"] == summary["extracted"]  # MIT
    packages = [p for p in qssc.export() if p["type"] == "package" and p["status"] == "extracted"]
    assert packages and all(p["oss_status"] == "open_source" for p in packages)
    assert {p["license_expression"] for p in packages} == {"MIT"}
