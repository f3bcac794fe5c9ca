"""The CNI conflist from a pod CIDR, and the route plan from Nodes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kprov.cluster.network.cni import CNI_CONFIG_NAME, conflist, write_conflist
from kprov.cluster.network.routes import node_internal_ip, plan_routes


def _node(name: str, ip: str, cidr: str | None) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"podCIDR": cidr} if cidr else {},
        "status": {
            "addresses": [{"type": "Hostname", "address": name}, {"type": "InternalIP", "address": ip}]
        },
    }


def test_conflist_uses_the_pod_cidr_with_bridge_host_local_portmap_and_loopback() -> None:
    config = json.loads(conflist("10.244.3.0/24"))
    assert [p["type"] for p in config["plugins"]] == ["bridge", "portmap", "loopback"]
    bridge = config["plugins"][0]
    assert bridge["isGateway"] and bridge["hairpinMode"] and not bridge["ipMasq"]
    assert bridge["ipam"] == {
        "type": "host-local",
        "ranges": [[{"subnet": "10.244.3.0/24"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
    }


def test_write_conflist_only_writes_changes(tmp_path: Path) -> None:
    assert write_conflist(tmp_path / "net.d", conflist("10.244.1.0/24"))
    assert not write_conflist(tmp_path / "net.d", conflist("10.244.1.0/24"))
    assert write_conflist(tmp_path / "net.d", conflist("10.244.2.0/24"))
    path = tmp_path / "net.d" / CNI_CONFIG_NAME
    assert path.stat().st_mode & 0o777 == 0o600
    path.chmod(0o644)  # as an older kprov wrote it
    assert not write_conflist(tmp_path / "net.d", conflist("10.244.2.0/24"))
    assert path.stat().st_mode & 0o777 == 0o600
    written = json.loads((tmp_path / "net.d" / CNI_CONFIG_NAME).read_text())
    assert written["plugins"][0]["ipam"]["ranges"][0][0]["subnet"] == "10.244.2.0/24"
    assert [p.name for p in (tmp_path / "net.d").iterdir()] == [CNI_CONFIG_NAME]


def test_peers_on_the_local_segment_get_plain_routes_others_vxlan() -> None:
    nodes = [
        _node("h1", "10.77.4.11", "10.244.0.0/24"),
        _node("h2", "10.77.4.12", "10.244.1.0/24"),
        _node("far", "192.168.9.5", "10.244.2.0/24"),
        _node("new", "10.77.4.13", None),  # no pod CIDR yet: no route
    ]
    plan = plan_routes(nodes, "h1", ["10.77.4.11/24"])
    assert plan.own_cidr == "10.244.0.0/24"
    assert plan.direct == {"10.244.1.0/24": "10.77.4.12"}
    assert plan.vxlan == {"10.244.2.0/24": "192.168.9.5"}


def test_a_node_that_left_drops_out_of_the_plan() -> None:
    nodes = [_node("h1", "10.77.4.11", "10.244.0.0/24"), _node("h2", "10.77.4.12", "10.244.1.0/24")]
    assert plan_routes(nodes[:1], "h1", ["10.77.4.11/24"]).direct == {}
    assert node_internal_ip({"status": {"addresses": [{"type": "InternalIP", "address": "fd00::1"}]}}) == ""
