"""Volumes against a real API server and controller manager: a claim without a class gets the
default StorageClass, claims and volumes carry their protection finalizers and start Pending,
a claim a scheduled pod uses outlives its delete until the pod is gone, and an unbound volume
goes at once."""

from __future__ import annotations

import pytest

from kprov.cluster.client import ApiClient, resources
from kprov.cluster.client.errors import ApiError, NotFound
from tests.integration.controllers.hollow import ensure_namespace, simple_pod, wait_for


def claim(name: str, ns: str, **spec: object) -> dict:
    return {
        "metadata": {"name": name, "namespace": ns},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}, **spec},
    }


async def _gone(admin: ApiClient, res: resources.Resource, name: str, ns: str | None = None) -> bool:
    try:
        await admin.get(res, name, ns)
    except NotFound:
        return True
    return False


async def test_default_class_and_pvc_protection(control_plane, controller_manager) -> None:  # type: ignore[no-untyped-def]
    ns = "volumes"
    async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin:
        await ensure_namespace(admin, ns)
        sc = {
            "metadata": {
                "name": "it-default",
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
            },
            "provisioner": "kprov.io/local-path",
            "volumeBindingMode": "WaitForFirstConsumer",
        }
        await admin.create(resources.STORAGE_CLASSES, sc)
        try:
            created = await admin.create(resources.PERSISTENT_VOLUME_CLAIMS, claim("data", ns))
            assert created["spec"]["storageClassName"] == "it-default"
            assert created["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
            assert created["status"] == {"phase": "Pending"}
            explicit = await admin.create(
                resources.PERSISTENT_VOLUME_CLAIMS, claim("none", ns, storageClassName="")
            )
            assert explicit["spec"]["storageClassName"] == ""
            pod = simple_pod("user", ns, nodeName="n1")
            pod["spec"]["volumes"] = [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]
            await admin.create(resources.PODS, pod)
            await admin.delete(resources.PERSISTENT_VOLUME_CLAIMS, "data", ns)
            await admin.delete(resources.PERSISTENT_VOLUME_CLAIMS, "none", ns)
            await wait_for(
                lambda: _gone(admin, resources.PERSISTENT_VOLUME_CLAIMS, "none", ns), what="unused claim gone"
            )
            kept = await admin.get(resources.PERSISTENT_VOLUME_CLAIMS, "data", ns)
            assert kept["metadata"]["deletionTimestamp"]
            await admin.delete(resources.PODS, "user", ns, grace_period_seconds=0)
            await wait_for(
                lambda: _gone(admin, resources.PERSISTENT_VOLUME_CLAIMS, "data", ns), what="claim gone"
            )
        finally:
            await admin.delete(resources.STORAGE_CLASSES, "it-default")


async def test_pv_protection(control_plane, controller_manager) -> None:  # type: ignore[no-untyped-def]
    async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin:
        pv = {
            "metadata": {"name": "it-pv"},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteOnce"],
                "hostPath": {"path": "/tmp/x"},
            },
            "status": {"phase": "Bound"},
        }
        created = await admin.create(resources.PERSISTENT_VOLUMES, pv)
        assert created["metadata"]["finalizers"] == ["kubernetes.io/pv-protection"]
        assert created["status"] == {"phase": "Pending"}
        assert created["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
        with pytest.raises(NotFound):
            await admin.get(resources.PERSISTENT_VOLUMES, "nothing-here")
        await admin.delete(resources.PERSISTENT_VOLUMES, "it-pv")
        await wait_for(lambda: _gone(admin, resources.PERSISTENT_VOLUMES, "it-pv"), what="volume gone")


def volume(name: str, size: str, cls: str, policy: str = "Retain", node: str = "") -> dict:
    spec: dict = {
        "capacity": {"storage": size},
        "accessModes": ["ReadWriteOnce"],
        "hostPath": {"path": f"/tmp/{name}"},
        "storageClassName": cls,
        "persistentVolumeReclaimPolicy": policy,
    }
    if node:
        term = {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}
        spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [term]}}
    return {"metadata": {"name": name}, "spec": spec}


async def _phase(
    admin: ApiClient, res: resources.Resource, name: str, want: str, ns: str | None = None
) -> dict:
    async def check() -> dict | None:
        obj = await admin.get(res, name, ns)
        return obj if (obj.get("status") or {}).get("phase") == want else None

    return await wait_for(check, what=f"{name} {want}")  # type: ignore[no-any-return]


