"""Mirror pods for the host's kprov units: systemd's answer read, each unit state shown
honestly, and one pass creating, updating, replacing and deleting only what changed (the
API side is an in-memory stand-in recording the calls; systemd's answer is given as text)."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Mapping
from typing import Any

from kprov.cluster.apiserver.admission.node_restriction import mirror_pod_refusal
from kprov.cluster.client import NotFound
from kprov.cluster.kubelet.node.host_services import (
    HOST_SERVICES,
    UnitState,
    mirror_pod,
    mirror_status,
    parse_unit_states,
)
from kprov.cluster.kubelet.node.mirror_pods import MirrorPods
from kprov.cluster.scheduler.podinfo import PodInfo

SHOW = """Id=kprov-apiserver.service
LoadState=loaded
ActiveState=active
SubState=running
NRestarts=2
ActiveEnterTimestampMonotonic=1000000000
InactiveEnterTimestampMonotonic=990000000
ExecMainStatus=0
Result=success

Id=kprov-etcd.service
LoadState=loaded
ActiveState=activating
SubState=auto-restart
NRestarts=7
ActiveEnterTimestampMonotonic=0
InactiveEnterTimestampMonotonic=1005000000
ExecMainStatus=1
Result=exit-code

Id=kprov-dns.service
LoadState=not-found
ActiveState=inactive
SubState=dead
NRestarts=0
ActiveEnterTimestampMonotonic=0
InactiveEnterTimestampMonotonic=0
ExecMainStatus=0
Result=success
"""
APISERVER = next(s for s in HOST_SERVICES if s.unit == "kprov-apiserver.service")
ETCD = next(s for s in HOST_SERVICES if s.unit == "kprov-etcd.service")
NOW = "2026-11-27T14:00:00Z"
# read at wall time 2025-11-27T14:00:01Z (1764252001), 1000 s after boot (monotonic)
CLOCKS = (1764252001.0, 1000.0)


def _state(**changes: Any) -> UnitState:
    base = parse_unit_states(SHOW, CLOCKS)["kprov-apiserver.service"]
    return UnitState(**{**base.__dict__, **changes})


def test_systemctl_show_blocks_are_read_per_unit() -> None:
    states = parse_unit_states(SHOW, CLOCKS)
    api = states["kprov-apiserver.service"]
    assert (api.installed, api.active, api.restarts) == (True, "active", 2)
    assert api.active_since == "2025-11-27T14:00:01Z"
    assert states["kprov-etcd.service"].active_since == "" and states["kprov-etcd.service"].exit_status == 1
    assert not states["kprov-dns.service"].installed


def test_the_mirror_pod_is_one_a_node_may_create() -> None:
    pod = mirror_pod(APISERVER, "h1", "uid-1", "0.1.0")
    assert pod["metadata"]["name"] == "kube-apiserver-h1" and pod["metadata"]["namespace"] == "kube-system"
    assert pod["metadata"]["labels"] == {"component": "kube-apiserver", "tier": "control-plane"}
    assert mirror_pod_refusal(pod, "h1", "uid-1") is None  # NodeRestriction lets it through
    assert mirror_pod(APISERVER, "h1", "uid-1", "0.2.0")["metadata"]["annotations"][
        "kubernetes.io/config.hash"] != pod["metadata"]["annotations"]["kubernetes.io/config.hash"]


def test_host_ports_a_unit_holds_are_declared_where_the_scheduler_counts_them() -> None:
    ingress = next(s for s in HOST_SERVICES if s.unit == "kprov-ingress.service")
    pod = mirror_pod(ingress, "h4", "uid-4", "0.1.0", (80, 443))
    assert PodInfo.of(pod).host_ports == (("TCP", "0.0.0.0", 80), ("TCP", "0.0.0.0", 443))
    assert mirror_pod_refusal(pod, "h4", "uid-4") is None
    bare = mirror_pod(ingress, "h4", "uid-4", "0.1.0")
    assert PodInfo.of(bare).host_ports == ()
    assert bare["metadata"]["annotations"]["kubernetes.io/config.hash"] != pod["metadata"]["annotations"][
        "kubernetes.io/config.hash"]  # declaring ports replaces an older mirror pod


def _ready(status: Mapping[str, Any]) -> str:
    return next(c["status"] for c in status["conditions"] if c["type"] == "Ready")


def test_an_active_unit_is_running_and_ready() -> None:
    status = mirror_status(APISERVER, _state(), "10.0.0.1", "0.1.0", {}, NOW)
    container = status["containerStatuses"][0]
    assert status["phase"] == "Running" and _ready(status) == "True" and status["podIP"] == "10.0.0.1"
    assert container["state"] == {"running": {"startedAt": "2025-11-27T14:00:01Z"}}
    assert (container["ready"], container["restartCount"], container["containerID"]) == (
        True, 2, "systemd://kprov-apiserver.service")


def test_a_unit_restarting_after_a_crash_is_crash_loop_back_off_and_not_ready() -> None:
    etcd = parse_unit_states(SHOW, CLOCKS)["kprov-etcd.service"]
    status = mirror_status(ETCD, etcd, "10.0.0.1", "0.1.0", {}, NOW)
    container = status["containerStatuses"][0]
    assert _ready(status) == "False" and container["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert container["restartCount"] == 7 and not container["started"]


def test_a_stopped_unit_shows_its_exit_as_a_terminated_container() -> None:
    failed = _state(active="failed", sub="failed", exit_status=137, result="signal")
    status = mirror_status(APISERVER, failed, "10.0.0.1", "0.1.0", {}, NOW)
    terminated = status["containerStatuses"][0]["state"]
    assert terminated["terminated"]["exitCode"] == 137 and terminated["terminated"]["reason"] == "Error"
    assert terminated["terminated"]["finishedAt"] == "2025-11-27T13:59:51Z"


def test_transition_times_are_kept_while_a_condition_holds() -> None:
    first = mirror_status(APISERVER, _state(), "10.0.0.1", "0.1.0", {}, NOW)
    later = mirror_status(APISERVER, _state(), "10.0.0.1", "0.1.0", first, "2026-11-27T15:00:00Z")
    assert [c["lastTransitionTime"] for c in later["conditions"]] == [NOW] * 5
    stopped = _state(active="inactive")
    down = mirror_status(APISERVER, stopped, "10.0.0.1", "0.1.0", later, "2026-11-27T16:00:00Z")
    times = {c["type"]: c["lastTransitionTime"] for c in down["conditions"]}
    assert times["Ready"] == "2026-11-27T16:00:00Z" and times["PodScheduled"] == NOW


class _Api:
    """The pods API as the publisher uses it: create, status patch, delete (recorded)."""

    def __init__(self) -> None:
        self.pods: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str]] = []
        self.serial = 0

    async def create(self, res: Any, obj: dict[str, Any]) -> dict[str, Any]:
        self.serial += 1
        pod = copy.deepcopy(obj)
        pod["metadata"]["uid"] = f"pod-{self.serial}"
        pod["metadata"]["resourceVersion"] = str(self.serial)
        self.pods[pod["metadata"]["name"]] = pod
        self.calls.append(("create", pod["metadata"]["name"]))
        return copy.deepcopy(pod)

    async def patch(self, res: Any, name: str, patch: Any, namespace: str, **kw: Any) -> dict[str, Any]:
        if name not in self.pods:
            raise NotFound(404, "NotFound", "gone")
        self.serial += 1
        self.pods[name]["status"] = patch["status"]
        self.pods[name]["metadata"]["resourceVersion"] = str(self.serial)
        self.calls.append(("status", name))
        return copy.deepcopy(self.pods[name])

    async def delete(self, res: Any, name: str, namespace: str, **kw: Any) -> dict[str, Any]:
        self.calls.append(("delete", name))
        return self.pods.pop(name)


def _publisher(api: _Api, show: list[str], version: str = "0.1.0") -> MirrorPods:
    async def read(units: list[str]) -> dict[str, UnitState]:
        return parse_unit_states(show[0], CLOCKS)

    return MirrorPods(api, "h1", "10.0.0.1", version, lambda: "node-uid",  # type: ignore[arg-type]
                      lambda: [copy.deepcopy(p) for p in api.pods.values()], read)


def test_a_pass_creates_installed_units_pods_then_writes_only_changes() -> None:
    api, show = _Api(), [SHOW]
    publisher = _publisher(api, show)
    asyncio.run(publisher.sync())
    assert sorted(api.pods) == ["etcd-h1", "kube-apiserver-h1"]  # kprov-dns is not installed here
    assert sorted(api.calls) == [("create", "etcd-h1"), ("create", "kube-apiserver-h1"),
                                 ("status", "etcd-h1"), ("status", "kube-apiserver-h1")]
    api.calls.clear()
    asyncio.run(publisher.sync())
    assert api.calls == []  # nothing changed: nothing written

    show[0] = SHOW.replace("ActiveState=activating\nSubState=auto-restart",
                           "ActiveState=active\nSubState=running")
    asyncio.run(publisher.sync())
    assert api.calls == [("status", "etcd-h1")] and _ready(api.pods["etcd-h1"]["status"]) == "True"

    api.calls.clear()  # the node controller marks it NotReady (node unreachable): the kubelet puts it right
    asyncio.run(api.patch(None, "etcd-h1", {"status": {"phase": "Running", "conditions": []}}, "kube-system"))
    asyncio.run(publisher.sync())
    assert api.calls == [("status", "etcd-h1"), ("status", "etcd-h1")]
    assert _ready(api.pods["etcd-h1"]["status"]) == "True"

    api.calls.clear()
    del api.pods["kube-apiserver-h1"]  # a user deleted it: back on the next pass
    asyncio.run(publisher.sync())
    assert api.calls == [("create", "kube-apiserver-h1"), ("status", "kube-apiserver-h1")]

    api.calls.clear()  # a graceful delete: marked, and nothing would ever finish it but the kubelet
    api.pods["etcd-h1"]["metadata"]["deletionTimestamp"] = "2026-11-27T14:00:00Z"
    asyncio.run(publisher.sync())
    assert api.calls == [("delete", "etcd-h1"), ("create", "etcd-h1"), ("status", "etcd-h1")]
    assert "deletionTimestamp" not in api.pods["etcd-h1"]["metadata"]


def test_a_removed_unit_loses_its_pod_and_a_new_build_replaces_them() -> None:
    api, show = _Api(), [SHOW]
    asyncio.run(_publisher(api, show).sync())
    api.calls.clear()
    show[0] = SHOW.replace("Id=kprov-etcd.service\nLoadState=loaded",
                           "Id=kprov-etcd.service\nLoadState=not-found")
    asyncio.run(_publisher(api, show).sync())
    assert api.calls == [("status", "kube-apiserver-h1"), ("delete", "etcd-h1")]  # a new kubelet writes once

    api.calls.clear()
    asyncio.run(_publisher(api, show, version="0.2.0").sync())
    assert api.calls == [("delete", "kube-apiserver-h1"), ("create", "kube-apiserver-h1"),
                         ("status", "kube-apiserver-h1")]
    assert api.pods["kube-apiserver-h1"]["spec"]["containers"][0]["image"] == "kprov/kube-apiserver:0.2.0"


def test_nothing_is_created_before_the_node_has_a_uid() -> None:
    api = _Api()
    publisher = _publisher(api, [SHOW])
    publisher.node_uid = lambda: ""
    asyncio.run(publisher.sync())
    assert api.calls == []
