"""The pod-creating half of the fault workload: a ReplicaSet kept busy, and watched.

Beside the ConfigMap writer (workload.py), a ReplicaSet of ``replicas`` small pods runs in the
scenario's namespace. Once its pods run (before the fault), one of its active pods is
deleted through the VIP every ``churn_s`` (the oldest first, Running or not), so the
ReplicaSet controller keeps creating pods while the fault lasts. A watch on its pods keeps
their state as of each event (a consistent view at that resourceVersion: events come in
order) and counts the pods *active* there, as the controller counts them (not being
deleted, not finished). Upstream's guarantee, which a fault must not break (a controller
manager restarted, its informer behind, an API server answering from a stale cache): the
ReplicaSet never has more active pods than its replicas (``max_active``). A 410 relists and
takes the list as the new state; any other break resumes from the last resourceVersion.

After the heal the churn stops, and :meth:`ReplicaSetProbe.wait_converged` waits until
``replicas`` pods are Running and not being deleted, and returns how long that took.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kprov.cluster.client import ApiClient, Gone, load_kubeconfig, resources
from tests.faults.background import BackgroundLoops, ensure_namespace

__all__ = ["ReplicaSetProbe", "active"]

APP = "fault-churn"


def active(pod: dict[str, Any]) -> bool:
    """Counted by the ReplicaSet controller: not being deleted, not finished."""
    return not pod["metadata"].get("deletionTimestamp") and \
        (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


def _replica_set(namespace: str, replicas: int) -> dict[str, Any]:
    return {
        "metadata": {"name": APP, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": APP}},
            "template": {
                "metadata": {"labels": {"app": APP}},
                "spec": {
                    "terminationGracePeriodSeconds": 1,
                    "containers": [{"name": "main", "image": "kprov.local/busybox:1",
                                    "imagePullPolicy": "IfNotPresent",
                                    "command": ["sh", "-c", "exec sleep 100000"]}],
                },
            },
        },
    }


@dataclass
class ReplicaSetProbe:
    kubeconfig: Path
    namespace: str
    replicas: int = 3
    churn_s: float = 1.0
    timeout_s: float = 5.0
    idle_s: float = 5.0
    max_active: int = 0
    over: list[str] = field(default_factory=list)  # the views with more active pods than replicas
    created: set[str] = field(default_factory=set)  # every pod the watch saw
    deletes_acked: int = 0
    deletes_failed: int = 0
    relists: int = 0
    pods: dict[str, dict[str, Any]] = field(default_factory=dict)
    _churning: threading.Event = field(default_factory=threading.Event)
    _loops: BackgroundLoops | None = None

    def __enter__(self) -> ReplicaSetProbe:
        asyncio.run(self._create())
        self._loops = BackgroundLoops(self.kubeconfig, self.timeout_s, "fault-replicaset",
                                      self._churn_loop, self._watch_loop)
        self._loops.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loops is not None:
            self._loops.stop(self.timeout_s + self.idle_s + 10)

    def start_churning(self) -> None:
        """Deletes from now on (once its pods run: before the fault)."""
        self._churning.set()

    def stop_churning(self) -> None:
        """No more deletes (the watch goes on): before waiting for it to converge."""
        self._churning.clear()

    def running(self) -> int:
        return sum(active(p) and (p.get("status") or {}).get("phase") == "Running"
                   for p in self.pods.values())

    def wait_converged(self, bound_s: float) -> float:
        """Seconds until ``replicas`` pods are Running (AssertionError past ``bound_s``)."""
        start = time.monotonic()
        while time.monotonic() - start < bound_s:
            if self.running() == self.replicas:
                return time.monotonic() - start
            time.sleep(0.5)
        raise AssertionError(f"the ReplicaSet has {self.running()} of {self.replicas} pods Running "
                             f"after {bound_s:.0f}s")

    def summary(self) -> str:
        return (f"replicaset: max_active={self.max_active}/{self.replicas} pods_seen={len(self.created)} "
                f"deletes={self.deletes_acked} (failed {self.deletes_failed}) relists={self.relists}")

    # --- the loops -----------------------------------------------------------------------
    async def _create(self) -> None:
        async with ApiClient(load_kubeconfig(self.kubeconfig), timeout=10.0) as client:
            await ensure_namespace(client, self.namespace)
            await client.create(resources.REPLICASETS, _replica_set(self.namespace, self.replicas),
                                self.namespace)

    def _observe(self, where: str) -> None:
        count = sum(active(p) for p in self.pods.values())
        self.max_active = max(self.max_active, count)
        if count > self.replicas:
            names = sorted(n for n, p in self.pods.items() if active(p))
            self.over.append(f"{count} active at {where}: {names}")

    async def _churn_loop(self, client: ApiClient) -> None:
        while True:
            await asyncio.sleep(self.churn_s)
            if not self._churning.is_set():
                continue
            # any active pod, the oldest first: deleting one not yet Running makes the
            # controller create the next sooner, without waiting for a container to start
            victims = sorted((p for p in self.pods.values() if active(p)),
                             key=lambda p: p["metadata"].get("creationTimestamp") or "")
            if not victims:
                continue
            name = victims[0]["metadata"]["name"]
            try:
                await asyncio.wait_for(client.delete(resources.PODS, name, self.namespace), self.timeout_s)
                self.deletes_acked += 1
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a failed delete under a fault is expected; counted
                self.deletes_failed += 1

    async def _watch_loop(self, client: ApiClient) -> None:
        rv = ""
        selector = f"app={APP}"
        while True:
            try:
                if not rv:
                    items, rv = await client.list_all(resources.PODS, self.namespace, label_selector=selector)
                    self.pods = {i["metadata"]["name"]: i for i in items}
                    self.created.update(self.pods)
                    self.relists += 1
                    self._observe(f"list@{rv}")
                stream = client.watch(resources.PODS, self.namespace, resource_version=rv,
                                      label_selector=selector, timeout_seconds=60)
                try:
                    while True:
                        event = await asyncio.wait_for(anext(stream), self.idle_s)
                        meta = event.object.get("metadata") or {}
                        rv = str(meta.get("resourceVersion") or rv)
                        if event.type == "DELETED":
                            self.pods.pop(str(meta.get("name")), None)
                        elif event.type in ("ADDED", "MODIFIED"):
                            self.pods[str(meta.get("name"))] = event.object
                            self.created.add(str(meta.get("name")))
                            self._observe(f"{event.type} {meta.get('name')}@{rv}")
                finally:
                    with contextlib.suppress(Exception):
                        await stream.aclose()  # type: ignore[attr-defined]  # an async generator
            except asyncio.CancelledError:
                raise
            except Gone:
                rv = ""
            except StopAsyncIteration:
                pass
            except Exception:  # noqa: BLE001 - a broken or idle stream: resume from rv
                await asyncio.sleep(0.2)