async def test_static_binding_release_and_reclaim(control_plane, controller_manager) -> None:  # type: ignore[no-untyped-def]
    ns = "binding"
    async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin:
        await ensure_namespace(admin, ns)
        for pv in (volume("it-1g", "1Gi", "manual"), volume("it-5g", "5Gi", "manual", "Delete")):
            await admin.create(resources.PERSISTENT_VOLUMES, pv)
        await _phase(admin, resources.PERSISTENT_VOLUMES, "it-1g", "Available")
        bigger = claim("big", ns, storageClassName="manual")
        bigger["spec"]["resources"]["requests"]["storage"] = "2Gi"
        await admin.create(resources.PERSISTENT_VOLUME_CLAIMS, bigger)
        bound = await _phase(admin, resources.PERSISTENT_VOLUME_CLAIMS, "big", "Bound", ns)
        assert bound["spec"]["volumeName"] == "it-5g"
        assert bound["status"]["capacity"] == {"storage": "5Gi"}
        assert bound["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"] == "yes"
        pv = await _phase(admin, resources.PERSISTENT_VOLUMES, "it-5g", "Bound")
        assert (
            pv["spec"]["claimRef"]["name"] == "big"
            and pv["spec"]["claimRef"]["uid"] == bound["metadata"]["uid"]
        )
        # a claim naming its volume binds to exactly that one
        named = claim("named", ns, storageClassName="manual", volumeName="it-1g")
        await admin.create(resources.PERSISTENT_VOLUME_CLAIMS, named)
        await _phase(admin, resources.PERSISTENT_VOLUME_CLAIMS, "named", "Bound", ns)
        await _phase(admin, resources.PERSISTENT_VOLUMES, "it-1g", "Bound")
        await admin.delete(resources.PERSISTENT_VOLUME_CLAIMS, "named", ns)
        released = await _phase(admin, resources.PERSISTENT_VOLUMES, "it-1g", "Released")
        assert released["spec"]["claimRef"]["name"] == "named"
        await admin.delete(resources.PERSISTENT_VOLUME_CLAIMS, "big", ns)
        failed = await _phase(admin, resources.PERSISTENT_VOLUMES, "it-5g", "Failed")
        assert "no deletable volume plugin matched" in failed["status"]["message"]
        for name in ("it-1g", "it-5g"):
            await admin.delete(resources.PERSISTENT_VOLUMES, name)
            await wait_for(lambda n=name: _gone(admin, resources.PERSISTENT_VOLUMES, n), what=f"{name} gone")


async def test_a_deleted_volume_goes_once_its_claim_is_deleted(control_plane, controller_manager) -> None:  # type: ignore[no-untyped-def]
    """PV protection (an e2e spec): a bound volume deleted first stays, Terminating, while its
    claim exists; once the claim is gone the volume is Released and then removed."""
    ns = "pv-protection"
    async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin:
        await ensure_namespace(admin, ns)
        await admin.create(resources.PERSISTENT_VOLUMES, volume("it-protected", "1Gi", "protected"))
        holder = claim("holder", ns, storageClassName="protected")
        await admin.create(resources.PERSISTENT_VOLUME_CLAIMS, holder)
        await _phase(admin, resources.PERSISTENT_VOLUMES, "it-protected", "Bound")
        await admin.delete(resources.PERSISTENT_VOLUMES, "it-protected")
        held = await admin.get(resources.PERSISTENT_VOLUMES, "it-protected")
        assert held["metadata"]["deletionTimestamp"] and held["status"]["phase"] == "Bound"
        await admin.delete(resources.PERSISTENT_VOLUME_CLAIMS, "holder", ns)
        await wait_for(lambda: _gone(admin, resources.PERSISTENT_VOLUMES, "it-protected"),
                       what="the volume gone after its claim")


async def test_wait_for_first_consumer(control_plane, controller_manager) -> None:  # type: ignore[no-untyped-def]
    ns = "wffc"
    async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin:
        await ensure_namespace(admin, ns)
        sc = {
            "metadata": {"name": "it-wffc"},
            "provisioner": "kubernetes.io/no-provisioner",
            "volumeBindingMode": "WaitForFirstConsumer",
        }
        await admin.create(resources.STORAGE_CLASSES, sc)
        try:
            for node in ("n1", "n2"):
                await admin.create(
                    resources.PERSISTENT_VOLUMES, volume(f"it-on-{node}", "1Gi", "it-wffc", node=node)
                )
            await admin.create(
                resources.PERSISTENT_VOLUME_CLAIMS, claim("later", ns, storageClassName="it-wffc")
            )
            await _phase(admin, resources.PERSISTENT_VOLUMES, "it-on-n2", "Available")
            waiting = await admin.get(resources.PERSISTENT_VOLUME_CLAIMS, "later", ns)
            assert not waiting["spec"].get("volumeName") and waiting["status"]["phase"] == "Pending"
            patch = {"metadata": {"annotations": {"volume.kubernetes.io/selected-node": "n2"}}}
            await admin.patch(resources.PERSISTENT_VOLUME_CLAIMS, "later", patch, ns)
            bound = await _phase(admin, resources.PERSISTENT_VOLUME_CLAIMS, "later", "Bound", ns)
            assert bound["spec"]["volumeName"] == "it-on-n2"
            await admin.delete(resources.PERSISTENT_VOLUME_CLAIMS, "later", ns)
        finally:
            for node in ("n1", "n2"):
                await admin.delete(resources.PERSISTENT_VOLUMES, f"it-on-{node}")
            await admin.delete(resources.STORAGE_CLASSES, "it-wffc")


