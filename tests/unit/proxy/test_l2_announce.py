"""Layer-2 announcement's pure parts: which addresses a node contends for, the Lease name,
the gratuitous ARP frame, the record of announced addresses."""

from __future__ import annotations

import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from kprov.cluster.proxy import announced_addresses
from kprov.cluster.proxy.announced_addresses import AnnouncedAddresses
from kprov.cluster.proxy.garp import announcement_frame
from kprov.cluster.proxy.l2_candidates import EXCLUDE_LABEL, announceable, lease_name
from kprov.cluster.proxy.servicemap import Endpoint, ServicePort


def node(name: str, ip: str, ready: str = "True", labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": labels or {}},
        "status": {
            "conditions": [{"type": "Ready", "status": ready}],
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
        },
    }


NODES = [node("h1", "10.77.4.11"), node("h2", "10.77.4.12"), node("h3", "10.77.4.13")]


def port(name: str, lb: tuple[str, ...], endpoint_nodes: tuple[str, ...], local: bool = False,
         port_name: str = "http") -> ServicePort:
    return ServicePort(
        namespace="default", name=name, port_name=port_name, protocol="tcp", cluster_ips=("10.96.0.9",),
        port=80, endpoints=tuple(Endpoint(f"10.244.{i}.5", 8080, n) for i, n in enumerate(endpoint_nodes)),
        load_balancer_ips=lb, external_local=local,
    )


def test_policy_cluster_any_ready_endpoint_anywhere_qualifies_every_ready_node() -> None:
    ports = [port("web", ("10.77.4.200",), ("h2",))]
    for name in ("h1", "h2", "h3"):
        assert announceable(ports, NODES, name) == {"10.77.4.200": ("default/web",)}


def test_no_ready_endpoint_means_no_node_announces() -> None:
    assert announceable([port("web", ("10.77.4.200",), ())], NODES, "h1") == {}


def test_policy_local_only_nodes_with_a_local_endpoint() -> None:
    ports = [port("web", ("10.77.4.200",), ("h2", "h3"), local=True)]
    assert announceable(ports, NODES, "h1") == {}
    assert announceable(ports, NODES, "h2") == {"10.77.4.200": ("default/web",)}
    assert announceable(ports, NODES, "h3") == {"10.77.4.200": ("default/web",)}


def test_a_node_not_ready_excluded_or_unknown_does_not_contend() -> None:
    ports = [port("web", ("10.77.4.200",), ("h1",))]
    nodes = [node("h1", "10.77.4.11", ready="Unknown"), node("h2", "10.77.4.12", labels={EXCLUDE_LABEL: ""})]
    assert announceable(ports, nodes, "h1") == {}
    assert announceable(ports, nodes, "h2") == {}
    assert announceable(ports, nodes, "h9") == {}


def test_shared_address_lists_every_service_and_ports_merge() -> None:
    ports = [
        port("a", ("10.77.4.201",), ("h1",)),
        port("a", ("10.77.4.201",), ("h1",), port_name="https"),
        port("b", ("10.77.4.201",), ("h3",), local=True),
        port("c", ("10.77.4.202",), ("h1",)),
        port("plain", (), ("h1",)),
    ]
    assert announceable(ports, NODES, "h1") == {"10.77.4.201": ("default/a",), "10.77.4.202": ("default/c",)}
    assert announceable(ports, NODES, "h3") == {"10.77.4.201": ("default/a", "default/b"),
                                                "10.77.4.202": ("default/c",)}


def test_node_addresses_from_the_fallback_are_never_announced() -> None:
    ports = [port("web", ("10.77.4.11", "10.77.4.12"), ("h1",))]
    assert announceable(ports, NODES, "h3") == {}


def test_lease_names_are_valid_object_names() -> None:
    assert lease_name("10.77.4.200") == "kprov-l2-10-77-4-200"
    assert lease_name("fd00::1") == "kprov-l2-fd00-0000-0000-0000-0000-0000-0000-0001"


def test_gratuitous_arp_frame_bytes() -> None:
    mac = bytes.fromhex("0a1b2c3d4e5f")
    frame = announcement_frame(mac, "10.77.4.200")
    ip = bytes([10, 77, 4, 200])
    assert frame == (
        b"\xff" * 6 + mac + b"\x08\x06"  # broadcast, from us, ARP
        + b"\x00\x01\x08\x00\x06\x04\x00\x01"  # Ethernet, IPv4, 6, 4, request
        + mac + ip + b"\x00" * 6 + ip  # sender = target = the address
    )
    assert len(frame) == 42
    with pytest.raises(ValueError):
        announcement_frame(b"\x00" * 5, "10.77.4.200")


def test_announced_addresses_are_recorded_before_they_are_added_and_swept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, ...]] = []
    state = AnnouncedAddresses(tmp_path / "run")

    def fake_ip(*args: str) -> subprocess.CompletedProcess[str]:
        calls.append(args)
        if args[:2] == ("addr", "replace"):
            assert args[2].split("/")[0] in state.held()  # recorded first: a crash leaves a trace
        return subprocess.CompletedProcess(["ip", *args], 0, "", "")

    monkeypatch.setattr(announced_addresses, "_ip", fake_ip)
    state.add("10.77.4.200", "host0")
    state.add("10.77.4.201", "host0")
    assert state.held() == {"10.77.4.200": "host0", "10.77.4.201": "host0"}
    state.remove("10.77.4.200")
    assert AnnouncedAddresses(tmp_path / "run").sweep() == ["10.77.4.201"]  # a restart finds it
    assert state.held() == {}
    assert calls == [
        ("addr", "replace", "10.77.4.200/32", "dev", "host0"),
        ("addr", "replace", "10.77.4.201/32", "dev", "host0"),
        ("addr", "del", "10.77.4.200/32", "dev", "host0"),
        ("addr", "del", "10.77.4.201/32", "dev", "host0"),
    ]


def test_concurrent_claims_keep_every_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class SlowReading(AnnouncedAddresses):  # widens the read-modify-write window of the file
        def _read(self) -> dict[str, str]:
            held = super()._read()
            time.sleep(0.01)
            return held

    monkeypatch.setattr(announced_addresses, "_ip",
                        lambda *args: subprocess.CompletedProcess(["ip", *args], 0, "", ""))
    state = SlowReading(tmp_path)
    addresses = [f"10.77.4.{200 + i}" for i in range(8)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda a: state.add(a, "host0"), addresses))
    assert sorted(state.held()) == addresses
