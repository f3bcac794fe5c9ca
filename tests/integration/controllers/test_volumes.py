"""Volumes against a real API server and controller manager: a claim without a class gets the
default StorageClass, claims and volumes carry their protection finalizers and start Pending,
a claim a scheduled pod uses outlives its delete until the pod is gone, and an unbound volume
goes at once."""

from __future__ import annotations

import pytest

from kprov.cluster.client import ApiClient, resources
from kprov.cluster.client.errors import NotFound
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
