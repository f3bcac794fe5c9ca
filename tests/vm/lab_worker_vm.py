"""One QEMU VM on a lab instance's bridge: a lab host with a kernel of its own.

The nspawn lab's hosts share this machine's kernel; a spec that needs a kernel feature the
machine lacks (SCTP: this machine's kernel is built without it) needs a host with its own.
This makes one from the kprov box (``kprov vm box``) and plugs it into lab ``n`` as the host
``hN`` would be: same addresses (10.77.n.<10+N>, fd77:77:n::<10+N>), same root key, same
package repository. No libvirt or Vagrant: a tap on the lab bridge (no NAT, nothing routed
out, as VMS.md requires) and QEMU started by hand, so the whole VM is one process and one
link, removed by ``destroy``.

The disk is the box's image made raw, edited before the first boot through a loop mount at
the partition's offset (no udev here): a systemd-networkd file matched on the VM's MAC with
both static addresses, the hostname, the lab's /etc/hosts and apt source, the lab key for
root. The node packages (``kprov bundle``'s deb cache the VM stage fills) are unpacked with
dpkg in a chroot there too, since dpkg under software emulation takes minutes; the roles
find them installed (and the lab repository's index for the rest). The kernel is booted
directly (-kernel/-initrd from the box's rootfs), which skips SeaBIOS and extlinux under TCG.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from kprov.bundle.aptrepo import apt_source_line
from kprov.lab.layout import LabLayout
from kprov.vm.box import build_box
from kprov.vm.image import PARTITION_OFFSET
from kprov.vm.recipe import ROOT_LABEL, BoxRecipe

DEB_CACHE = Path("/var/cache/kprov/vm/debs")
LAB_KEY = Path("/var/lib/kprov/lab/id_lab")
VM_HOSTS_NAMED = 20  # the VM's /etc/hosts names h1..h20 (a lab host's names all 99)


def _run(argv: list[str], timeout: float = 600) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:4])} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return proc.stdout


@dataclass
class LabWorkerVM:
    """The VM ``host`` of lab ``lab``; its files live in ``workdir``."""

    lab: int
    host: str
    workdir: Path
    memory_mib: int = 2048
    cpus: int = 2

    @property
    def layout(self) -> LabLayout:
        return LabLayout(self.lab)

    @property
    def ip(self) -> str:
        return self.layout.ip(self.host)

    @property
    def ip6(self) -> str:
        return self.layout.ip6(self.host)

    @property
    def tap(self) -> str:
        return f"kp{self.lab}vm{self.host}"[:15]

    @property
    def mac(self) -> str:
        number = int(self.host[1:])
        return f"52:54:00:77:{self.lab:02x}:{number:02x}"

    @property
    def disk(self) -> Path:
        return self.workdir / "disk.raw"

    @property
    def pidfile(self) -> Path:
        return self.workdir / "qemu.pid"

    @property
    def console_log(self) -> Path:
        return self.workdir / "console.log"

    def prepare(self, recipe: BoxRecipe | None = None) -> None:
        """The VM's disk: the box's image, raw, with the lab host's files and node packages."""
        recipe = recipe or BoxRecipe()
        self.workdir.mkdir(parents=True, exist_ok=True)
        box = build_box(recipe).path
        with tarfile.open(box) as tar:
            member = tar.getmember("box.img")
            tar.extractall(self.workdir, members=[member], filter="data")
        _run(["qemu-img", "convert", "-O", "raw", str(self.workdir / "box.img"), str(self.disk)], 1800)
        (self.workdir / "box.img").unlink()
        boot = recipe.rootfs_dir() / "boot"
        kernel = sorted(boot.glob("vmlinuz-*"))[-1]
        initrd = sorted(boot.glob("initrd.img-*"))[-1]
        shutil.copy(kernel, self.workdir / "vmlinuz")
        shutil.copy(initrd, self.workdir / "initrd.img")
        mnt = self.workdir / "mnt"
        mnt.mkdir(exist_ok=True)
        _run(["mount", "-o", f"loop,offset={PARTITION_OFFSET}", str(self.disk), str(mnt)])
        try:
            if not os.path.ismount(mnt):
                raise RuntimeError(f"{mnt} is not a mount point")
            self._write_guest_files(mnt)
            self._install_debs(mnt)
        finally:
            _run(["umount", str(mnt)])

    def _write_guest_files(self, root: Path) -> None:
        layout = self.layout
        files = {
            "etc/hostname": f"{self.host}\n",
            "etc/hosts": layout.etc_hosts(VM_HOSTS_NAMED),
            "etc/apt/sources.list": apt_source_line(layout.repo_url),
            # Sorts before the box's DHCP file, so it is the one networkd applies to eth0.
            "etc/systemd/network/10-kprov-lab.network": layout.network_file(
                self.host, f"MACAddress={self.mac}"),
            "root/.ssh/authorized_keys": LAB_KEY.with_suffix(".pub").read_text(),
        }
        for rel, content in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
        (root / "root/.ssh").chmod(0o700)
        (root / "root/.ssh/authorized_keys").chmod(0o600)

    def _install_debs(self, root: Path) -> None:
        debs = sorted(DEB_CACHE.glob("*.deb"))
        if not debs:
            return
        staging = root / "tmp/kprov-debs"
        staging.mkdir(parents=True, exist_ok=True)
        for deb in debs:
            shutil.copy(deb, staging / deb.name)
        # No init system runs in the chroot: maintainer scripts enable units, start none.
        _run(["chroot", str(root), "/bin/sh", "-c",
              "DEBIAN_FRONTEND=noninteractive dpkg -i /tmp/kprov-debs/*.deb"], 1800)
        shutil.rmtree(staging)
        # The lab repository's index, as a lab host has it once up: the roles' apt tasks
        # would refresh an older one themselves (kprov_apt_cache_valid_time), but under
        # software emulation the index is quicker to get here than on the booted VM.
        _run(["chroot", str(root), "apt-get", "update", "-q"], 600)

    def boot(self) -> None:
        """The tap on the lab bridge, then QEMU (TCG: this machine's /dev/kvm runs no stock kernel)."""
        self._del_tap()
        _run(["ip", "tuntap", "add", "dev", self.tap, "mode", "tap"])
        _run(["ip", "link", "set", self.tap, "master", self.layout.bridge, "up"])
        _run([
            "qemu-system-x86_64", "-name", f"kprov-lab{self.lab}-{self.host}",
            "-accel", "tcg,thread=multi,tb-size=256", "-cpu", "max",
            "-m", str(self.memory_mib), "-smp", str(self.cpus), "-nodefaults",
            "-kernel", str(self.workdir / "vmlinuz"), "-initrd", str(self.workdir / "initrd.img"),
            "-append", f"root=LABEL={ROOT_LABEL} ro console=ttyS0,115200 net.ifnames=0 "
                       "biosdevname=0 mitigations=off",
            "-drive", f"file={self.disk},format=raw,if=virtio,cache=unsafe",
            "-netdev", f"tap,id=n0,ifname={self.tap},script=no,downscript=no",
            "-device", f"virtio-net-pci,netdev=n0,mac={self.mac}",
            "-display", "none", "-serial", f"file:{self.console_log}",
            "-daemonize", "-pidfile", str(self.pidfile),
        ])

    def join_inventory(self, lab_inventory: Path, out: Path, extra_vars: dict[str, object]) -> Path:
        """A copy of the lab's inventory (its PKI linked, not copied) with this VM as a worker."""
        out.mkdir(parents=True, exist_ok=True)
        data = yaml.safe_load((lab_inventory / "hosts.yml").read_text())
        data["all"]["hosts"][self.host] = {"ansible_host": self.ip, "kprov_node_ipv6": self.ip6, **extra_vars}
        data["all"]["children"]["workers"]["hosts"][self.host] = None
        (out / "hosts.yml").write_text(yaml.safe_dump(data, sort_keys=False))
        pki = out / "pki"
        if not pki.exists():
            pki.symlink_to(lab_inventory / "pki")
        return out

    def ssh(self, command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ssh", "-i", str(LAB_KEY), "-o", "StrictHostKeyChecking=no",
             "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10", "-o", "BatchMode=yes",
             "-o", "LogLevel=ERROR", f"root@{self.ip}", command],
            capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def wait_ssh(self, timeout: float = 1800) -> float:
        """Seconds until sshd answered as root with the lab key."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            try:
                if self.ssh("true", timeout=60).returncode == 0:
                    return time.monotonic() - start
            except subprocess.TimeoutExpired:
                pass
            time.sleep(5)
        raise TimeoutError(f"{self.host} answered no SSH within {timeout:.0f} s; see {self.console_log}")

    def destroy(self) -> None:
        """QEMU stopped, the tap removed, the disk deleted."""
        if self.pidfile.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(self.pidfile.read_text().strip()), signal.SIGTERM)
            self.pidfile.unlink()
        self._del_tap()
        if self.disk.exists():
            self.disk.unlink()

    def _del_tap(self) -> None:
        subprocess.run(["ip", "link", "del", self.tap], capture_output=True, check=False)
