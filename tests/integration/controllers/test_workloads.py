"""ReplicaSets replace lost pods; Deployments roll out (kubectl rollout status returns)
and roll back (kubectl rollout undo); StatefulSets create ordered stable names;
DaemonSets put one pod per matching node."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Awaitable

from kprov.cluster.client import ApiClient, Conflict, NotFound, resources
from tests.integration.controllers.fake_kubelet import FakeKubelet
from tests.integration.controllers.hollow import create_node, ensure_namespace, wait_for

KUBECTL = "/usr/bin/kubectl"


def _template(app: str, image: str = "registry.invalid/app:1") -> dict:
    return {"metadata": {"labels": {"app": app}}, "spec": {"containers": [{"name": "app", "image": image}]}}


async def _pods(client: ApiClient, ns: str, selector: str) -> list[dict]:
    items, _ = await client.list_all(resources.PODS, ns, label_selector=selector)
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


async def test_replicaset_replaces_a_deleted_pod(control_plane, controller_manager) -> None:  # type: ignore[no-untyped-def]
    async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin:
        await ensure_namespace(admin, "rs")
        rs = {
            "metadata": {"name": "web", "namespace": "rs"},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"}},
                "template": _template("web"),
            },
        }
        await admin.create(resources.REPLICASETS, rs)

        async def three() -> list[dict] | None:
            pods = await _pods(admin, "rs", "app=web")
            return pods if len(pods) == 3 else None

        pods = await wait_for(three, 20, what="3 pods")
        victim = pods[0]["metadata"]["name"]
        await admin.delete(resources.PODS, victim, "rs")

        async def replaced() -> bool:
            names = {p["metadata"]["name"] for p in await _pods(admin, "rs", "app=web")}
            return len(names) == 3 and victim not in names

        await wait_for(replaced, 20, what="a replacement pod")
        owned = await _pods(admin, "rs", "app=web")
        assert all(p["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet" for p in owned)


async def test_replicaset_adopts_a_matching_orphan(control_plane, controller_manager) -> None:  # type: ignore[no-untyped-def]
    """A pod no controller owns is adopted by a new ReplicaSet whose selector matches it (it
    counts as one of the replicas), while the namespace's pods owned by another set are left
    alone: the sync reads the orphans by their own index, not the namespace's every pod."""
    async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin:
        await ensure_namespace(admin, "rs-adopt")
        other = {
            "metadata": {"name": "other", "namespace": "rs-adopt"},
            "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "other"}},
                     "template": _template("other")},
        }
        await admin.create(resources.REPLICASETS, other)

        async def four() -> list[dict] | None:
            pods = await _pods(admin, "rs-adopt", "app=other")
            return pods if len(pods) == 4 else None

        await wait_for(four, 20, what="the other set's 4 pods")
        orphan = {"metadata": {"name": "orphan", "namespace": "rs-adopt", **_template("lone")["metadata"]},
                  "spec": _template("lone")["spec"]}
        await admin.create(resources.PODS, orphan)
        # (the suite waits for its orphan to run first: a set synced before the controller
        # manager's informer has the pod would make its own two and delete one later)
        await asyncio.sleep(1.0)
        lone = {
            "metadata": {"name": "lone", "namespace": "rs-adopt"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "lone"}},
                     "template": _template("lone")},
        }
        created = await admin.create(resources.REPLICASETS, lone)

        async def adopted_and_one_more() -> list[dict] | None:
            pods = await _pods(admin, "rs-adopt", "app=lone")
            owners = [(p["metadata"].get("ownerReferences") or [{}])[0].get("uid") for p in pods]
            return pods if len(pods) == 2 and set(owners) == {created["metadata"]["uid"]} else None

        pods = await wait_for(adopted_and_one_more, 20, what="the orphan adopted and one pod created")
        assert "orphan" in {p["metadata"]["name"] for p in pods}
        others = await _pods(admin, "rs-adopt", "app=other")
        assert len(others) == 4 and {p["metadata"]["ownerReferences"][0]["name"] for p in others} == {"other"}


