"""kprov-hollow-nodes against a real control plane: etcd, the API server, the scheduler and
the controller manager as real processes, the fleet as its own process (as a bench runs it).

A Deployment's pods are scheduled onto hollow nodes and reported Running with distinct
pod IPs; a one-off pod succeeds; deleting the Deployment finishes every pod's graceful
deletion (the hollow kubelet finalizes them); Leases keep being renewed.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from kprov.cluster.client import ApiClient, NotFound, resources
from kprov.cluster.client.timeutil import parse_time
from tests.integration.controllers.hollow import ensure_namespace, start_component, stop_component, wait_for

NODES = 12
PREFIX = "hollow-it-"
NAMESPACE = "hollow-it"


@pytest.fixture(scope="module")
def components(control_plane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:  # type: ignore[no-untyped-def]
    logs = tmp_path_factory.mktemp("hollow-logs")
    procs: list[subprocess.Popen] = [
        start_component("kprov.cluster.scheduler", control_plane.scheduler_kubeconfig(), logs, "sched",
                        "--leader-elect=false"),
        start_component("kprov.cluster.controllers", control_plane.controller_manager_kubeconfig(), logs,
                        "cm", "--leader-elect=false", "--use-service-account-credentials=true"),
        start_component("kprov.cluster.hollow", control_plane.admin_kubeconfig, logs, "hollow",
                        f"--count={NODES}", f"--prefix={PREFIX}", "--lease-period=1", "--complete-after=1"),
    ]
    try:
        yield logs
    finally:
        for proc in reversed(procs):
            stop_component(proc)
        asyncio.run(_delete_nodes(control_plane.admin_kubeconfig))


async def _delete_nodes(kubeconfig: Path) -> None:
    async with ApiClient.from_kubeconfig(kubeconfig) as client:
        for i in range(NODES):
            with contextlib.suppress(NotFound):
                await client.delete(resources.NODES, f"{PREFIX}{i}")


def _deployment(replicas: int) -> dict:
    labels = {"app": "hollow-web"}
    return {
        "metadata": {"name": "web", "namespace": NAMESPACE},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "nodeSelector": {"kprov.io/hollow": "true"},
                    "containers": [{"name": "web", "image": "registry.invalid/web:1"}],
                },
            },
        },
    }


async def _hollow_pods(client: ApiClient) -> list[dict]:
    pods, _ = await client.list_all(resources.PODS, NAMESPACE)
    return pods


async def test_a_fleet_registers_runs_pods_and_finalizes_deletions(control_plane, components: Path) -> None:  # type: ignore[no-untyped-def]
    async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as client:
        async def ready_nodes() -> list[str]:
            nodes, _ = await client.list_all(resources.NODES, label_selector="kprov.io/hollow=true")
            return [n["metadata"]["name"] for n in nodes if _is_ready(n)]

        names = await wait_for(
            lambda: _at_least(ready_nodes, NODES), timeout=30, what=f"{NODES} Ready hollow nodes"
        )
        assert sorted(names) == sorted(f"{PREFIX}{i}" for i in range(NODES))
        # a node is Ready once its status is posted; its Lease comes right after (a loaded machine: later)
        first = await wait_for(lambda: _lease(client, f"{PREFIX}0"), timeout=30, what="the first Lease")

        await ensure_namespace(client, NAMESPACE)
        await client.create(resources.DEPLOYMENTS, _deployment(30))

        async def running() -> list[dict]:
            pods = await _hollow_pods(client)
            ok = [p for p in pods if p.get("status", {}).get("phase") == "Running" and p["status"]["podIP"]]
            return ok if len(ok) == 30 else []

        pods = await wait_for(running, timeout=60, what="30 Running pods on hollow nodes")
        assert len({p["status"]["podIP"] for p in pods}) == 30, "pod IPs must be unique"
        assert {p["spec"]["nodeName"] for p in pods} <= set(names)
        assert all(p["status"]["hostIP"].startswith("100.96.") for p in pods)
        deployment = await wait_for(
            lambda: _ready_deployment(client), timeout=30, what="the Deployment to report 30 ready replicas"
        )
        assert deployment["status"]["readyReplicas"] == 30

        once = {
            "metadata": {"name": "once", "namespace": NAMESPACE},
            "spec": {"restartPolicy": "Never", "nodeSelector": {"kprov.io/hollow": "true"},
                     "containers": [{"name": "c", "image": "registry.invalid/job:1"}]},
        }
        await client.create(resources.PODS, once)

        async def succeeded() -> dict | None:
            pod = await client.get(resources.PODS, "once", NAMESPACE)
            return pod if pod.get("status", {}).get("phase") == "Succeeded" else None

        done = await wait_for(succeeded, timeout=30, what="the one-off pod to succeed")
        assert done["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 0

        await client.delete(resources.DEPLOYMENTS, "web", NAMESPACE, propagation_policy="Foreground")
        await client.delete(resources.PODS, "once", NAMESPACE)

        async def all_gone() -> bool:
            return not await _hollow_pods(client)

        await wait_for(all_gone, timeout=60, what="every pod's graceful deletion to be finalized")

        later = await client.get(resources.LEASES, f"{PREFIX}0", "kube-node-lease")
        assert parse_time(later["spec"]["renewTime"]) > parse_time(first["spec"]["renewTime"])


async def test_a_node_marked_not_ready_posts_its_status_at_once(control_plane, components: Path) -> None:  # type: ignore[no-untyped-def]
    """The status period is 5 min; a Node whose Ready condition someone else changed (as the
    node lifecycle controller does) is reposted on change, not at the next period."""
    async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as client:
        name = f"{PREFIX}3"
        await wait_for(lambda: _ready(client, name), timeout=30, what=f"{name} Ready")
        node = await client.get(resources.NODES, name)
        for condition in node["status"]["conditions"]:
            if condition["type"] == "Ready":
                condition.update(status="Unknown", reason="NodeStatusUnknown", message="test")
        await client.update_status(resources.NODES, node)
        back = await wait_for(lambda: _ready(client, name), timeout=20, what=f"{name} to report Ready again")
        assert _is_ready(back)


async def _lease(client: ApiClient, name: str) -> dict | None:
    try:
        return await client.get(resources.LEASES, name, "kube-node-lease")
    except NotFound:
        return None


async def _ready(client: ApiClient, name: str) -> dict | None:
    node = await client.get(resources.NODES, name)
    return node if _is_ready(node) else None


def _is_ready(node: dict) -> bool:
    conditions = node.get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


async def _at_least(fetch, count: int):  # type: ignore[no-untyped-def]
    got = await fetch()
    return got if len(got) >= count else None


async def _ready_deployment(client: ApiClient) -> dict | None:
    deployment = await client.get(resources.DEPLOYMENTS, "web", NAMESPACE)
    return deployment if deployment.get("status", {}).get("readyReplicas") == 30 else None
