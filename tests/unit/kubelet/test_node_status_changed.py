"""When the kubelet's computed NodeStatus is news (upstream's nodeStatusHasChanged rule)."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

from kprov.cluster.kubelet.node.registration import HostFacts, node_status, status_changed

FACTS = HostFacts(cpus=2, memory_bytes=4 * 1024**3, kernel="6.1.0", os_image="Debian GNU/Linux 12 (bookworm)",
                  architecture="amd64", machine_id="m1", boot_id="b1", disk_bytes=10 * 1024**3)


def _status(
    ready: bool = True, facts: HostFacts = FACTS, old: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    message = "kubelet is posting ready status"
    return node_status("n1", facts, "10.0.0.5", "containerd://1.6", ready, message, old)


def _aged(status: dict[str, Any]) -> dict[str, Any]:
    """``status`` as the Node holds it a while later: the same, with older heartbeat times."""
    older = copy.deepcopy(status)
    for condition in older["conditions"]:
        condition["lastHeartbeatTime"] = "2020-01-01T00:00:00Z"
    return older


def test_a_status_differing_only_in_heartbeat_times_is_not_news() -> None:
    posted = _aged(_status())
    assert not status_changed(posted, _status(old=posted["conditions"]))


def test_a_condition_that_flipped_is_news() -> None:
    posted = _aged(_status(ready=True))
    assert status_changed(posted, _status(ready=False, old=posted["conditions"]))


def test_a_condition_someone_else_changed_is_news() -> None:
    posted = _aged(_status())
    ready = next(c for c in posted["conditions"] if c["type"] == "Ready")
    ready.update(status="Unknown", reason="NodeStatusUnknown", message="Kubelet stopped posting node status.")
    assert status_changed(posted, _status(old=posted["conditions"]))


def test_a_changed_fact_is_news() -> None:
    posted = _aged(_status())
    assert status_changed(posted, _status(facts=replace(FACTS, boot_id="b2"), old=posted["conditions"]))
    assert status_changed(posted, _status(facts=replace(FACTS, cpus=4), old=posted["conditions"]))


def test_fields_and_conditions_the_kubelet_does_not_write_are_not_compared() -> None:
    posted = _aged(_status())
    posted["volumesAttached"] = [{"name": "kubernetes.io/csi/x", "devicePath": ""}]
    posted["conditions"].append({"type": "NetworkUnavailable", "status": "False", "reason": "RouteCreated"})
    assert not status_changed(posted, _status(old=posted["conditions"]))


def test_a_node_with_no_status_yet_is_news() -> None:
    assert status_changed({}, _status())