def _kubectl(kubeconfig: str, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KUBECTL, f"--kubeconfig={kubeconfig}", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


async def test_deployment_rolls_out_and_back(control_plane, controller_manager) -> None:  # type: ignore[no-untyped-def]
    kubeconfig = str(control_plane.admin_kubeconfig)
    async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin:
        await ensure_namespace(admin, "deploy")
        kubelet = FakeKubelet(admin, "deploy")
        kubelet.start()
        try:
            body = {
                "metadata": {"name": "web", "namespace": "deploy"},
                "spec": {
                    "replicas": 3,
                    "selector": {"matchLabels": {"app": "web"}},
                    "strategy": {
                        "type": "RollingUpdate",
                        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
                    },
                    "template": _template("web", "registry.invalid/app:1"),
                },
            }
            await admin.create(resources.DEPLOYMENTS, body)
            done = await asyncio.to_thread(
                _kubectl, kubeconfig, "-n", "deploy", "rollout", "status", "deployment/web", "--timeout=60s"
            )
            assert done.returncode == 0, done.stdout + done.stderr
            assert "successfully rolled out" in done.stdout

            changed = await asyncio.to_thread(
                _kubectl,
                kubeconfig,
                "-n",
                "deploy",
                "set",
                "image",
                "deployment/web",
                "app=registry.invalid/app:2",
            )
            assert changed.returncode == 0, changed.stderr
            done = await asyncio.to_thread(
                _kubectl, kubeconfig, "-n", "deploy", "rollout", "status", "deployment/web", "--timeout=60s"
            )
            assert done.returncode == 0, done.stdout + done.stderr
            pods = await _pods(admin, "deploy", "app=web")
            assert sorted(p["spec"]["containers"][0]["image"] for p in pods) == ["registry.invalid/app:2"] * 3
            sets, _ = await admin.list_all(resources.REPLICASETS, "deploy")
            revisions = sorted(
                rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] for rs in sets
            )
            assert revisions == ["1", "2"]
            assert all("pod-template-hash" in rs["spec"]["selector"]["matchLabels"] for rs in sets)

            undo = await asyncio.to_thread(
                _kubectl, kubeconfig, "-n", "deploy", "rollout", "undo", "deployment/web"
            )
            assert undo.returncode == 0, undo.stdout + undo.stderr
            done = await asyncio.to_thread(
                _kubectl, kubeconfig, "-n", "deploy", "rollout", "status", "deployment/web", "--timeout=60s"
            )
            assert done.returncode == 0, done.stdout + done.stderr

            async def back_on_v1() -> bool:
                pods = await _pods(admin, "deploy", "app=web")
                return (
                    sorted(p["spec"]["containers"][0]["image"] for p in pods)
                    == ["registry.invalid/app:1"] * 3
                )

            await wait_for(back_on_v1, 30, what="pods back on app:1")
            dep = await admin.get(resources.DEPLOYMENTS, "web", "deploy")
            assert dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
            sets, _ = await admin.list_all(resources.REPLICASETS, "deploy")
            assert len(sets) == 2  # the old ReplicaSet came back instead of a new one
        finally:
            await kubelet.stop()


async def test_statefulset_creates_ordered_stable_pods(control_plane, controller_manager) -> None:  # type: ignore[no-untyped-def]
    async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin:
        await ensure_namespace(admin, "sts")
        kubelet = FakeKubelet(admin, "sts")
        kubelet.start()
        try:
            body = {
                "metadata": {"name": "db", "namespace": "sts"},
                "spec": {
                    "replicas": 3,
                    "serviceName": "db",
                    "selector": {"matchLabels": {"app": "db"}},
                    "template": _template("db"),
                },
            }
            await admin.create(resources.STATEFULSETS, body)

            async def ready() -> bool:
                sts = await admin.get(resources.STATEFULSETS, "db", "sts")
                return sts.get("status", {}).get("readyReplicas") == 3

            await wait_for(ready, 30, what="3 ready replicas")
            pods = await _pods(admin, "sts", "app=db")
            assert sorted(p["metadata"]["name"] for p in pods) == ["db-0", "db-1", "db-2"]
            created = {p["metadata"]["name"]: p["metadata"]["creationTimestamp"] for p in pods}
            assert created["db-0"] <= created["db-1"] <= created["db-2"]
            assert all(
                p["spec"]["hostname"] == p["metadata"]["name"] and p["spec"]["subdomain"] == "db"
                for p in pods
            )
        finally:
            await kubelet.stop()


