"""`kprov secrets rotate-key` on the lab cluster: while a client reads and writes Secrets through
every API server (failing over), the key is rotated with 0 failed requests; afterwards etcd
itself (read on h1 with kprov-etcdctl) holds every Secret under the new key's name and none
under the old, and the Secrets read back unchanged."""

from __future__ import annotations

import asyncio
import base64
import json
import threading

import pytest
import yaml

from kprov.cluster.client.resources import SECRETS
from kprov.cluster.client.rest import ApiClient

from .conftest import Cluster

pytestmark = pytest.mark.lab
PREFIX = "k8s:enc:aesgcm:v1:"


def _etcd(cluster: Cluster, *args: str) -> str:
    return cluster.ssh("h1", "kprov-etcdctl " + " ".join(args) + " | tr -c '[:print:]\\n' '.'")


class _ClientLoop(threading.Thread):
    """Reads the probe Secret and writes a counter Secret until stopped; counts failures."""

    def __init__(self, cluster: Cluster) -> None:
        super().__init__(daemon=True)
        self.kubeconfig = cluster.kubeconfig
        self.stop = threading.Event()
        self.requests = 0
        self.failures: list[str] = []

    def run(self) -> None:
        asyncio.run(self._loop())

    async def _loop(self) -> None:
        async with ApiClient.from_kubeconfig(self.kubeconfig, user_agent="rotation-loop") as client:
            n = 0
            while not self.stop.is_set():
                n += 1
                try:
                    await client.get(SECRETS, "rotation-probe", "default")
                    counter = await client.get(SECRETS, "rotation-counter", "default")
                    await client.update(SECRETS, {**counter, "stringData": {"n": str(n)}})
                    self.requests += 3
                except Exception as exc:  # noqa: BLE001 - every failure is the finding
                    self.failures.append(f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(0.1)


def test_rotate_key_under_load_leaves_no_secret_under_the_old_key(cluster: Cluster) -> None:
    for name in ("rotation-probe", "rotation-counter"):
        cluster.kubectl("create", "secret", "generic", name, "-n", "default", "--from-literal=a=b")
    before = _etcd(cluster, "get", "/registry/secrets/default/rotation-probe", "--print-value-only")
    old = before.split(PREFIX, 1)[1].split(":", 1)[0]
    loop = _ClientLoop(cluster)
    loop.start()
    try:
        proc = cluster.kprov("secrets", "rotate-key", "-i", str(cluster.inventory), "--json", timeout=900)
    finally:
        loop.stop.set()
        loop.join(30)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["old_key"] == old and report["new_key"] != old
    assert [s["step"] for s in report["steps"]] == ["start", "add", "promote", "rewrite", "drop", "done"]
    assert report["secrets_total"] >= 2 and report["secrets_rewritten"] >= 1
    assert loop.requests > 0 and loop.failures == [], loop.failures[:5]

    values = _etcd(cluster, "get", "--prefix", "/registry/secrets/", "--print-value-only")
    assert values.count(f"{PREFIX}{report['new_key']}:") >= report["secrets_total"]
    assert f"{PREFIX}{old}:" not in values
    assert cluster.kubectl("get", "secret", "rotation-probe", "-n", "default",
                           "-o", "jsonpath={.data.a}").stdout == base64.b64encode(b"b").decode()
    config = yaml.safe_load((cluster.inventory.parent / "pki" / "encryption-config.yaml").read_text())
    (key,) = config["resources"][0]["providers"][0]["aesgcm"]["keys"]
    assert key["name"] == report["new_key"] and key["secret"] not in proc.stdout + proc.stderr
    for name in ("rotation-probe", "rotation-counter"):
        cluster.kubectl("delete", "secret", name, "-n", "default")
