"""Node lifecycle (heartbeat loss -> Unknown, taints, eviction, recreation elsewhere),
namespace deletion, garbage collection policies, pod CIDRs and default ServiceAccounts."""

from __future__ import annotations

import asyncio
import time

from kprov.cluster.api.objects import get_condition
from kprov.cluster.client import ApiClient, NotFound, resources
from kprov.cluster.scheduler import Scheduler
from tests.integration.controllers.conftest import EVICTION_SECONDS, GRACE_SECONDS
from tests.integration.controllers.fake_kubelet import FakeKubelet
from tests.integration.controllers.hollow import (
    create_node,
    ensure_namespace,
    heartbeat,
    report_ready,
    simple_pod,
    wait_for,
)


def _rs(name: str, ns: str, replicas: int, **pod_spec: object) -> dict:
    return {
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "registry.invalid/x:1"}], **pod_spec},
            },
        },
    }


async def _exists(client: ApiClient, res: resources.Resource, name: str, ns: str | None = None) -> bool:
    try:
        await client.get(res, name, ns)
    except NotFound:
        return False
    return True


async def test_silent_node_goes_unknown_and_its_pods_move(control_plane, controller_manager) -> None:  # type: ignore[no-untyped-def]
    async with (
        ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin,
        ApiClient.from_kubeconfig(control_plane.scheduler_kubeconfig()) as sched_client,
    ):
        await ensure_namespace(admin, "life")
        alive = {"life-a", "life-b"}
        for name in sorted(alive):
            await create_node(admin, name, labels={"test": "life"})
        beats = asyncio.create_task(heartbeat(admin, lambda: sorted(alive), period=0.5))
        sched = Scheduler(sched_client, "life-scheduler")  # leaves other tests' pods alone
        sched_task = asyncio.create_task(sched.run())
        kubelet = FakeKubelet(admin, "life", only_bound=True)
        kubelet.start()
        try:
            await admin.create(
                resources.REPLICASETS,
                _rs(
                    "mover",
                    "life",
                    2,
                    nodeSelector={"test": "life"},
                    schedulerName="life-scheduler",
                    tolerations=[
                        {
                            "key": "node.kubernetes.io/unreachable",
                            "operator": "Exists",
                            "effect": "NoExecute",
                            "tolerationSeconds": EVICTION_SECONDS,
                        }
                    ],
                    topologySpreadConstraints=[
                        {
                            "maxSkew": 1,
                            "topologyKey": "kubernetes.io/hostname",
                            "whenUnsatisfiable": "DoNotSchedule",
                            "labelSelector": {"matchLabels": {"app": "mover"}},
                        }
                    ],
                ),
            )

            async def spread() -> list[dict] | None:
                items, _ = await admin.list_all(resources.PODS, "life")
                nodes = sorted(p["spec"].get("nodeName", "") for p in items)
                return items if nodes == ["life-a", "life-b"] else None

            await wait_for(spread, 30, what="one pod per node")
            alive.discard("life-a")
            kubelet.dead_nodes.add("life-a")
            silent_since = time.monotonic()

            async def unknown() -> dict | None:
                node = await admin.get(resources.NODES, "life-a")
                ready = get_condition(node, "Ready") or {}
                tainted = any(
                    t["key"] == "node.kubernetes.io/unreachable" for t in node["spec"].get("taints") or []
                )
                return node if ready.get("status") == "Unknown" and tainted else None

            node = await wait_for(unknown, GRACE_SECONDS + 15, what="life-a Ready=Unknown")
            assert time.monotonic() - silent_since < 40 + GRACE_SECONDS
            taints = {(t["key"], t["effect"]) for t in node["spec"].get("taints") or []}
            assert ("node.kubernetes.io/unreachable", "NoExecute") in taints
            assert get_condition(node, "Ready")["reason"] == "NodeStatusUnknown"

            async def moved() -> bool:
                items, _ = await admin.list_all(resources.PODS, "life")
                live = [p for p in items if not p["metadata"].get("deletionTimestamp")]
                evicted = [p for p in items if p["metadata"].get("deletionTimestamp")]

                return (
                    bool(evicted)
                    and len(live) == 2
                    and all(p["spec"].get("nodeName") == "life-b" for p in live)
                )

            await wait_for(
                moved, EVICTION_SECONDS + 20, what="pods evicted from life-a and recreated on life-b"
            )

            alive.add("life-a")
            await report_ready(admin, "life-a")

            async def healed() -> bool:
                node = await admin.get(resources.NODES, "life-a")
                return not any(
                    t["key"] == "node.kubernetes.io/unreachable" for t in node["spec"].get("taints") or []
                )

            await wait_for(healed, 20, what="the unreachable taint removed after heartbeats resume")
        finally:
            await kubelet.stop()
            for task in (beats, sched_task):
                task.cancel()
            await asyncio.gather(beats, sched_task, return_exceptions=True)
            for name in ("life-a", "life-b"):
                await admin.delete(resources.NODES, name)


