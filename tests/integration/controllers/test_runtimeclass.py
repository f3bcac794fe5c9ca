"""RuntimeClasses through a real API server: discovery, create/list/delete-collection, the
RuntimeClass admission of pods (overhead set, scheduling merged, a missing class a 403 even
on a dry run) and the kubelet's read access to classes."""

from __future__ import annotations

import pytest

from kprov.cluster.client import ApiClient, resources
from kprov.cluster.client.errors import ApiError
from tests.integration.controllers.hollow import ensure_namespace, simple_pod

NS = "rtc"
SAR_PATH = "/apis/authorization.k8s.io/v1/subjectaccessreviews"


async def test_runtime_classes_and_their_admission(control_plane) -> None:  # type: ignore[no-untyped-def]
    async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin:
        group = await admin.request("GET", "/apis/node.k8s.io")
        assert group["preferredVersion"]["groupVersion"] == "node.k8s.io/v1"
        listed = await admin.request("GET", "/apis/node.k8s.io/v1")
        assert "runtimeclasses" in [r["name"] for r in listed["resources"]]
        labels = {"test": "rtc"}
        for name, handler in (("kata", "kata-fc"), ("plain", "runc")):
            await admin.create(
                resources.RUNTIME_CLASSES,
                {
                    "metadata": {"name": name, "labels": labels},
                    "handler": handler,
                    **({"overhead": {"podFixed": {"cpu": "10m", "memory": "1Mi"}}} if name == "kata" else {}),
                    "scheduling": {"nodeSelector": {"sandbox": name}},
                },
            )
        with pytest.raises(ApiError) as twice:
            await admin.create(resources.RUNTIME_CLASSES, {"metadata": {"name": "kata"}, "handler": "x"})
        assert twice.value.code == 409
        await ensure_namespace(admin, NS)
        pod = await admin.create(resources.PODS, simple_pod("sandboxed", NS, runtimeClassName="kata"))
        assert pod["spec"]["overhead"] == {"cpu": "10m", "memory": "1Mi"}
        assert pod["spec"]["nodeSelector"] == {"sandbox": "kata"}
        with pytest.raises(ApiError) as missing:
            await admin.request(
                "POST",
                resources.PODS.path(NS),
                body={"apiVersion": "v1", "kind": "Pod", **simple_pod("lost", NS, runtimeClassName="nope")},
                params={"dryRun": "All"},
            )
        assert (missing.value.code, missing.value.message) == (
            403,
            'pods "lost" is forbidden: pod rejected: RuntimeClass "nope" not found',
        )
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {
                "user": "system:node:n1",
                "groups": ["system:nodes", "system:authenticated"],
                "resourceAttributes": {"group": "node.k8s.io", "resource": "runtimeclasses", "verb": "get"},
            },
        }
        answer = await admin.request("POST", SAR_PATH, body=review)
        assert answer["status"]["allowed"] is True
        every = resources.RUNTIME_CLASSES.path(None)
        await admin.request("DELETE", every, params={"labelSelector": "test=rtc"})
        left = await admin.list(resources.RUNTIME_CLASSES, label_selector="test=rtc")
        assert left["items"] == []
