"""Drive vagrant/Vagrantfile for tests and benchmarks: up, SSH, inventory, destroy, purge.

Everything of one run lives in a work directory (Vagrant's dotfile directory, an SSH key
pair of its own whose public half the Vagrantfile installs for root), so runs never share
state through ~/.vagrant or the repository. The inventory it writes has the nspawn lab's
shape (etcd/control_plane = first three hosts, workers = the rest, root over SSH, host-key
checking off because every `vagrant up` makes new host keys). ``purge`` removes whatever a
failed run left in libvirt under kprov's names (domains kprov-*, networks kprov-*, their
volumes and the box's base volume), so a shared CI machine starts clean.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import yaml

from kprov.lab.errors import LabError
from kprov.vm.libvirt import leftovers, virsh

__all__ = ["BOX_VOLUME_PREFIX", "VagrantLab", "purge"]

BOX_VOLUME_PREFIX = "kprov-VAGRANTSLASH-"
PRIVATE_NET = "192.168.77"
CONTROL_PLANE_SIZE = 3


class VagrantLab:
    """h1..hN of vagrant/Vagrantfile, run from ``workdir``."""

    def __init__(self, vagrant_dir: Path, workdir: Path, count: int) -> None:
        self.vagrant_dir = vagrant_dir
        self.workdir = workdir
        self.count = count
        self.key = workdir / "id_ed25519"

    @property
    def hosts(self) -> list[str]:
        return [f"h{i}" for i in range(1, self.count + 1)]

    def ip(self, host: str) -> str:
        return f"{PRIVATE_NET}.{10 + int(host[1:])}"

    def env(self) -> dict[str, str]:
        return dict(os.environ, VAGRANT_CWD=str(self.vagrant_dir),
                    VAGRANT_DOTFILE_PATH=str(self.workdir / ".vagrant"), KPROV_VMS=str(self.count),
                    KPROV_SSH_PUBKEY=str(self.key) + ".pub", VAGRANT_CHECKPOINT_DISABLE="1",
                    VAGRANT_DEFAULT_PROVIDER="libvirt", VAGRANT_NO_COLOR="1")

    def vagrant(self, *args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(["vagrant", *args], env=self.env(), capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL, cwd=self.workdir)
        if proc.returncode != 0:
            raise LabError(f"vagrant {' '.join(args)} failed (exit {proc.returncode}):\n"
                           f"{proc.stdout[-3000:]}{proc.stderr[-2000:]}")
        return proc

    def up(self, timeout: float = 1800) -> float:
        """``vagrant up`` of every host, one after another; the seconds it took.

        Not in parallel (vagrant-libvirt's default): three domains started at once under a
        libvirtd that runs without systemd hung at "Starting domain." for 6 minutes, none of
        them running, until vagrant was interrupted (2026-11-24, bench_vagrant)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.key.exists():
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.key)], check=True,
                           capture_output=True)
        start = time.monotonic()
        self.vagrant("up", "--provider=libvirt", "--no-parallel", timeout=timeout)
        return time.monotonic() - start

    def destroy(self, timeout: float = 600) -> None:
        self.vagrant("destroy", "--force", timeout=timeout)

    def ssh(self, host: str, command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ssh", "-i", str(self.key), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
             "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR",
             f"root@{self.ip(host)}", command],
            capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def inventory_data(self, extra_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        control, workers = self.hosts[:CONTROL_PLANE_SIZE], self.hosts[CONTROL_PLANE_SIZE:]
        return {"all": {
            "vars": {
                "ansible_user": "root",
                "ansible_python_interpreter": "/usr/bin/python3",
                "ansible_ssh_private_key_file": str(self.key),
                "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
                "kprov_host_key_checking": False,
                **(extra_vars or {}),
            },
            "hosts": {h: {"ansible_host": self.ip(h)} for h in self.hosts},
            "children": {
                "etcd": {"hosts": {h: None for h in control}},
                "control_plane": {"hosts": {h: None for h in control}},
                "workers": {"hosts": {h: None for h in workers}},
            },
        }}

    def write_inventory(self, path: Path, extra_vars: dict[str, Any] | None = None) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(self.inventory_data(extra_vars), sort_keys=False))
        return path


def purge(prefix: str = "kprov-") -> None:
    """Remove libvirt domains, networks and volumes named ``prefix``* (and the box volume)."""
    found = leftovers(prefix, volume_prefixes=(BOX_VOLUME_PREFIX,))
    for domain in found.domains:
        virsh("destroy", domain, check=False)
        virsh("undefine", domain, "--remove-all-storage", "--nvram", check=False)
    for network in found.networks:
        virsh("net-destroy", network, check=False)
        virsh("net-undefine", network, check=False)
    for volume in leftovers(prefix, volume_prefixes=(BOX_VOLUME_PREFIX,)).volumes:
        virsh("vol-delete", "--pool", "default", volume, check=False)