async def test_statefulset_releases_a_pod_that_stops_matching_and_readopts_its_orphan(  # type: ignore[no-untyped-def]
    control_plane, controller_manager
) -> None:
    async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin:
        await ensure_namespace(admin, "sts-adopt")
        kubelet = FakeKubelet(admin, "sts-adopt")
        kubelet.start()
        try:
            body = {"metadata": {"name": "ss", "namespace": "sts-adopt"},
                    "spec": {"replicas": 1, "serviceName": "ss", "selector": {"matchLabels": {"app": "ss"}},
                             "template": _template("ss")}}
            sts = await admin.create(resources.STATEFULSETS, body)

            async def owner(wanted: str | None) -> bool:
                try:
                    pod = await admin.get(resources.PODS, "ss-0", "sts-adopt")
                except NotFound:
                    return False
                refs = [r["uid"] for r in pod["metadata"].get("ownerReferences") or [] if r.get("controller")]
                return refs == ([wanted] if wanted else [])

            await wait_for(lambda: owner(sts["metadata"]["uid"]), 30, what="ss-0 owned by its set")
            # orphaned (as upstream's e2e does): the set takes it back
            await admin.patch(resources.PODS, "ss-0", {"metadata": {"ownerReferences": None}}, "sts-adopt")
            await wait_for(lambda: owner(sts["metadata"]["uid"]), 30, what="ss-0 adopted again")
            # its labels no longer match: released
            await admin.patch(resources.PODS, "ss-0", {"metadata": {"labels": {"app": "other"}}}, "sts-adopt")
            await wait_for(lambda: owner(None), 30, what="ss-0 released")
            # matching again: adopted again
            await admin.patch(resources.PODS, "ss-0", {"metadata": {"labels": {"app": "ss"}}}, "sts-adopt")
            await wait_for(lambda: owner(sts["metadata"]["uid"]), 30, what="ss-0 adopted once it matches")
        finally:
            await kubelet.stop()


async def test_statefulset_ordinals_start_where_the_spec_says_and_move_when_it_changes(  # type: ignore[no-untyped-def]
    control_plane, controller_manager
) -> None:
    async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin:
        await ensure_namespace(admin, "sts-start")
        kubelet = FakeKubelet(admin, "sts-start")
        kubelet.start()
        try:
            body = {
                "metadata": {"name": "ss", "namespace": "sts-start"},
                "spec": {
                    "replicas": 2,
                    "ordinals": {"start": 3},
                    "serviceName": "ss",
                    "selector": {"matchLabels": {"app": "ss"}},
                    "template": _template("ss"),
                },
            }
            await admin.create(resources.STATEFULSETS, body)

            async def names(wanted: list[str]) -> bool:
                pods = await _pods(admin, "sts-start", "app=ss")
                live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
                return sorted(p["metadata"]["name"] for p in live) == wanted

            await wait_for(lambda: names(["ss-3", "ss-4"]), 30, what="pods ss-3 and ss-4")
            await admin.patch(resources.STATEFULSETS, "ss", {"spec": {"ordinals": None}}, "sts-start")
            await wait_for(lambda: names(["ss-0", "ss-1"]), 60, what="pods ss-0, ss-1 once the start is gone")
        finally:
            await kubelet.stop()


async def test_a_statefulset_pod_is_available_min_ready_seconds_after_it_is_ready(  # type: ignore[no-untyped-def]
    control_plane, controller_manager
) -> None:
    async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin:
        await ensure_namespace(admin, "sts-minready")
        kubelet = FakeKubelet(admin, "sts-minready")
        kubelet.start()
        try:
            body = {
                "metadata": {"name": "slow", "namespace": "sts-minready"},
                "spec": {"replicas": 1, "minReadySeconds": 4, "serviceName": "slow",
                         "selector": {"matchLabels": {"app": "slow"}}, "template": _template("slow")},
            }
            await admin.create(resources.STATEFULSETS, body)

            async def status() -> dict:
                return (await admin.get(resources.STATEFULSETS, "slow", "sts-minready")).get("status") or {}

            async def ready_not_available() -> bool:
                got = await status()
                return got.get("readyReplicas") == 1 and got.get("availableReplicas") == 0

            async def available() -> bool:
                return (await status()).get("availableReplicas") == 1

            await wait_for(ready_not_available, 30, what="1 ready replica, 0 available")
            await wait_for(available, 30, what="the replica available after minReadySeconds")
        finally:
            await kubelet.stop()


