"""Endpoints and EndpointSlices follow pod readiness and resolve named target ports."""

from __future__ import annotations

from kprov.cluster.client import ApiClient, NotFound, resources
from tests.integration.controllers.fake_kubelet import FakeKubelet
from tests.integration.controllers.hollow import ensure_namespace, simple_pod, wait_for


async def test_endpoints_follow_readiness(control_plane, controller_manager) -> None:  # type: ignore[no-untyped-def]
    async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin:
        await ensure_namespace(admin, "svc")
        kubelet = FakeKubelet(admin, "svc")
        kubelet.start()
        try:
            port = [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
            for name in ("a", "b"):
                await admin.create(resources.PODS, simple_pod(name, "svc", labels={"app": "api"}, ports=port))
            await admin.create(resources.PODS, simple_pod("other", "svc", labels={"app": "x"}, ports=port))
            svc = {
                "metadata": {"name": "api", "namespace": "svc"},
                "spec": {
                    "selector": {"app": "api"},
                    "ports": [{"name": "web", "port": 80, "targetPort": "http", "protocol": "TCP"}],
                },
            }
            await admin.create(resources.SERVICES, svc)

            async def endpoints() -> dict | None:
                try:
                    return await admin.get(resources.ENDPOINTS, "api", "svc")
                except NotFound:
                    return None

            async def ready_count(n: int, not_ready: int = 0):  # type: ignore[no-untyped-def]
                ep = await endpoints()
                subsets = (ep or {}).get("subsets") or []
                ready = sum(len(s.get("addresses") or []) for s in subsets)
                unready = sum(len(s.get("notReadyAddresses") or []) for s in subsets)
                return ep if (ready, unready) == (n, not_ready) else None

            ep = await wait_for(lambda: ready_count(2), 20, what="2 ready addresses")
            assert ep["subsets"][0]["ports"] == [{"name": "web", "port": 8080, "protocol": "TCP"}]
            assert {a["targetRef"]["name"] for a in ep["subsets"][0]["addresses"]} == {"a", "b"}

            kubelet.not_ready.add("b")
            ep = await wait_for(lambda: ready_count(1, 1), 20, what="b moved to notReadyAddresses")
            assert ep["subsets"][0]["notReadyAddresses"][0]["targetRef"]["name"] == "b"

            async def slice_conditions() -> dict | None:
                items, _ = await admin.list_all(
                    resources.ENDPOINTSLICES, "svc", label_selector="kubernetes.io/service-name=api"
                )
                endpoints = [e for s in items for e in s.get("endpoints") or []]
                state = {e["targetRef"]["name"]: e["conditions"]["ready"] for e in endpoints}
                return state if state == {"a": True, "b": False} else None

            await wait_for(slice_conditions, 20, what="slice conditions a ready, b not")

            await admin.delete(resources.PODS, "a", "svc")
            await wait_for(lambda: ready_count(0, 1), 20, what="a removed")
            await admin.delete(resources.SERVICES, "api", "svc")

            async def gone() -> bool:
                return await endpoints() is None

            await wait_for(gone, 20, what="endpoints deleted with the service")
        finally:
            await kubelet.stop()
