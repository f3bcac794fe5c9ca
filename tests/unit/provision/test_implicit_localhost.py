"""Ansible's implicit localhost and host-list inventory source (``-i host1,host2``), which
ansible-core's runme.sh scripts rely on (round 6b)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kprov.provision.inventory.loader import load_inventory
from kprov.provision.inventory.patterns import select_hosts

from .harness import run_fake


def test_a_host_list_source_makes_ungrouped_hosts() -> None:
    inv = load_inventory("host1,host2")
    assert list(inv.hosts) == ["host1", "host2"] and inv.members("ungrouped") == ["host1", "host2"]


def test_the_implicit_localhost_matches_by_name_only(tmp_path: Path) -> None:
    (tmp_path / "hosts").write_text("web\n")
    inv = load_inventory(tmp_path / "hosts")
    inv.add_implicit_localhost("/usr/bin/python3")
    assert select_hosts(inv, "localhost") == ["localhost"]
    assert select_hosts(inv, "all") == ["web"] and select_hosts(inv, "*") == ["web"]
    assert select_hosts(inv, "local*") == [] and inv.members("all") == ["web"]
    assert inv.host_vars("localhost")["ansible_connection"] == "local"


def test_a_play_on_localhost_runs_without_it_in_the_inventory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kprov.provision.execute import RunOptions
    from kprov.provision.pipelines import apply

    monkeypatch.setenv("KPROV_LOG_DIR", str(tmp_path / "logs"))
    (tmp_path / "hosts").write_text("")
    (tmp_path / "site.yml").write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - set_fact: {seen: \"{{ groups['all'] }}\"}\n")
    report = apply([str(tmp_path / "hosts")], tmp_path / "site.yml", RunOptions())
    assert report.ok and report.hosts == ["localhost"]
    assert [(r.host, r.status) for r in report.results] == [("localhost", "ok")]


def test_an_inventory_host_named_localhost_stays_the_inventorys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {"site.yml": "- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: {msg: hi}\n"}
    report, _ = run_fake(tmp_path, monkeypatch, files, ["localhost", "h1"])
    assert sorted(report.hosts) == ["h1", "localhost"]
