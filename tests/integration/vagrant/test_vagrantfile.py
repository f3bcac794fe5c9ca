"""The Vagrant lab: `vagrant validate` accepts vagrant/Vagrantfile (libvirt provider config
included), rejects a broken copy, and the VMs' IPs match inventories/vagrant."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
VAGRANTFILE = REPO / "vagrant" / "Vagrantfile"

pytestmark = pytest.mark.skipif(shutil.which("vagrant") is None, reason="vagrant not installed")


def _validate(directory: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, VAGRANT_DEFAULT_PROVIDER="libvirt", VAGRANT_CHECKPOINT_DISABLE="1",
               VAGRANT_HOME=str(directory / ".vagrant.d"))
    return subprocess.run(["vagrant", "validate"], cwd=directory, env=env, capture_output=True,
                          text=True, timeout=120)


def test_vagrantfile_validates(tmp_path: Path) -> None:
    shutil.copy(VAGRANTFILE, tmp_path / "Vagrantfile")
    result = _validate(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "validated successfully" in result.stdout


def test_broken_vagrantfile_is_rejected(tmp_path: Path) -> None:
    text = VAGRANTFILE.read_text().replace("config.vm.box =", "config.vm.boxx =")
    (tmp_path / "Vagrantfile").write_text(text)
    result = _validate(tmp_path)
    assert result.returncode != 0


def test_inventory_matches_vagrant_ips() -> None:
    vm_ips = dict(re.findall(r'"(h\d)" => \{ ip: "([\d.]+)"', VAGRANTFILE.read_text()))
    inventory = yaml.safe_load((REPO / "inventories" / "vagrant" / "hosts.yml").read_text())
    hosts: dict[str, str] = {}
    for group in inventory["all"]["children"].values():
        for name, hvars in (group.get("hosts") or {}).items():
            if hvars and "ansible_host" in hvars:
                hosts[name] = hvars["ansible_host"]
    assert vm_ips == hosts
    groups = inventory["all"]["children"]
    assert set(groups["etcd"]["hosts"]) == set(groups["control_plane"]["hosts"]) == {"h1", "h2", "h3"}
    assert set(groups["workers"]["hosts"]) == {"h4", "h5"}
