"""ReplicationControllers keep their replicas (a deleted pod is replaced), answer the scale
subresource (kubectl scale rc) with a selector string, and PodTemplates are served."""

from __future__ import annotations

import subprocess

from kprov.cluster.client import ApiClient, resources
from tests.integration.controllers.hollow import ensure_namespace, wait_for

KUBECTL = "/usr/bin/kubectl"
NS = "rc"


async def _pods(client: ApiClient) -> list[dict]:
    items, _ = await client.list_all(resources.PODS, NS, label_selector="app=legacy")
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


async def test_replication_controller_keeps_and_scales(control_plane, controller_manager) -> None:  # type: ignore[no-untyped-def]
    kubeconfig = f"--kubeconfig={control_plane.admin_kubeconfig}"
    async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin:
        await ensure_namespace(admin, NS)
        body = {
            "metadata": {"name": "legacy", "namespace": NS},
            "spec": {
                "replicas": 2,
                "template": {
                    "metadata": {"labels": {"app": "legacy"}},
                    "spec": {"containers": [{"name": "c", "image": "registry.invalid/app:1"}]},
                },
            },
        }
        created = await admin.create(resources.REPLICATION_CONTROLLERS, body)
        assert created["spec"]["selector"] == {"app": "legacy"}

        async def count(n: int) -> list[dict] | None:
            pods = await _pods(admin)
            return pods if len(pods) == n else None

        pods = await wait_for(lambda: count(2), 20, what="2 pods")
        assert all(p["metadata"]["ownerReferences"][0]["kind"] == "ReplicationController" for p in pods)
        victim = pods[0]["metadata"]["name"]
        await admin.delete(resources.PODS, victim, NS)

        async def replaced() -> bool:
            names = {p["metadata"]["name"] for p in await _pods(admin)}
            return len(names) == 2 and victim not in names

        await wait_for(replaced, 20, what="a replacement pod")
        scaled = subprocess.run(
            [KUBECTL, kubeconfig, "-n", NS, "scale", "rc", "legacy", "--replicas=3"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert scaled.returncode == 0, scaled.stderr
        await wait_for(lambda: count(3), 20, what="3 pods")
        scale = await admin.get(resources.REPLICATION_CONTROLLERS, "legacy", NS, subresource="scale")
        assert scale["spec"]["replicas"] == 3 and scale["status"]["selector"] == "app=legacy"

        async def status_seen() -> bool:
            rc = await admin.get(resources.REPLICATION_CONTROLLERS, "legacy", NS)
            return (rc.get("status") or {}).get("replicas") == 3

        await wait_for(status_seen, 20, what="status.replicas 3")
        got = subprocess.run(
            [KUBECTL, kubeconfig, "-n", NS, "get", "rc,podtemplates"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert got.returncode == 0, got.stderr
        assert got.stdout.split()[:4] == ["NAME", "DESIRED", "CURRENT", "READY"]


async def test_pod_templates_are_served(control_plane) -> None:  # type: ignore[no-untyped-def]
    async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin:
        await ensure_namespace(admin, NS)
        body = {
            "metadata": {"name": "tmpl", "namespace": NS},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "i"}]},
            },
        }
        made = await admin.create(resources.PODTEMPLATES, body)
        assert made["template"]["spec"]["restartPolicy"] == "Always"
        items, _ = await admin.list_all(resources.PODTEMPLATES, NS)
        assert [i["metadata"]["name"] for i in items] == ["tmpl"]


async def test_refused_creates_surface_as_replica_failure_and_relabelled_pods_are_released(  # type: ignore[no-untyped-def]
    control_plane, controller_manager
) -> None:
    ns = "rc-quota"
    async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin:
        await ensure_namespace(admin, ns)
        quota = {"metadata": {"name": "two", "namespace": ns}, "spec": {"hard": {"pods": "2"}}}
        await admin.create(resources.RESOURCE_QUOTAS, quota)

        async def quota_ready() -> bool:
            status = (await admin.get(resources.RESOURCE_QUOTAS, "two", ns)).get("status") or {}
            return bool(status.get("hard"))

        await wait_for(quota_ready, 20, what="quota status")
        body = {
            "metadata": {"name": "over", "namespace": ns},
            "spec": {
                "replicas": 3,
                "template": {
                    "metadata": {"labels": {"app": "over"}},
                    "spec": {"containers": [{"name": "c", "image": "registry.invalid/app:1"}]},
                },
            },
        }
        await admin.create(resources.REPLICATION_CONTROLLERS, body)

        async def condition(present: bool) -> dict | bool | None:
            rc = await admin.get(resources.REPLICATION_CONTROLLERS, "over", ns)
            found = [
                c for c in (rc.get("status") or {}).get("conditions") or [] if c["type"] == "ReplicaFailure"
            ]
            if present:
                return found[0] if found else None
            return not found

        failure = await wait_for(lambda: condition(True), 30, what="a ReplicaFailure condition")
        assert failure["status"] == "True" and failure["reason"] == "FailedCreate"
        assert "exceeded quota: two" in failure["message"]
        rc = await admin.get(resources.REPLICATION_CONTROLLERS, "over", ns)
        await admin.update(resources.REPLICATION_CONTROLLERS, {**rc, "spec": {**rc["spec"], "replicas": 2}})
        await wait_for(lambda: condition(False), 30, what="the ReplicaFailure condition cleared")

        items, _ = await admin.list_all(resources.PODS, ns, label_selector="app=over")
        victim = items[0]
        victim["metadata"]["labels"] = {"app": "elsewhere"}
        await admin.update(resources.PODS, victim)

        async def released() -> bool:
            pod = await admin.get(resources.PODS, victim["metadata"]["name"], ns)
            return not any(r.get("controller") for r in pod["metadata"].get("ownerReferences") or [])

        await wait_for(released, 20, what="the relabelled pod released")