async def test_namespace_deletion_removes_everything(control_plane, controller_manager) -> None:  # type: ignore[no-untyped-def]
    async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin:
        await ensure_namespace(admin, "doomed")
        await admin.create(
            resources.CONFIGMAPS, {"metadata": {"name": "cfg", "namespace": "doomed"}, "data": {"k": "v"}}
        )
        await admin.create(resources.PODS, simple_pod("lonely", "doomed"))
        await admin.create(resources.REPLICASETS, _rs("web", "doomed", 2))
        await admin.create(
            resources.SERVICES,
            {
                "metadata": {"name": "svc", "namespace": "doomed"},
                "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
            },
        )

        async def default_sa() -> bool:
            return await _exists(admin, resources.SERVICEACCOUNTS, "default", "doomed")

        await wait_for(default_sa, 20, what="the default ServiceAccount")
        await admin.delete(resources.NAMESPACES, "doomed")
        ns = await admin.get(resources.NAMESPACES, "doomed")
        assert ns["status"]["phase"] == "Terminating"

        async def gone() -> bool:
            return not await _exists(admin, resources.NAMESPACES, "doomed")

        await wait_for(gone, 40, what="namespace doomed gone")
        for res in (resources.PODS, resources.CONFIGMAPS, resources.REPLICASETS, resources.SERVICES):
            items, _ = await admin.list_all(res, "doomed")
            assert items == [], res.plural


async def test_garbage_collection_policies(control_plane, controller_manager) -> None:  # type: ignore[no-untyped-def]
    async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin:
        await ensure_namespace(admin, "gc")

        async def pods_of(app: str) -> list[dict]:
            items, _ = await admin.list_all(resources.PODS, "gc", label_selector=f"app={app}")
            return items

        # foreground: the owner waits for a dependent held by a finalizer
        await admin.create(resources.REPLICASETS, _rs("fg", "gc", 2))
        pods = await wait_for(lambda: _n_pods(pods_of, "fg", 2), 20, what="2 fg pods")
        held = pods[0]["metadata"]["name"]
        await admin.patch(resources.PODS, held, {"metadata": {"finalizers": ["kprov.test/hold"]}}, "gc")
        await admin.delete(resources.REPLICASETS, "fg", "gc", propagation_policy="Foreground")

        async def owner_waiting() -> bool:
            rs = await admin.get(resources.REPLICASETS, "fg", "gc")
            remaining = await pods_of("fg")
            return bool(rs["metadata"].get("deletionTimestamp")) and [
                p["metadata"]["name"] for p in remaining
            ] == [held]

        await wait_for(owner_waiting, 20, what="the other pod gone, the owner still waiting")
        await asyncio.sleep(1.5)
        assert await _exists(admin, resources.REPLICASETS, "fg", "gc")
        await admin.patch(resources.PODS, held, {"metadata": {"finalizers": []}}, "gc")

        async def fg_gone() -> bool:
            return not await _exists(admin, resources.REPLICASETS, "fg", "gc") and not await pods_of("fg")

        await wait_for(fg_gone, 20, what="owner deleted after its dependents")

        # orphan: dependents stay, without the owner reference
        await admin.create(resources.REPLICASETS, _rs("orph", "gc", 2))
        await wait_for(lambda: _n_pods(pods_of, "orph", 2), 20, what="2 orph pods")
        await admin.delete(resources.REPLICASETS, "orph", "gc", propagation_policy="Orphan")

        async def orphaned() -> bool:
            if await _exists(admin, resources.REPLICASETS, "orph", "gc"):
                return False
            left = await pods_of("orph")
            return len(left) == 2 and all(not p["metadata"].get("ownerReferences") for p in left)

        await wait_for(orphaned, 20, what="pods orphaned")

        # background: the owner goes at once, its dependents after
        await admin.create(resources.REPLICASETS, _rs("bg", "gc", 2))
        await wait_for(lambda: _n_pods(pods_of, "bg", 2), 20, what="2 bg pods")
        await admin.delete(resources.REPLICASETS, "bg", "gc", propagation_policy="Background")

        async def bg_gone() -> bool:
            return not await pods_of("bg")

        await wait_for(bg_gone, 20, what="dependents of a deleted owner collected")