async def test_daemonset_one_pod_per_matching_node(control_plane, controller_manager) -> None:  # type: ignore[no-untyped-def]
    async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin:
        await ensure_namespace(admin, "ds")
        for name, role in (("ds-a", "edge"), ("ds-b", "edge"), ("ds-c", "core")):
            await create_node(admin, name, labels={"role": role})
        body = {
            "metadata": {"name": "agent", "namespace": "ds"},
            "spec": {
                "selector": {"matchLabels": {"app": "agent"}},
                "template": {
                    **_template("agent"),
                    "spec": {**_template("agent")["spec"], "nodeSelector": {"role": "edge"}},
                },
            },
        }
        await admin.create(resources.DAEMONSETS, body)

        async def two() -> list[dict] | None:
            pods = await _pods(admin, "ds", "app=agent")
            return pods if len(pods) == 2 else None

        pods = await wait_for(two, 20, what="2 daemon pods")
        pinned = sorted(
            p["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
                "nodeSelectorTerms"
            ][0]["matchFields"][0]["values"][0]
            for p in pods
        )
        assert pinned == ["ds-a", "ds-b"]
        for name in ("ds-a", "ds-b", "ds-c"):
            await admin.delete(resources.NODES, name)


async def test_daemon_pods_stay_on_a_node_that_goes_not_ready(control_plane, controller_manager) -> None:  # type: ignore[no-untyped-def]
    """NotReady/unreachable nodes get NoSchedule taints too: they keep new pods away, not the
    daemon pods already there (upstream keeps them); an untolerated NoExecute taint does evict."""
    async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin:
        await ensure_namespace(admin, "ds-ready")
        await create_node(admin, "dsr-a", labels={"role": "dsr"})
        template = _template("dsr")
        template["spec"]["nodeSelector"] = {"role": "dsr"}
        body = {
            "metadata": {"name": "agent", "namespace": "ds-ready"},
            "spec": {"selector": {"matchLabels": {"app": "dsr"}}, "template": template},
        }
        await admin.create(resources.DAEMONSETS, body)

        async def one() -> list[dict] | None:
            pods = await _pods(admin, "ds-ready", "app=dsr")
            return pods if len(pods) == 1 else None

        first = (await wait_for(one, 20, what="the daemon pod"))[0]
        await _set_taints(
            admin,
            "dsr-a",
            [
                {"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"},
                {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"},
            ],
        )
        await asyncio.sleep(3)  # several reconciles of the DaemonSet controller
        pods = await _pods(admin, "ds-ready", "app=dsr")
        assert [p["metadata"]["uid"] for p in pods] == [first["metadata"]["uid"]]

        await _set_taints(admin, "dsr-a", [{"key": "dedicated", "value": "other", "effect": "NoExecute"}])

        async def none() -> bool:
            return not await _pods(admin, "ds-ready", "app=dsr")

        await wait_for(none, 20, what="the daemon pod to leave a node with an untolerated NoExecute taint")
        await admin.delete(resources.NODES, "dsr-a")


async def test_a_failed_daemon_pod_is_deleted_and_replaced(control_plane, controller_manager) -> None:  # type: ignore[no-untyped-def]
    """As upstream's "should retry creating failed daemon pods": a daemon pod whose phase
    becomes Failed is deleted and a new one takes its node."""
    async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin:
        await ensure_namespace(admin, "ds-failed")
        await create_node(admin, "dsf-a", labels={"role": "dsf"})
        template = _template("dsf")
        template["spec"]["nodeSelector"] = {"role": "dsf"}
        body = {
            "metadata": {"name": "agent", "namespace": "ds-failed"},
            "spec": {"selector": {"matchLabels": {"app": "dsf"}}, "template": template},
        }
        await admin.create(resources.DAEMONSETS, body)

        async def one() -> list[dict] | None:
            pods = await _pods(admin, "ds-failed", "app=dsf")
            return pods if len(pods) == 1 else None

        first = (await wait_for(one, 20, what="the daemon pod"))[0]
        first["status"] = {**(first.get("status") or {}), "phase": "Failed"}
        await admin.update_status(resources.PODS, first)

        async def replaced() -> bool:
            items, _ = await admin.list_all(resources.PODS, "ds-failed", label_selector="app=dsf")
            uids = [p["metadata"]["uid"] for p in items]
            return first["metadata"]["uid"] not in uids and len(uids) == 1

        await wait_for(replaced, 20, what="the failed daemon pod gone and a new one in its place")
        await admin.delete(resources.NODES, "dsf-a")


async def test_daemonset_keeps_its_templates_as_controller_revisions(
    control_plane, controller_manager
) -> None:  # type: ignore[no-untyped-def]
    """Each template a DaemonSet has had is one ControllerRevision its pods' hash label
    names; ``kubectl rollout history/undo daemonset`` read and apply them, and going back
    renumbers the old revision instead of making a new one."""
    def kubectl(*args: str) -> Awaitable[subprocess.CompletedProcess[str]]:
        return asyncio.to_thread(_kubectl, str(control_plane.admin_kubeconfig), "-n", "ds-hist", *args)

    async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin:
        await ensure_namespace(admin, "ds-hist")
        await create_node(admin, "dsh-a", labels={"role": "dsh"})
        kubelet = FakeKubelet(admin, "ds-hist")
        kubelet.start()
        try:
            template = _template("dsh", "registry.invalid/agent:1")
            template["spec"]["nodeSelector"] = {"role": "dsh"}
            body = {
                "metadata": {"name": "agent", "namespace": "ds-hist"},
                "spec": {"selector": {"matchLabels": {"app": "dsh"}}, "template": template},
            }
            await admin.create(resources.DAEMONSETS, body)

            async def revisions(count: int) -> list[dict] | None:
                items, _ = await admin.list_all(
                    resources.CONTROLLER_REVISIONS, "ds-hist", label_selector="app=dsh"
                )
                return sorted(items, key=lambda r: r["revision"]) if len(items) == count else None

            async def pods_on(image: str) -> list[dict] | None:
                pods = await _pods(admin, "ds-hist", "app=dsh")
                ok = len(pods) == 1 and pods[0]["spec"]["containers"][0]["image"] == image
                return pods if ok else None

            first = (await wait_for(lambda: revisions(1), 20, what="the first revision"))[0]
            ds = await admin.get(resources.DAEMONSETS, "agent", "ds-hist")
            assert first["revision"] == 1
            assert first["metadata"]["ownerReferences"][0]["uid"] == ds["metadata"]["uid"]
            first_hash = first["metadata"]["labels"]["controller-revision-hash"]
            assert first["metadata"]["name"] == f"agent-{first_hash}"
            kept = first["data"]["spec"]["template"]
            assert kept["$patch"] == "replace" and kept["metadata"]["creationTimestamp"] is None
            assert kept["spec"]["containers"][0]["image"] == "registry.invalid/agent:1"
            pod = (await wait_for(lambda: pods_on("registry.invalid/agent:1"), 20, what="the daemon pod"))[0]
            assert pod["metadata"]["labels"]["controller-revision-hash"] == first_hash

            changed = await kubectl("set", "image", "daemonset/agent", "app=registry.invalid/agent:2")
            assert changed.returncode == 0, changed.stderr
            second = (await wait_for(lambda: revisions(2), 20, what="a second revision"))[1]
            assert second["revision"] == 2 and second["metadata"]["name"] != first["metadata"]["name"]
            pod = (await wait_for(lambda: pods_on("registry.invalid/agent:2"), 30, what="agent:2"))[0]
            assert pod["metadata"]["labels"]["controller-revision-hash"] == (
                second["metadata"]["labels"]["controller-revision-hash"]
            )

            history = await kubectl("rollout", "history", "daemonset/agent")
            assert history.returncode == 0, history.stderr
            assert [line.split()[0] for line in history.stdout.splitlines()[2:] if line.strip()] == ["1", "2"]
            undo = await kubectl("rollout", "undo", "daemonset/agent")
            assert undo.returncode == 0, undo.stdout + undo.stderr
            await wait_for(lambda: pods_on("registry.invalid/agent:1"), 30, what="the pod back on agent:1")

            async def renumbered() -> bool:
                items = await revisions(2)
                return items is not None and items[-1]["metadata"]["name"] == first["metadata"]["name"] \
                    and items[-1]["revision"] == 3

            await wait_for(renumbered, 20, what="the first revision renumbered 3")
        finally:
            await kubelet.stop()
            await admin.delete(resources.NODES, "dsh-a")


async def _set_taints(client: ApiClient, name: str, taints: list[dict]) -> None:
    for _ in range(5):
        node = await client.get(resources.NODES, name)
        node["spec"]["taints"] = taints
        try:
            await client.update(resources.NODES, node)
            return
        except Conflict:  # the pod CIDR allocator wrote the node meanwhile
            continue
    raise AssertionError(f"could not taint node {name}")


async def test_statefulset_partition_keeps_the_current_revision_below_it(
    control_plane, controller_manager
) -> None:  # type: ignore[no-untyped-def]
    ns = "sts-canary"
    async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin:
        await ensure_namespace(admin, ns)
        kubelet = FakeKubelet(admin, ns)
        kubelet.start()
        try:
            body = {
                "metadata": {"name": "web", "namespace": ns},
                "spec": {
                    "replicas": 3,
                    "serviceName": "web",
                    "selector": {"matchLabels": {"app": "web"}},
                    "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}},
                    "template": _template("web", "registry.invalid/app:1"),
                },
            }
            await admin.create(resources.STATEFULSETS, body)

            async def status(**want: object) -> dict | None:
                sts = await admin.get(resources.STATEFULSETS, "web", ns)
                got = sts.get("status") or {}
                return got if all(got.get(k) == v for k, v in want.items()) else None

            first = await wait_for(lambda: status(readyReplicas=3), 30, what="3 ready replicas")
            for _ in range(5):
                sts = await admin.get(resources.STATEFULSETS, "web", ns)
                sts["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.invalid/app:2"
                try:
                    await admin.update(resources.STATEFULSETS, sts)
                    break
                except Conflict:
                    continue
            canary = await wait_for(lambda: status(updatedReplicas=1, readyReplicas=3), 30, what="a canary")
            assert canary["currentRevision"] == first["currentRevision"] != canary["updateRevision"]
            old_uid = (await admin.get(resources.PODS, "web-0", ns))["metadata"]["uid"]
            await admin.delete(resources.PODS, "web-0", ns)

            async def recreated() -> bool:
                pods = {p["metadata"]["name"]: p for p in await _pods(admin, ns, "app=web")}
                pod = pods.get("web-0")
                ready = any(
                    c["type"] == "Ready" and c["status"] == "True"
                    for c in (pod or {}).get("status", {}).get("conditions", [])
                )
                return pod is not None and pod["metadata"]["uid"] != old_uid and ready

            await wait_for(recreated, 30, what="web-0 made again")
            pods = {p["metadata"]["name"]: p for p in await _pods(admin, ns, "app=web")}
            images = {n: p["spec"]["containers"][0]["image"] for n, p in pods.items()}
            assert images == {
                "web-0": "registry.invalid/app:1",
                "web-1": "registry.invalid/app:1",
                "web-2": "registry.invalid/app:2",
            }
            assert pods["web-0"]["metadata"]["labels"]["controller-revision-hash"] == first["currentRevision"]
            history, _ = await admin.list_all(resources.CONTROLLER_REVISIONS, ns)
            assert sorted(r["revision"] for r in history) == [1, 2]
            assert {r["metadata"]["name"] for r in history} == {
                canary["currentRevision"],
                canary["updateRevision"],
            }
        finally:
            await kubelet.stop()
