"""The kubelet's heartbeat against a real API server, as the node's own identity.

Upstream's rule: the Lease is renewed every beat (from the copy the last renewal returned),
the NodeStatus is posted only when it says something new or the report period passed. A
Node's resourceVersion moves only when it is written, so it counts the posts. The kubelet
compares with its own Node as its node informer (a watch on ``metadata.name``) sees it. The runtime
is a stand-in answering the one call the heartbeat makes (its conditions).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from kprov.cluster.client import ApiClient, resources
from kprov.cluster.client.lease_renewal import renew_lease
from kprov.cluster.kubelet.kubelet import Kubelet, KubeletConfig
from kprov.cluster.kubelet.node.registration import lease_object
from tests.integration.controllers.hollow import wait_for

BEAT_S = 0.2


class _Runtime:
    def __init__(self) -> None:
        self.ready = True

    async def runtime_conditions(self) -> dict[str, bool]:
        return {"RuntimeReady": self.ready, "NetworkReady": True}


def _ready_status(node: dict[str, Any]) -> str:
    return next(c["status"] for c in node["status"]["conditions"] if c["type"] == "Ready")


async def _rv(client: ApiClient, res: Any, name: str, namespace: str | None = None) -> int:
    return int((await client.get(res, name, namespace))["metadata"]["resourceVersion"])


async def test_status_is_posted_on_change_and_the_lease_every_beat(control_plane, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    name = "hb-node"
    config = KubeletConfig(node_name=name, node_ip="10.9.9.9", kubeconfig="", root_dir=str(tmp_path),
                           heartbeat_s=BEAT_S, status_report_s=3600)
    runtime = _Runtime()
    async with (ApiClient.from_kubeconfig(control_plane.node_kubeconfig(name)) as node_client,
                ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin):
        kubelet = Kubelet(config, node_client, runtime)  # type: ignore[arg-type]
        await kubelet._register()
        watch = asyncio.create_task(kubelet.node_informer.run())  # the heartbeat reads its cache
        beat = asyncio.create_task(kubelet._heartbeat())
        try:
            node = await wait_for(lambda: _posted(admin, name, "True"), timeout=10, what="the first status")
            await kubelet.node_informer.wait_synced()
            posted_rv = int(node["metadata"]["resourceVersion"])
            lease_rv = await _rv(admin, resources.LEASES, name, "kube-node-lease")
            await asyncio.sleep(BEAT_S * 8)
            # nothing changed: the Lease was renewed, the Node not written again
            assert await _rv(admin, resources.NODES, name) == posted_rv
            assert await _rv(admin, resources.LEASES, name, "kube-node-lease") > lease_rv

            runtime.ready = False  # a change is posted at the next beat
            await wait_for(lambda: _posted(admin, name, "False"), timeout=5, what="Ready=False posted")
            runtime.ready = True
            await wait_for(lambda: _posted(admin, name, "True"), timeout=5, what="Ready=True posted")

            # someone else (the node lifecycle controller) says Unknown: the kubelet answers
            node = await admin.get(resources.NODES, name)
            for condition in node["status"]["conditions"]:
                if condition["type"] == "Ready":
                    condition.update(status="Unknown", reason="NodeStatusUnknown", message="test")
            await admin.update_status(resources.NODES, node)
            await wait_for(lambda: _posted(admin, name, "True"), timeout=5, what="Ready=True reposted")
            seen = [n["metadata"]["name"] for n in kubelet.node_informer.store.items()]
            assert seen == [name]  # its own Node, no other
        finally:
            beat.cancel()
            watch.cancel()


async def test_an_unchanged_status_is_reported_again_after_the_period(control_plane, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    name = "hb-report"
    config = KubeletConfig(node_name=name, node_ip="10.9.9.8", kubeconfig="", root_dir=str(tmp_path),
                           heartbeat_s=BEAT_S, status_report_s=1.0)
    async with (ApiClient.from_kubeconfig(control_plane.node_kubeconfig(name)) as node_client,
                ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin):
        kubelet = Kubelet(config, node_client, _Runtime())  # type: ignore[arg-type]
        await kubelet._register()
        beat = asyncio.create_task(kubelet._heartbeat())
        try:
            first = await wait_for(lambda: _posted(admin, name, "True"), timeout=10, what="the first status")
            rv = int(first["metadata"]["resourceVersion"])

            async def reposted() -> dict[str, Any] | None:
                node = await admin.get(resources.NODES, name)
                return node if int(node["metadata"]["resourceVersion"]) > rv else None

            again = await wait_for(reposted, timeout=5, what="the status reported again")
            beats = [c["lastHeartbeatTime"] for c in again["status"]["conditions"] if c["type"] == "Ready"]
            was = [c["lastHeartbeatTime"] for c in first["status"]["conditions"] if c["type"] == "Ready"]
            assert beats != was  # a report carries a new heartbeat time
        finally:
            beat.cancel()


@contextlib.asynccontextmanager
async def _starting(control_plane, tmp_path: Path, name: str,  # type: ignore[no-untyped-def]
                    **timing: float) -> AsyncIterator[tuple[ApiClient, _Runtime]]:
    """A kubelet's heartbeat from a start whose runtime is not ready yet, its first status
    posted; yields an admin client and the runtime stand-in."""
    config = KubeletConfig(node_name=name, node_ip="10.9.9.7", kubeconfig="", root_dir=str(tmp_path),
                           heartbeat_s=60, status_report_s=3600, startup_status_s=0.05, **timing)
    runtime = _Runtime()
    runtime.ready = False  # as at a start, before kube-proxy wrote the CNI config
    async with (ApiClient.from_kubeconfig(control_plane.node_kubeconfig(name)) as node_client,
                ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin):
        kubelet = Kubelet(config, node_client, runtime)  # type: ignore[arg-type]
        await kubelet._register()
        beat = asyncio.create_task(kubelet._heartbeat())
        try:
            await wait_for(lambda: _posted(admin, name, "False"), timeout=10, what="the first status")
            yield admin, runtime
        finally:
            beat.cancel()


async def test_until_first_ready_a_change_is_posted_at_once(control_plane, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    name = "hb-startup"
    async with _starting(control_plane, tmp_path, name) as (admin, runtime):
        runtime.ready = True  # a whole heartbeat (60 s) away: only the startup poll sees it
        await wait_for(lambda: _posted(admin, name, "True"), timeout=3, what="Ready=True posted")
        lease_rv = await _rv(admin, resources.LEASES, name, "kube-node-lease")
        runtime.ready = False  # once Ready, changes wait for the next beat, as upstream
        await asyncio.sleep(0.5)
        assert _ready_status(await admin.get(resources.NODES, name)) == "True"
        assert await _rv(admin, resources.LEASES, name, "kube-node-lease") == lease_rv


async def test_the_startup_poll_ends_after_its_grace_period(control_plane, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    name = "hb-grace"
    async with _starting(control_plane, tmp_path, name, startup_grace_s=0.3) as (admin, runtime):
        await asyncio.sleep(0.5)  # never ready within the grace period: then only the heartbeat looks
        runtime.ready = True
        await asyncio.sleep(0.5)
        assert _ready_status(await admin.get(resources.NODES, name)) == "False"


async def test_a_lease_written_by_someone_else_is_read_afresh_on_the_next_renewal(control_plane) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    name = "hb-lease"
    async with ApiClient.from_kubeconfig(control_plane.node_kubeconfig(name)) as client:
        first = await renew_lease(client, lease_object(name, name, datetime.now(UTC)), None)
        assert first is not None
        second = await renew_lease(client, lease_object(name, name, datetime.now(UTC)), first)
        assert second is not None
        assert int(second["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])
        # ``first`` is stale now: the renewal says so instead of failing, and the next one recovers
        assert await renew_lease(client, lease_object(name, name, datetime.now(UTC)), first) is None
        third = await renew_lease(client, lease_object(name, name, datetime.now(UTC)), None)
        assert third is not None and third["spec"]["holderIdentity"] == name


async def _posted(client: ApiClient, name: str, ready: str) -> dict[str, Any] | None:
    node = await client.get(resources.NODES, name)
    if not (node.get("status") or {}).get("conditions"):
        return None
    return node if _ready_status(node) == ready else None
