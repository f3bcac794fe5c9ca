"""Dual-stack in the lab's data and in the kubelet's node and pod status: the lab's IPv6
prefix and inventory variables, --node-ip pairs as upstream parses them, both InternalIPs
on the Node, both hostIPs on pods, and a hostNetwork pod's IPs from the node's."""

from __future__ import annotations

import argparse
import ipaddress
from pathlib import Path

import pytest
import yaml

from kprov.cluster.kubelet.__main__ import parse_node_ips
from kprov.cluster.kubelet.context import KubeletContext
from kprov.cluster.kubelet.cri.types import CONTAINER_RUNNING, SandboxInfo
from kprov.cluster.kubelet.node.host_services import HOST_SERVICES, UnitState, mirror_status
from kprov.cluster.kubelet.node.registration import HostFacts, node_status
from kprov.cluster.kubelet.pods.env import PodSources, field_value
from kprov.cluster.kubelet.pods.pod_runtime import PodRuntime
from kprov.cluster.kubelet.pods.podconfig import NodeSettings
from kprov.cluster.kubelet.pods.status import ContainerView, pod_status
from kprov.lab.inventory import inventory_yaml
from kprov.lab.layout import LabLayout
from tests.unit.kubelet.fakes import FakeApi, FakeRuntime
from tests.unit.kubelet.test_backoff_status import info

FACTS = HostFacts(cpus=2, memory_bytes=4 * 1024**3, kernel="6.1.0", os_image="Debian GNU/Linux 12 (bookworm)",
                  architecture="amd64", machine_id="m1", boot_id="b1")


def test_the_lab_ipv6_prefix_is_unique_local_per_instance_and_mirrors_the_ipv4_host_numbers() -> None:
    lab = LabLayout(7)
    net = ipaddress.ip_network(lab.subnet6)
    assert net.is_private and net.subnet_of(ipaddress.ip_network("fc00::/7"))  # unique-local
    assert ipaddress.ip_address(lab.ip6("h3")) in net and ipaddress.ip_address(lab.gateway6) in net
    assert lab.ip6("h3").endswith("::13") and lab.ip("h3").endswith(".13")
    assert not ipaddress.ip_network(LabLayout(6).subnet6).overlaps(net)


def test_a_dual_stack_lab_inventory_names_both_addresses_and_the_switch() -> None:
    data = yaml.safe_load(inventory_yaml(LabLayout(7), 3, dual_stack=True))["all"]
    assert data["vars"]["kprov_dual_stack"] is True
    assert data["hosts"]["h2"] == {"ansible_host": "10.77.7.12", "kprov_node_ipv6": "fd77:77:7::12"}
    single = yaml.safe_load(inventory_yaml(LabLayout(7), 3))["all"]
    assert "kprov_dual_stack" not in single["vars"]
    assert single["hosts"]["h2"] == {"ansible_host": "10.77.7.12"}


def test_node_ip_takes_one_address_or_a_pair_of_families_in_order() -> None:
    assert parse_node_ips("10.77.7.12") == ("10.77.7.12",)
    assert parse_node_ips("fd77:77:7::12,10.77.7.12") == ("fd77:77:7::12", "10.77.7.12")
    with pytest.raises(argparse.ArgumentTypeError, match="dual-stack pair"):
        parse_node_ips("10.77.7.12,10.77.7.13")
    with pytest.raises(argparse.ArgumentTypeError, match="could not parse 'h2'"):
        parse_node_ips("h2")


def test_the_node_reports_an_internal_ip_per_family_primary_first() -> None:
    status = node_status("h2", FACTS, ("10.77.7.12", "fd77:77:7::12"), "containerd://1.6", True, "ready")
    assert status["addresses"] == [
        {"type": "InternalIP", "address": "10.77.7.12"},
        {"type": "InternalIP", "address": "fd77:77:7::12"},
        {"type": "Hostname", "address": "h2"},
    ]
    single = node_status("h2", FACTS, "10.77.7.12", "containerd://1.6", True, "ready")
    assert single["addresses"][0] == {"type": "InternalIP", "address": "10.77.7.12"}
    assert len(single["addresses"]) == 2


def test_pods_report_both_pod_ips_and_both_host_ips() -> None:
    pod = {"spec": {"containers": [{"name": "a"}]}, "status": {}}
    ready = ContainerView("a", "img", info("a", CONTAINER_RUNNING), ready=True, started=True)
    status = pod_status(pod, [], [ready], pod_ips=["10.244.1.5", "fd00:10:244:1::5"], host_ip="10.77.7.12",
                        host_ips=("10.77.7.12", "fd77:77:7::12"), now="T1")
    assert status["podIP"] == "10.244.1.5"
    assert status["podIPs"] == [{"ip": "10.244.1.5"}, {"ip": "fd00:10:244:1::5"}]
    assert status["hostIP"] == "10.77.7.12"
    assert status["hostIPs"] == [{"ip": "10.77.7.12"}, {"ip": "fd77:77:7::12"}]


def test_a_host_network_pod_gets_every_node_address_others_their_sandboxs(tmp_path: Path) -> None:
    ctx = KubeletContext(FakeRuntime(), FakeApi(), NodeSettings("h2"), tmp_path, "10.77.7.12",  # type: ignore[arg-type]
                         node_ips=("10.77.7.12", "fd77:77:7::12"))
    runtime = PodRuntime(ctx, "uid-1")
    empty = SandboxInfo("s1", "uid-1", "p", "ns", 0, True, 0)
    assert runtime._ips_of({"spec": {"hostNetwork": True}}, empty) == ["10.77.7.12", "fd77:77:7::12"]
    both = SandboxInfo("s2", "uid-1", "p", "ns", 0, True, 0, ip="10.244.1.5",
                       additional_ips=("fd00:10:244:1::5",))
    assert runtime._ips_of({"spec": {}}, both) == ["10.244.1.5", "fd00:10:244:1::5"]
    single = KubeletContext(FakeRuntime(), FakeApi(), NodeSettings("h2"), tmp_path, "10.77.7.12")  # type: ignore[arg-type]
    assert PodRuntime(single, "uid-1")._ips_of({"spec": {"hostNetwork": True}}, empty) == ["10.77.7.12"]


def test_the_downward_api_lists_both_families_comma_joined() -> None:
    sources = PodSources(pod_ip="10.244.1.5", host_ip="10.77.7.12",
                         pod_ips=("10.244.1.5", "fd00:10:244:1::5"), host_ips=("10.77.7.12", "fd77:77:7::12"))
    assert field_value({}, "status.podIPs", sources) == "10.244.1.5,fd00:10:244:1::5"
    assert field_value({}, "status.hostIPs", sources) == "10.77.7.12,fd77:77:7::12"
    assert field_value({}, "status.podIP", sources) == "10.244.1.5"
    assert field_value({}, "status.podIPs", PodSources(pod_ip="10.244.1.5")) == "10.244.1.5"


def test_a_host_units_mirror_pod_has_the_nodes_addresses_of_both_families() -> None:
    state = UnitState(unit=HOST_SERVICES[0].unit, load="loaded", active="active", sub="running", restarts=0,
                      active_since="2026-11-29T12:00:00Z", inactive_since="", exit_status=0, result="success")
    status = mirror_status(HOST_SERVICES[0], state, ("10.77.7.12", "fd77:77:7::12"), "0.1.0", {},
                           "2026-11-29T12:00:01Z")
    assert status["podIP"] == status["hostIP"] == "10.77.7.12"
    assert status["podIPs"] == status["hostIPs"] == [{"ip": "10.77.7.12"}, {"ip": "fd77:77:7::12"}]
