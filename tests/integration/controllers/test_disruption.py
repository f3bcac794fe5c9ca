"""PodDisruptionBudgets: the disruption controller's status (healthy, desired, expected,
allowed; scale of the pods' ReplicaSet for maxUnavailable) and the eviction API honouring it
(429 with upstream's message and cause while a budget forbids it)."""

from __future__ import annotations

import pytest

from kprov.cluster.client import ApiClient, resources
from kprov.cluster.client.errors import ApiError, NotFound
from tests.integration.controllers.fake_kubelet import FakeKubelet
from tests.integration.controllers.hollow import ensure_namespace, mark_running, simple_pod, wait_for

NS = "pdb"


async def _status(admin: ApiClient, name: str, **want: int) -> dict:
    async def check() -> dict | None:
        pdb = await admin.get(resources.POD_DISRUPTION_BUDGETS, name, NS)
        status = pdb.get("status") or {}
        ok = status.get("observedGeneration") == pdb["metadata"]["generation"]
        return status if ok and all(status.get(k) == v for k, v in want.items()) else None

    return await wait_for(check, 20, what=f"pdb {name} status {want}")  # type: ignore[no-any-return]


async def _evict(admin: ApiClient, pod: str) -> None:
    body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": pod, "namespace": NS}}
    await admin.create(resources.PODS, body, NS, subresource="eviction", name=pod)


async def test_eviction_honours_the_budget(control_plane, controller_manager) -> None:  # type: ignore[no-untyped-def]
    async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin:
        await ensure_namespace(admin, NS)
        for name in ("a", "b"):
            pod = await admin.create(resources.PODS, simple_pod(name, NS, labels={"app": "guarded"}))
            await mark_running(admin, pod, f"10.9.0.{ord(name)}")
        pdb = {
            "metadata": {"name": "guard", "namespace": NS},
            "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "guarded"}}},
        }
        await admin.create(resources.POD_DISRUPTION_BUDGETS, pdb)
        status = await _status(admin, "guard", currentHealthy=2, desiredHealthy=2, expectedPods=2)
        assert status["disruptionsAllowed"] == 0
        assert status["conditions"][0]["reason"] == "InsufficientPods"
        with pytest.raises(ApiError) as refused:
            await _evict(admin, "a")
        assert refused.value.code == 429 and refused.value.reason == "TooManyRequests"
        assert refused.value.message == "Cannot evict pod as it would violate the pod's disruption budget."
        causes = refused.value.status["details"]["causes"]
        assert causes == [
            {
                "reason": "DisruptionBudget",
                "message": "The disruption budget guard needs 2 healthy pods and has 2 currently",
            }
        ]
        await admin.patch(resources.POD_DISRUPTION_BUDGETS, "guard", {"spec": {"minAvailable": 1}}, NS)
        await _status(admin, "guard", disruptionsAllowed=1)
        await _evict(admin, "a")
        try:  # an unbound pod goes at once, a bound one is marked for deletion
            evicted = await admin.get(resources.PODS, "a", NS)
            assert evicted["metadata"].get("deletionTimestamp")
        except NotFound:
            pass
        with pytest.raises(ApiError) as again:
            await _evict(admin, "b")
        assert again.value.code == 429


async def test_max_unavailable_counts_the_controllers_scale(control_plane, controller_manager) -> None:  # type: ignore[no-untyped-def]
    async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin:
        await ensure_namespace(admin, NS)
        kubelet = FakeKubelet(admin, NS)
        kubelet.start()
        try:
            rs = {
                "metadata": {"name": "web", "namespace": NS},
                "spec": {
                    "replicas": 3,
                    "selector": {"matchLabels": {"app": "web"}},
                    "template": {
                        "metadata": {"labels": {"app": "web"}},
                        "spec": {"containers": [{"name": "c", "image": "registry.invalid/app:1"}]},
                    },
                },
            }
            await admin.create(resources.REPLICASETS, rs)
            pdb = {
                "metadata": {"name": "web", "namespace": NS},
                "spec": {"maxUnavailable": "34%", "selector": {"matchLabels": {"app": "web"}}},
            }
            await admin.create(resources.POD_DISRUPTION_BUDGETS, pdb)
            status = await _status(admin, "web", currentHealthy=3, expectedPods=3)
            assert (status["desiredHealthy"], status["disruptionsAllowed"]) == (1, 2)
        finally:
            await kubelet.stop()
