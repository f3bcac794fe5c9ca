"""Inventory: YAML and INI parsing, children, variable precedence, directories, host patterns."""

from __future__ import annotations

from pathlib import Path

import pytest

from kprov.provision.errors import FileTooLarge, InventoryError, YamlError
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


def _bomb(levels: int) -> str:
    lines = ["all:", "  vars:", "    a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"    a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, levels)]
    return "\n".join([*lines, "  hosts:", "    h1:", ""])


def test_a_yaml_alias_bomb_is_refused_at_the_line_where_it_passes_the_bound(tmp_path: Path) -> None:
    path = _write(tmp_path, "hosts.yml", _bomb(12))  # 9**12 values once expanded
    with pytest.raises(YamlError, match="aliases expand to more than 5,000,000 values") as err:
        load_inventory(path)
    # a6 (line 9) is the first to pass: 1 + 9 * 597,871 = 5,380,840 values
    assert (err.value.path, err.value.line) == (str(path), 9)
    assert load_inventory(_write(tmp_path, "small.yml", _bomb(4))).group("all").vars["a3"][0][0][0][0] == "x"


def test_an_anchor_aliased_inside_itself_is_refused_with_its_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "hosts.yml", "all:\n  vars:\n    loop: &l {again: [*l]}\n  hosts:\n    h1:\n")
    with pytest.raises(YamlError, match="aliased inside its own value") as err:
        load_inventory(path)
    assert err.value.line == 3


def test_a_huge_file_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "hosts.yml"
    with path.open("wb") as out:
        out.truncate(64 * 1024 * 1024 + 1)  # sparse: nothing is written, the size is what counts
    with pytest.raises(FileTooLarge, match="hosts.yml: 67,108,865 bytes is more than the 67,108,864") as err:
        load_inventory(path)
    assert err.value.path == str(path)
    (tmp_path / "group_vars").mkdir()
    path.rename(tmp_path / "group_vars" / "all.yml")
    _write(tmp_path, "hosts.yml", "all:\n  hosts:\n    h1:\n")
    with pytest.raises(FileTooLarge, match="all.yml: 67,108,865 bytes"):
        load_inventory(tmp_path / "hosts.yml")


def test_bad_ini_section_names_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "hosts", "[web\nh1\n")
    with pytest.raises(InventoryError, match=r"hosts:1: bad section header"):
        load_inventory(path)
