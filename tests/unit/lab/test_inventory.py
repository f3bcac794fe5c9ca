"""The lab inventory: Ansible layout, the committed file matches what the lab generates."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import yaml

from kprov.lab.inventory import inventory_data, inventory_yaml, write_inventory_file
from kprov.lab.layout import LabLayout

COMMITTED = Path(__file__).resolve().parents[3] / "inventories/lab/hosts.yml"


def test_committed_inventory_is_the_generated_one_for_instance_0() -> None:
    assert COMMITTED.read_text() == inventory_yaml(LabLayout(0), 5)


def test_groups_addresses_and_connection_vars() -> None:
    data = yaml.safe_load(inventory_yaml(LabLayout(3), 5))["all"]
    assert {h: v["ansible_host"] for h, v in data["hosts"].items()} == {
        f"h{i}": f"10.77.3.1{i}" for i in range(1, 6)
    }
    children = data["children"]
    assert list(children["etcd"]["hosts"]) == ["h1", "h2", "h3"]
    assert list(children["control_plane"]["hosts"]) == ["h1", "h2", "h3"]
    assert list(children["workers"]["hosts"]) == ["h4", "h5"]
    assert data["vars"]["ansible_user"] == "root"
    assert data["vars"]["ansible_ssh_private_key_file"] == "/var/lib/kprov/lab/id_lab"
    assert "StrictHostKeyChecking=no" in data["vars"]["ansible_ssh_common_args"]
    assert "UserKnownHostsFile=/dev/null" in data["vars"]["ansible_ssh_common_args"]
    assert data["vars"]["kprov_host_key_checking"] is False


def test_small_labs_control_plane_hosts_are_workers_too() -> None:
    data = inventory_data(LabLayout(1), 2)["all"]
    assert list(data["children"]["control_plane"]["hosts"]) == ["h1", "h2"]
    assert list(data["children"]["workers"]["hosts"]) == ["h1", "h2"]
    assert list(inventory_data(LabLayout(1), 4)["all"]["children"]["workers"]["hosts"]) == ["h4"]


def test_write_creates_parent_dirs(tmp_path: Path) -> None:
    out = write_inventory_file(LabLayout(9), 4, tmp_path / "a/b/hosts.yml")
    assert yaml.safe_load(out.read_text())["all"]["hosts"]["h4"]["ansible_host"] == "10.77.9.14"


def test_an_apiserver_vip_on_the_lab_network_when_asked() -> None:
    assert "apiserver_vip" not in inventory_data(LabLayout(1), 4)["all"]["vars"]
    data = yaml.safe_load(inventory_yaml(LabLayout(1), 4, vip=True))["all"]
    assert data["vars"]["apiserver_vip"] == "10.77.1.10"
    assert data["vars"]["apiserver_vip"] not in {h["ansible_host"] for h in data["hosts"].values()}


def test_loadbalancer_pool_lies_on_the_lab_network_above_every_host() -> None:
    layout = LabLayout(4)
    pools = inventory_data(layout, 5)["all"]["vars"]["loadbalancer_address_pools"]
    first, last = (ipaddress.ip_address(a) for a in pools[0].split("-"))
    subnet = ipaddress.ip_network(layout.subnet)
    assert first in subnet and last in subnet and first <= last
    assert ipaddress.ip_address(layout.ip("h99")) < first


def test_a_dual_stack_lab_adds_an_ipv6_pool_on_the_bridge_prefix_above_every_host() -> None:
    layout = LabLayout(4)
    assert len(inventory_data(layout, 5)["all"]["vars"]["loadbalancer_address_pools"]) == 1
    pools = inventory_data(layout, 5, dual_stack=True)["all"]["vars"]["loadbalancer_address_pools"]
    assert pools[0] == layout.loadbalancer_pool
    first, last = (ipaddress.ip_address(a) for a in pools[1].split("-"))
    prefix = ipaddress.ip_network(f"{layout.gateway6}/64", strict=False)
    assert first.version == 6 and first in prefix and last in prefix and first <= last
    assert ipaddress.ip_address(layout.ip6("h99")) < first
