"""Acceptance of `kprov lab`: real hosts (systemd, sshd, containerd) on this machine.

The tests run in file order on the session's lab instance (KPROV_TEST_LAB, default 9):
from a wiped instance up, through power and reboot, to a wipe that must leave nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from kprov.images import build_archive, busybox_image
from kprov.lab import Lab, LabError
from kprov.lab.cgroups import find_host_cgroups
from kprov.lab.network import lab_links, lab_netns
from kprov.lab.remote import upload
from kprov.lab.system import mount_points

pytestmark = pytest.mark.lab
HOSTS = ["h1", "h2", "h3"]


def _kprov(lab: Lab, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KPROV_LAB": str(lab.index)}
    return subprocess.run([sys.executable, "-m", "kprov.cli.main", "lab", *args], env=env,
                          capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)


def _ok(lab: Lab, host: str, command: str) -> str:
    rc, out, err = lab.ssh(host, command)
    assert rc == 0, f"{host}: `{command}` failed ({rc}): {err}"
    return out.strip()


def _identity(lab: Lab) -> dict[str, tuple[str, int | None, int | None]]:
    by_name = {s.name: s for s in lab.status()}
    return {h: (_ok(lab, h, "cat /proc/sys/kernel/random/boot_id"), by_name[h].supervisor_pid,
                by_name[h].leader_pid) for h in HOSTS}


def test_up_from_a_clean_instance_gives_running_hosts_that_know_each_other(lab: Lab) -> None:
    lab.wipe()
    result = _kprov(lab, "up", "--hosts", "3")
    assert result.returncode == 0, result.stdout + result.stderr
    for host in HOSTS:
        assert _ok(lab, host, "systemctl is-system-running") == "running"
        assert _ok(lab, host, "hostname") == host
        sources = _ok(lab, host, "cat /etc/apt/sources.list")
        assert sources == f"deb [trusted=yes] http://10.77.{lab.index}.1:8000 ./"
        for other in HOSTS:
            _ok(lab, host, f"ping -c1 -W2 {other}")
    machine_ids = {_ok(lab, h, "cat /etc/machine-id") for h in HOSTS}
    host_keys = {_ok(lab, h, "cat /etc/ssh/ssh_host_ed25519_key.pub | cut -d' ' -f2") for h in HOSTS}
    assert len(machine_ids) == len(host_keys) == 3
    status = _kprov(lab, "status")
    assert status.returncode == 0
    for host in HOSTS:
        lines = status.stdout.splitlines()
        assert any(host in line and lab.ip(host) in line and "running" in line for line in lines)


def test_second_up_changes_nothing(lab: Lab) -> None:
    before = _identity(lab)
    assert lab.up(3) == []
    assert _identity(lab) == before


def test_a_container_runs_inside_a_host(lab_hosts: Callable[[int], Lab], tmp_path: Path) -> None:
    lab = lab_hosts(3)
    _ok(lab, "h1", "DEBIAN_FRONTEND=noninteractive apt-get install -y -q containerd runc")
    assert _ok(lab, "h1", "systemctl is-active containerd") == "active"
    image = tmp_path / "busybox-oci.tar"
    build_archive(busybox_image("docker.io/kprov-test/busybox:1"), image)
    upload(lab.ip("h1"), lab.key_path, image, "/root/busybox-oci.tar")
    _ok(lab, "h1", "ctr image import /root/busybox-oci.tar")
    run = "ctr run --rm docker.io/kprov-test/busybox:1 e2e-c1 /bin/sh -c 'echo $((6*7)) $(id -u)'"
    out = _ok(lab, "h1", run)
    assert out.splitlines()[-1] == "42 0"


def test_stop_makes_a_host_unreachable_and_start_brings_it_back(lab_hosts: Callable[[int], Lab]) -> None:
    lab = lab_hosts(3)
    assert _kprov(lab, "stop", "h2").returncode == 0
    assert {s.name: s.state for s in lab.status()}["h2"] == "stopped"
    rc, _, _ = lab.ssh("h1", "ping -c1 -W1 h2")
    assert rc != 0
    assert _kprov(lab, "start", "h2").returncode == 0
    assert _ok(lab, "h2", "systemctl is-system-running") == "running"
    _ok(lab, "h1", "ping -c1 -W2 h2")


def test_a_host_attaches_loop_devices_and_they_go_when_it_stops(lab_hosts: Callable[[int], Lab]) -> None:
    """As on a real machine, `losetup -f` works in a host (local block volumes need it); a
    device it attached is detached when it powers off, not left on the machine."""
    lab = lab_hosts(3)
    device = _ok(lab, "h2", "truncate -s 8M /tmp/disk.img && losetup -f --show /tmp/disk.img")
    assert device.startswith("/dev/loop")
    _ok(lab, "h2", f"mkfs -t ext4 -q {device} && mkdir -p /mnt/d && mount {device} /mnt/d && umount /mnt/d")
    attached = subprocess.run(["losetup", "--noheadings", "--output", "BACK-FILE", device],
                              capture_output=True, text=True, check=False).stdout
    assert "disk.img" in attached
    assert _kprov(lab, "stop", "h2").returncode == 0
    left = subprocess.run(["losetup", "--noheadings", "--output", "BACK-FILE", device],
                          capture_output=True, text=True, check=False).stdout
    assert "disk.img" not in left
    assert _kprov(lab, "start", "h2").returncode == 0


def test_a_host_survives_reboot_from_inside(lab_hosts: Callable[[int], Lab]) -> None:
    lab = lab_hosts(3)
    boot_id = _ok(lab, "h3", "cat /proc/sys/kernel/random/boot_id")
    lab.ssh("h3", "systemd-run --on-active=1 systemctl reboot")
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        time.sleep(1)
        try:
            rc, out, _ = lab.ssh("h3", "cat /proc/sys/kernel/random/boot_id", timeout=5)
        except LabError:  # down while rebooting
            continue
        if rc == 0 and out.strip() != boot_id:
            break
    else:
        pytest.fail("h3 did not come back with a new boot id after reboot")
    lab.wait_running(["h3"], timeout=60)
    assert _ok(lab, "h3", "hostname") == "h3"


def test_inventory_works_with_ansible_and_its_apt_module(
    lab_hosts: Callable[[int], Lab], tmp_path: Path
) -> None:
    lab = lab_hosts(3)
    inventory = tmp_path / "hosts.yml"
    assert _kprov(lab, "inventory", "--hosts", "3", "--out", str(inventory)).returncode == 0
    ansible = Path(sys.executable).with_name("ansible")
    env = {**os.environ, "ANSIBLE_HOST_KEY_CHECKING": "False", "ANSIBLE_STDOUT_CALLBACK": "minimal"}
    result = subprocess.run([str(ansible), "-i", str(inventory), "control_plane[2]", "-m", "apt",
                             "-a", "name=conntrack state=present"], capture_output=True, text=True, env=env,
                            timeout=300, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout + result.stderr
    assert _ok(lab, "h3", "dpkg-query -W -f='${Status}' conntrack") == "install ok installed"


def test_wipe_leaves_nothing_behind(lab_hosts: Callable[[int], Lab]) -> None:
    lab = lab_hosts(3)
    layout = lab.layout
    assert lab_netns(layout) and lab_links(layout)
    device = _ok(lab, "h3", "truncate -s 8M /tmp/left.img && losetup -f --show /tmp/left.img")
    assert _kprov(lab, "wipe").returncode == 0
    left = subprocess.run(["losetup", "--noheadings", "--output", "BACK-FILE", device],
                          capture_output=True, text=True, check=False).stdout
    assert "left.img" not in left  # a host's loop device went with it
    assert lab_netns(layout) == []
    assert lab_links(layout) == []
    state = str(layout.state_dir)
    assert [m for m in mount_points() if m.startswith(state)] == []
    assert [g for h in layout.host_names(9) for g in find_host_cgroups(layout.cgroup(h))] == []
    assert not layout.state_dir.exists()
    marker = f"--lab\0{lab.index}\0".encode()
    leftovers = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if b"kprov.lab." in cmdline and (marker in cmdline or f"10.77.{lab.index}.1".encode() in cmdline):
            leftovers.append(cmdline)
    assert leftovers == []
