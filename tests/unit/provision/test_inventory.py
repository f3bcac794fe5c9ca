"""Inventory: YAML and INI parsing, children, variable precedence, directories, host patterns."""

from __future__ import annotations

from pathlib import Path

import pytest

from kprov.provision.errors import InventoryError, YamlError
from kprov.provision.inventory import load_inventory, select_hosts

YAML_INV = """
all:
  vars: {level: all, only_all: 1}
  hosts:
    h1: {ansible_host: 10.0.0.1, level: host}
    h2:
  children:
    k8s:
      vars: {level: k8s}
      children:
        etcd:
          vars: {level: etcd}
          hosts: {h2: , h3: }
        workers:
          hosts:
            w[1:2]:
"""

INI_INV = """
h0 ansible_port=2222 flag=True
[etcd]
h1 ansible_host=10.0.0.1 ansible_user=admin
h2 items="[1, 2]"
[etcd:vars]
port=2379
[workers]
w[01:03]
[k8s:children]
etcd
workers
[k8s:vars]
port=1
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_yaml_groups_children_ranges_and_precedence(tmp_path: Path) -> None:
    inv = load_inventory(_write(tmp_path, "hosts.yml", YAML_INV))
    assert list(inv.hosts) == ["h1", "h2", "h3", "w1", "w2"]
    assert inv.members("k8s") == ["h2", "h3", "w1", "w2"]
    assert inv.host_vars("h1")["level"] == "host"  # host beats groups
    assert inv.host_vars("h2")["level"] == "etcd"  # child group beats parent beats all
    assert inv.host_vars("w1")["level"] == "k8s"
    assert inv.host_vars("h1")["only_all"] == 1
    assert inv.members("ungrouped") == ["h1"]


def test_ini_literals_vars_sections_and_children(tmp_path: Path) -> None:
    inv = load_inventory(_write(tmp_path, "hosts", INI_INV))
    assert inv.host_vars("h0") == {"ansible_port": 2222, "flag": True}
    assert inv.host_vars("h2")["items"] == [1, 2]  # inline values are Python literals
    assert inv.host_vars("h1")["port"] == "2379"  # [group:vars] values stay strings
    assert inv.host_vars("w02")["port"] == "1"
    assert inv.members("k8s") == ["h1", "h2", "w01", "w02", "w03"]
    assert inv.groups_of("h1") == ["all", "k8s", "etcd"]


def test_group_vars_and_host_vars_directories_override_inventory_file(tmp_path: Path) -> None:
    _write(tmp_path, "inv/hosts.yml", YAML_INV)
    _write(tmp_path, "inv/group_vars/all.yml", "level: gv_all\nfrom_all: yes\n")
    _write(tmp_path, "inv/group_vars/etcd/main.yml", "level: gv_etcd\n")
    _write(tmp_path, "inv/host_vars/h1.yaml", "level: hv_h1\n")
    inv = load_inventory(tmp_path / "inv")
    assert inv.host_vars("h1")["level"] == "hv_h1"
    assert inv.host_vars("h2")["level"] == "gv_etcd"
    # group_vars/all beats the inventory file's vars for any group (Ansible's order)
    assert inv.host_vars("w1")["level"] == "gv_all"
    assert inv.host_vars("w1")["from_all"] is True


def test_directory_with_ini_files(tmp_path: Path) -> None:
    _write(tmp_path, "inv/a.ini", "[web]\nweb1\n")
    _write(tmp_path, "inv/b.ini", "[db]\ndb1\n")
    inv = load_inventory(tmp_path / "inv")
    assert list(inv.hosts) == ["web1", "db1"]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("all", ["h1", "h2", "h3", "w1", "w2"]),
        ("etcd", ["h2", "h3"]),
        ("h1", ["h1"]),
        ("h1:w2", ["h1", "w2"]),
        ("h1,etcd", ["h1", "h2", "h3"]),
        ("k8s:!h3", ["h2", "w1", "w2"]),
        ("k8s:&etcd", ["h2", "h3"]),
        ("!etcd:k8s", ["w1", "w2"]),
        ("w*", ["w1", "w2"]),
        ("~h[12]", ["h1", "h2"]),
    ],
)
def test_patterns(tmp_path: Path, pattern: str, expected: list[str]) -> None:
    inv = load_inventory(_write(tmp_path, "hosts.yml", YAML_INV))
    assert select_hosts(inv, pattern) == expected


def test_strict_pattern_names_the_unknown_term(tmp_path: Path) -> None:
    inv = load_inventory(_write(tmp_path, "hosts.yml", YAML_INV))
    with pytest.raises(InventoryError, match="'nope'"):
        select_hosts(inv, "etcd:nope", strict=True)


def test_bad_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "hosts.yml", "all:\n  hosts:\n    h1: {a: 1\n  vars: x\n")
    with pytest.raises(YamlError) as err:
        load_inventory(path)
    assert f"{path}:" in str(err.value)
    assert err.value.line >= 3


def test_bad_ini_section_names_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "hosts", "[web\nh1\n")
    with pytest.raises(InventoryError, match=r"hosts:1: bad section header"):
        load_inventory(path)