async def test_statefulset_claims_outlive_pods_and_follow_retention(
    control_plane, controller_manager
) -> None:  # type: ignore[no-untyped-def]
    ns = "sts-claims"
    async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin:
        await ensure_namespace(admin, ns)
        template = {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "i"}]},
        }
        template["spec"]["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
        body = {
            "metadata": {"name": "web", "namespace": ns},
            "spec": {
                "replicas": 2,
                "podManagementPolicy": "Parallel",
                "serviceName": "web",
                "selector": {"matchLabels": {"app": "web"}},
                "template": template,
                "volumeClaimTemplates": [claim("data", ns, storageClassName="")],
                "persistentVolumeClaimRetentionPolicy": {"whenScaled": "Delete", "whenDeleted": "Retain"},
            },
        }
        await admin.create(resources.STATEFULSETS, body)

        async def claims() -> dict[str, dict]:
            items, _ = await admin.list_all(resources.PERSISTENT_VOLUME_CLAIMS, ns)
            return {c["metadata"]["name"]: c for c in items if not c["metadata"].get("deletionTimestamp")}

        async def two_pods() -> list[dict] | None:
            items, _ = await admin.list_all(resources.PODS, ns)
            live = [p for p in items if not p["metadata"].get("deletionTimestamp")]
            return live if len(live) == 2 else None

        pods = await wait_for(two_pods, what="two pods")
        found = await claims()
        assert sorted(found) == ["data-web-0", "data-web-1"]
        assert found["data-web-0"]["metadata"]["labels"] == {"app": "web"}
        assert not found["data-web-0"]["metadata"].get("ownerReferences")  # whenDeleted: Retain
        web0 = next(p for p in pods if p["metadata"]["name"] == "web-0")
        assert {"name": "data", "persistentVolumeClaim": {"claimName": "data-web-0"}} in web0["spec"][
            "volumes"
        ]
        uid = found["data-web-0"]["metadata"]["uid"]
        await admin.delete(resources.PODS, "web-0", ns, grace_period_seconds=0)

        async def replaced() -> bool:
            try:
                pod = await admin.get(resources.PODS, "web-0", ns)
            except NotFound:
                return False
            return pod["metadata"]["uid"] != web0["metadata"]["uid"]

        await wait_for(replaced, what="web-0 recreated")
        assert (await claims())["data-web-0"]["metadata"]["uid"] == uid
        await admin.patch(resources.STATEFULSETS, "web", {"spec": {"replicas": 1}}, ns)
        await wait_for(
            lambda: _gone(admin, resources.PERSISTENT_VOLUME_CLAIMS, "data-web-1", ns),
            30,
            what="claim of the scaled-away pod gone",
        )
        assert sorted(await claims()) == ["data-web-0"]
        await admin.delete(resources.STATEFULSETS, "web", ns)


async def test_a_storage_quota_refuses_the_claim_past_it(control_plane, controller_manager) -> None:  # type: ignore[no-untyped-def]
    ns = "storage-quota"
    async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin:
        await ensure_namespace(admin, ns)
        quota = {"metadata": {"name": "q", "namespace": ns}, "spec": {"hard": {"requests.storage": "1Gi"}}}
        await admin.create(resources.RESOURCE_QUOTAS, quota)

        async def used(want: str) -> bool:
            status = (await admin.get(resources.RESOURCE_QUOTAS, "q", ns)).get("status") or {}
            return (status.get("used") or {}).get("requests.storage") == want

        await wait_for(lambda: used("0"), what="quota status")
        await admin.create(resources.PERSISTENT_VOLUME_CLAIMS, claim("a", ns, storageClassName=""))
        with pytest.raises(ApiError) as refused:
            await admin.create(resources.PERSISTENT_VOLUME_CLAIMS, claim("b", ns, storageClassName=""))
        assert refused.value.code == 403
        assert refused.value.message == (
            'persistentvolumeclaims "b" is forbidden: exceeded quota: q, requested: requests.storage=1Gi, '
            "used: requests.storage=1Gi, limited: requests.storage=1Gi"
        )
        await wait_for(lambda: used("1Gi"), what="quota counts the claim")
        await admin.delete(resources.PERSISTENT_VOLUME_CLAIMS, "a", ns)
        await wait_for(lambda: used("0"), what="quota gives the claim back")