async def test_an_ownership_circle_does_not_block_foreground_deletion(control_plane, controller_manager):  # type: ignore[no-untyped-def]
    """c1 owns c2 owns c3 owns c1, every reference blocking: deleting c1 in the foreground
    still deletes all three (the conformance suite's dependency circle, with ConfigMaps)."""
    names = ("c1", "c2", "c3")
    async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin:
        await ensure_namespace(admin, "gc-circle")
        made = {}
        for name in names:
            body = {"metadata": {"name": name, "namespace": "gc-circle"}}
            made[name] = await admin.create(resources.CONFIGMAPS, body)

        def owned_by(owner: str) -> dict:
            meta = made[owner]["metadata"]
            return {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "name": owner,
                "uid": meta["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }

        for name, owner in (("c1", "c3"), ("c2", "c1"), ("c3", "c2")):
            patch = {"metadata": {"ownerReferences": [owned_by(owner)]}}
            await admin.patch(resources.CONFIGMAPS, name, patch, "gc-circle")
        await admin.delete(resources.CONFIGMAPS, "c1", "gc-circle", propagation_policy="Foreground")

        async def circle_gone() -> bool:
            items, _ = await admin.list_all(resources.CONFIGMAPS, "gc-circle")
            return not [i for i in items if i["metadata"]["name"] in names]

        await wait_for(circle_gone, 30, what="the whole circle deleted")


async def test_a_dependent_with_another_valid_owner_survives_a_foreground_deletion(  # type: ignore[no-untyped-def]
        control_plane, controller_manager) -> None:
    """The conformance suite's "valid owner and owner that's waiting for dependents": ConfigMaps
    owned by ``going`` (blocking), half of them by ``staying`` too; deleting ``going`` in the
    foreground deletes only the others, and the survivors lose the reference to it."""
    async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin:
        await ensure_namespace(admin, "gc-two")
        owners = {}
        for name in ("going", "staying"):
            body = {"metadata": {"name": name, "namespace": "gc-two"}}
            owners[name] = await admin.create(resources.CONFIGMAPS, body)

        def ref(owner: str, controller: bool) -> dict:
            uid = owners[owner]["metadata"]["uid"]
            return {"apiVersion": "v1", "kind": "ConfigMap", "name": owner, "uid": uid,
                    "controller": controller, "blockOwnerDeletion": True}

        for i in range(6):
            refs = [ref("going", True)] + ([ref("staying", False)] if i % 2 == 0 else [])
            await admin.create(resources.CONFIGMAPS, {"metadata": {
                "name": f"dep-{i}", "namespace": "gc-two", "ownerReferences": refs}})
        await admin.delete(resources.CONFIGMAPS, "going", "gc-two", propagation_policy="Foreground")

        async def settled() -> list[dict] | None:
            items, _ = await admin.list_all(resources.CONFIGMAPS, "gc-two")
            names = sorted(i["metadata"]["name"] for i in items if i["metadata"]["name"].startswith("dep-")
                           or i["metadata"]["name"] == "going")
            return items if names == ["dep-0", "dep-2", "dep-4"] else None

        items = await wait_for(settled, 30, what="going and its three single-owner dependents deleted")
        for item in items:
            if item["metadata"]["name"].startswith("dep-"):
                assert [r["name"] for r in item["metadata"]["ownerReferences"]] == ["staying"]


async def _n_pods(fetch, app: str, n: int):  # type: ignore[no-untyped-def]
    items = [p for p in await fetch(app) if not p["metadata"].get("deletionTimestamp")]
    return items if len(items) == n else None


async def test_pod_cidrs_are_distinct_slices_of_the_cluster_cidr(control_plane, controller_manager) -> None:  # type: ignore[no-untyped-def]
    async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin:
        for name in ("cidr-1", "cidr-2", "cidr-3"):
            await create_node(admin, name)

        async def allocated() -> list[str] | None:
            cidrs = [
                (await admin.get(resources.NODES, n))["spec"].get("podCIDR")
                for n in ("cidr-1", "cidr-2", "cidr-3")
            ]
            return cidrs if all(cidrs) else None

        cidrs = await wait_for(allocated, 20, what="pod CIDRs")
        assert len(set(cidrs)) == 3
        assert all(c.startswith("10.244.") and c.endswith("/24") for c in cidrs)
        for name in ("cidr-1", "cidr-2", "cidr-3"):
            await admin.delete(resources.NODES, name)


async def test_root_ca_configmap_is_published_and_kept(control_plane, controller_manager) -> None:  # type: ignore[no-untyped-def]
    ca = control_plane.ca_file.read_text()
    async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin:
        await ensure_namespace(admin, "rootca")

        async def published() -> bool:
            try:
                cm = await admin.get(resources.CONFIGMAPS, "kube-root-ca.crt", "rootca")
            except NotFound:
                return False
            return bool(cm.get("data") == {"ca.crt": ca})

        await wait_for(published, 20, what="kube-root-ca.crt in a new namespace")
        await admin.patch(resources.CONFIGMAPS, "kube-root-ca.crt", {"data": {"ca.crt": "x"}}, "rootca")
        await wait_for(published, 20, what="kube-root-ca.crt put back after a change")
        await admin.delete(resources.CONFIGMAPS, "kube-root-ca.crt", "rootca")
        await wait_for(published, 20, what="kube-root-ca.crt put back after a delete")


async def test_legacy_token_secret_filled_and_gone_with_account(control_plane, controller_manager) -> None:  # type: ignore[no-untyped-def]
    import base64

    async def review(admin: ApiClient, token: str) -> dict:
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}
        reply = await admin.request("POST", "/apis/authentication.k8s.io/v1/tokenreviews", body=body)
        return dict(reply["status"])

    async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin:
        await ensure_namespace(admin, "legacy")
        await admin.create(resources.SERVICEACCOUNTS, {"metadata": {"name": "bot", "namespace": "legacy"}})
        secret = {
            "metadata": {
                "name": "bot-token",
                "namespace": "legacy",
                "annotations": {"kubernetes.io/service-account.name": "bot"},
            },
            "type": "kubernetes.io/service-account-token",
        }
        await admin.create(resources.SECRETS, secret)
        filled: dict = {}

        async def has_token() -> bool:
            found = await admin.get(resources.SECRETS, "bot-token", "legacy")
            filled.update(found)
            return bool((found.get("data") or {}).get("token"))

        await wait_for(has_token, 20, what="the token controller filling bot-token")
        data = filled["data"]
        assert base64.b64decode(data["namespace"]).decode() == "legacy"
        assert base64.b64decode(data["ca.crt"]).decode() == control_plane.ca_file.read_text()
        sa = await admin.get(resources.SERVICEACCOUNTS, "bot", "legacy")
        assert filled["metadata"]["annotations"]["kubernetes.io/service-account.uid"] == sa["metadata"]["uid"]
        token = base64.b64decode(data["token"]).decode()
        status = await review(admin, token)
        assert status.get("authenticated") is True
        assert status["user"]["username"] == "system:serviceaccount:legacy:bot"
        await admin.delete(resources.SERVICEACCOUNTS, "bot", "legacy")

        async def secret_gone() -> bool:
            return not await _exists(admin, resources.SECRETS, "bot-token", "legacy")

        await wait_for(secret_gone, 20, what="bot-token deleted with its account")
        assert not (await review(admin, token)).get("authenticated")
