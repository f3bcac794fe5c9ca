"""ResourceQuota and LimitRange against a real API server and controller manager: a quota of
2 pods refuses the third with upstream's "exceeded quota" message and its status follows the
pods; a LimitRange fills default requests/limits and refuses a container above its max."""

from __future__ import annotations

import pytest

from kprov.cluster.client import ApiClient, resources
from kprov.cluster.client.errors import ApiError
from tests.integration.controllers.hollow import ensure_namespace, simple_pod, wait_for


async def _quota_used(admin: ApiClient, ns: str, name: str, **want: str) -> dict:
    async def check() -> dict | None:
        status = (await admin.get(resources.RESOURCE_QUOTAS, name, ns)).get("status") or {}
        used = status.get("used") or {}
        return status if status.get("hard") and all(used.get(k) == v for k, v in want.items()) else None

    return await wait_for(check, 20, what=f"quota {name} used {want}")  # type: ignore[no-any-return]


async def test_quota_of_two_pods_refuses_the_third(control_plane, controller_manager) -> None:  # type: ignore[no-untyped-def]
    ns = "quota"
    async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin:
        await ensure_namespace(admin, ns)
        quota = {
            "metadata": {"name": "two", "namespace": ns},
            "spec": {"hard": {"pods": "2", "configmaps": "5"}},
        }
        await admin.create(resources.RESOURCE_QUOTAS, quota)
        await _quota_used(admin, ns, "two", pods="0")
        for name in ("p1", "p2"):
            await admin.create(resources.PODS, simple_pod(name, ns))
        with pytest.raises(ApiError) as refused:
            await admin.create(resources.PODS, simple_pod("p3", ns))
        assert refused.value.code == 403 and refused.value.reason == "Forbidden"
        assert refused.value.message == (
            'pods "p3" is forbidden: exceeded quota: two, requested: pods=1, used: pods=2, limited: pods=2'
        )
        # the namespace's one ConfigMap is kube-root-ca.crt, which the root-CA publisher puts in each
        await _quota_used(admin, ns, "two", pods="2", configmaps="1")
        await admin.delete(resources.PODS, "p1", ns, grace_period_seconds=0)
        await _quota_used(admin, ns, "two", pods="1")
        await admin.create(resources.PODS, simple_pod("p3", ns))


async def test_limit_range_defaults_and_max(control_plane, controller_manager) -> None:  # type: ignore[no-untyped-def]
    ns = "limits"
    async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin:
        await ensure_namespace(admin, ns)
        limits = {
            "metadata": {"name": "defaults", "namespace": ns},
            "spec": {
                "limits": [
                    {
                        "type": "Container",
                        "default": {"cpu": "200m", "memory": "128Mi"},
                        "defaultRequest": {"cpu": "100m"},
                        "max": {"cpu": "1"},
                    }
                ]
            },
        }
        await admin.create(resources.LIMIT_RANGES, limits)
        pod = await admin.create(resources.PODS, simple_pod("plain", ns))
        container = pod["spec"]["containers"][0]
        assert container["resources"] == {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "200m", "memory": "128Mi"},
        }
        assert pod["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == (
            "LimitRanger plugin set: cpu, memory request for container c; cpu, memory limit for container c"
        )
        assert pod["status"]["qosClass"] == "Burstable"
        big = simple_pod("big", ns)
        big["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "2"}}
        with pytest.raises(ApiError) as refused:
            await admin.create(resources.PODS, big)
        assert refused.value.code == 403
        assert (
            refused.value.message
            == 'pods "big" is forbidden: maximum cpu usage per Container is 1, but limit is 2'
        )


async def test_scoped_quotas_and_replicaset_counts(control_plane, controller_manager) -> None:  # type: ignore[no-untyped-def]
    ns = "quota-scopes"
    async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin:
        await ensure_namespace(admin, ns)
        for name, scope in (("terminating", "Terminating"), ("long", "NotTerminating")):
            body = {
                "metadata": {"name": name, "namespace": ns},
                "spec": {"hard": {"pods": "5"}, "scopes": [scope]},
            }
            await admin.create(resources.RESOURCE_QUOTAS, body)
        counts = {
            "metadata": {"name": "sets", "namespace": ns},
            "spec": {"hard": {"count/replicasets.apps": "2"}},
        }
        await admin.create(resources.RESOURCE_QUOTAS, counts)
        await _quota_used(admin, ns, "terminating", pods="0")
        await _quota_used(admin, ns, "long", pods="0")
        await _quota_used(admin, ns, "sets", **{"count/replicasets.apps": "0"})

        await admin.create(resources.PODS, simple_pod("runs", ns))
        await _quota_used(admin, ns, "long", pods="1")
        await _quota_used(admin, ns, "terminating", pods="0")
        await admin.create(resources.PODS, simple_pod("ends", ns, activeDeadlineSeconds=3600))
        await _quota_used(admin, ns, "terminating", pods="1")
        await _quota_used(admin, ns, "long", pods="1")

        rs = {
            "metadata": {"name": "rs", "namespace": ns},
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": {"app": "rs"}},
                "template": {
                    "metadata": {"labels": {"app": "rs"}},
                    "spec": {"containers": [{"name": "c", "image": "registry.invalid/pause:1"}]},
                },
            },
        }
        await admin.create(resources.REPLICASETS, rs)
        await _quota_used(admin, ns, "sets", **{"count/replicasets.apps": "1"})
        await admin.delete(resources.REPLICASETS, "rs", ns)
        await _quota_used(admin, ns, "sets", **{"count/replicasets.apps": "0"})


async def test_a_quota_counts_a_custom_resource_and_gives_back_a_deleted_one(  # type: ignore[no-untyped-def]
    control_plane, controller_manager
) -> None:
    ns = "quota-cr"
    schema = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
    names = {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"}
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.quota.example.com"},
        "spec": {"group": "quota.example.com", "scope": "Namespaced", "names": names,
                 "versions": [{"name": "v1", "served": True, "storage": True, "schema": schema}]},
    }
    widgets = "/apis/quota.example.com/v1/namespaces/quota-cr/widgets"
    async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin:
        await ensure_namespace(admin, ns)
        await admin.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", body=crd)

        async def served() -> bool:
            try:
                await admin.request("GET", widgets)
                return True
            except ApiError:
                return False

        await wait_for(served, 20, what="the widgets resource served")
        quota = {"metadata": {"name": "widgets", "namespace": ns},
                 "spec": {"hard": {"count/widgets.quota.example.com": "5"}}}
        await admin.create(resources.RESOURCE_QUOTAS, quota)
        await _quota_used(admin, ns, "widgets", **{"count/widgets.quota.example.com": "0"})
        for name in ("w1", "w2"):
            body = {"apiVersion": "quota.example.com/v1", "kind": "Widget", "metadata": {"name": name}}
            await admin.request("POST", widgets, body=body)
        await _quota_used(admin, ns, "widgets", **{"count/widgets.quota.example.com": "2"})
        await admin.request("DELETE", f"{widgets}/w1")
        await _quota_used(admin, ns, "widgets", **{"count/widgets.quota.example.com": "1"})
