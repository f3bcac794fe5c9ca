"""One way to reach a host, on a lab host: an ``ansible_host`` given as a template
(``{{ lab_net }}.{{ lab_octet }}``) works for ``kprov apply``, for a task delegated to another
inventory host (its own session, opened from its own templated variables) and for ``kprov
etcd status`` (issue 72: before, only apply rendered it)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from kprov.lab import Lab

from .helpers import kprov, kprov_apply, wipe_etcd

pytestmark = pytest.mark.lab
PLAYBOOK = Path(__file__).parent / "templated_host.yml"


def _templated_inventory(lab: Lab, path: Path) -> Path:
    lab.write_inventory(path, 1)
    data = yaml.safe_load(path.read_text())
    net, octet = lab.ip("h1").rsplit(".", 1)
    address = "{{ lab_net }}.{{ lab_octet }}"
    data["all"]["vars"]["lab_net"] = net
    data["all"]["hosts"] = {
        "h1": {"lab_octet": int(octet), "ansible_host": address},
        "relay": {"lab_octet": int(octet), "ansible_host": address},  # h1 by another name
    }
    data["all"]["children"]["etcd"]["hosts"] = {"h1": None}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_a_templated_ansible_host_for_apply_delegation_and_etcd_status(
        lab_hosts: Callable[[int], Lab], tmp_path: Path) -> None:
    lab = lab_hosts(1)
    wipe_etcd(lab, ["h1"])
    lab.ssh("h1", "rm -f /root/kprov-delegated")
    inventory = _templated_inventory(lab, tmp_path / "hosts.yml")
    try:
        kprov("pki", "init", "-i", inventory)
        report = kprov_apply(inventory, PLAYBOOK)
        assert report["ok"], report["errors"]
        rc, out, err = lab.ssh("h1", "cat /root/kprov-delegated")
        assert (rc, out) == (0, "delegated from h1\n"), err
        status = kprov("etcd", "status", "-i", inventory).stdout
        assert "h1" in status and status.count("healthy") == 1 and "unhealthy" not in status
    finally:
        wipe_etcd(lab, ["h1"])
