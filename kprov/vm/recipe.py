"""What a kprov Vagrant box is made of, as data: packages, guest files, metadata, cache names.

A box is built in two stages, each cached under its own digest so a change rebuilds only
what it touches:

- the *rootfs*: ``mmdebstrap --variant=minbase`` of Debian 12 with ROOTFS_PACKAGES, as the
  lab's base is made (kprov.lab.base; the slow stage, minutes on a busy 2-core machine). Its
  digest covers the builder, the suite, the variant and the package list — not the mirror,
  which serves the same packages;
- the *box*: the rootfs plus the guest files below (vagrant user and Vagrant's insecure key,
  networkd DHCP, an empty machine-id, sshd host keys made on first boot, fstab, extlinux),
  made into an ext4 disk, a compressed qcow2 and the libvirt box tar. Its digest covers the
  rootfs digest, every guest file and the disk layout, so editing any of them here changes
  the box's file name and the next ``kprov vm box`` rebuilds it.

Nothing here touches the machine: kprov.vm.box does the building from this description.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from kprov.lab.base import rootfs_argv

__all__ = [
    "BOX_NAME",
    "CACHE_DIR",
    "ROOTFS_PACKAGES",
    "VAGRANT_INSECURE_PUBKEY",
    "BoxRecipe",
    "GuestFile",
]

CACHE_DIR = Path("/var/cache/kprov/vm")
ROOTFS_BUILDER = "mmdebstrap"  # in the rootfs digest: another builder makes another rootfs
# The name `vagrant box add` registers the box under (the Vagrantfile's libvirt box).
BOX_NAME = "kprov/debian12"
ROOTFS_PACKAGES: tuple[str, ...] = (
    "systemd", "systemd-sysv", "dbus", "udev", "kmod", "openssh-server", "iproute2", "python3",
    "linux-image-amd64", "initramfs-tools", "e2fsprogs", "sudo", "procps", "ca-certificates",
    "iptables", "conntrack",
)
# Vagrant's well-known insecure key (it ships it as keys/vagrant.pub): the first `vagrant up`
# logs in with it and replaces it with a key of the machine's own (config.ssh.insert_key).
VAGRANT_INSECURE_PUBKEY = (
    "ssh-rsa AAAAB3NzaC1yc2EAAAABIwAAAQEA6NF8iallvQVp22WDkTkyrtvp9eWW6A8YVr+kz4TjGYe7gHzIw+niNltGEF"
    "HzD8+v1I2YJ6oXevct1YeS0o9HZyN1Q9qgCgzUFtdOKLv6IedplqoPkcmF0aYet2PkEDo3MlTBckFXPITAMzF8dJSIFo9D8"
    "HfdOV0IAdx4O7PtixWKn5y2hMNG0zQPyUecp4pzC6kivAIhyfHilFR61RGL+GPXQ2MWZWFYbAGjyiYJnAmCP3NOTd0jMZEnD"
    "kbUvxhMmBYSdETk1rRgm+R4LOzFUGaHqHDLKLX+FIPKcF96hrucXzcWyLbIbEgE98OHlnVYCzRdK8jlqm8tehUc9c9WhQ=="
    " vagrant insecure public key"
)
ROOT_LABEL = "kprov-root"
# Units that cost boot time under software emulation and do nothing a test VM needs.
MASKED_UNITS: tuple[str, ...] = (
    "apt-daily.timer", "apt-daily-upgrade.timer", "e2scrub_all.timer", "e2scrub_reap.service",
    "fstrim.timer", "systemd-pstore.service", "getty@tty1.service",
)
ENABLED_UNITS: tuple[str, ...] = ("systemd-networkd.service", "ssh.service")


@dataclass(frozen=True)
class GuestFile:
    """A file written into the guest tree (path absolute inside the guest)."""

    path: str
    content: str
    mode: int = 0o644
    owner: str = "root"


def _digest(parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class BoxRecipe:
    """Everything that decides a box's bytes (and so its cache names)."""

    suite: str = "bookworm"
    variant: str = "minbase"
    packages: tuple[str, ...] = ROOTFS_PACKAGES
    disk_gib: int = 16
    # Kernel command line: serial console (libvirt gives every domain one), classic ethN
    # names (Vagrant numbers interfaces in PCI order either way), no CPU-bug mitigations
    # (each costs time under software emulation, and these VMs are test machines).
    kernel_args: str = "console=ttyS0,115200 net.ifnames=0 biosdevname=0 mitigations=off quiet"
    hostname: str = "kprov-box"
    vagrant_pubkey: str = VAGRANT_INSECURE_PUBKEY
    masked_units: tuple[str, ...] = MASKED_UNITS
    enabled_units: tuple[str, ...] = ENABLED_UNITS
    version: int = 1
    extra_files: tuple[GuestFile, ...] = field(default=())

    # -- cache names --------------------------------------------------------------------
    def rootfs_digest(self) -> str:
        return _digest({"builder": ROOTFS_BUILDER, "suite": self.suite, "variant": self.variant,
                        "packages": sorted(self.packages)})

    def box_digest(self) -> str:
        files = [(f.path, f.content, f.mode, f.owner) for f in self.guest_files("KERNEL", "INITRD")]
        return _digest({
            "rootfs": self.rootfs_digest(), "disk_gib": self.disk_gib, "files": files,
            "masked": sorted(self.masked_units), "enabled": sorted(self.enabled_units),
            "version": self.version, "metadata": self.metadata(),
            "vagrantfile": self.box_vagrantfile(),
        })

    def rootfs_dir(self, cache: Path = CACHE_DIR) -> Path:
        return cache / f"rootfs-{self.suite}-{self.rootfs_digest()[:16]}"

    def box_path(self, cache: Path = CACHE_DIR) -> Path:
        return cache / f"kprov-debian12-{self.box_digest()[:16]}.box"

    # -- what goes into the box ---------------------------------------------------------
    def rootfs_argv(self, target: Path, mirror: str) -> list[str]:
        return rootfs_argv(self.suite, self.variant, self.packages, target, mirror)

    def metadata(self) -> dict[str, object]:
        """The box's metadata.json for vagrant-libvirt (virtual_size in GiB)."""
        return {"provider": "libvirt", "format": "qcow2", "virtual_size": self.disk_gib}

    def box_info(self) -> dict[str, object]:
        """kprov-box.json inside the box: which recipe made it (read back by `kprov vm box`)."""
        return {"name": BOX_NAME, "digest": self.box_digest(), "suite": self.suite,
                "packages": sorted(self.packages)}

    def box_vagrantfile(self) -> str:
        """The Vagrantfile shipped inside the box: defaults any project Vagrantfile overrides."""
        return (
            "# Defaults of the kprov Debian 12 box (built by `kprov vm box`).\n"
            "Vagrant.configure(\"2\") do |config|\n"
            "  config.vm.synced_folder \".\", \"/vagrant\", disabled: true\n"
            "  config.vm.provider :libvirt do |lv|\n"
            "    lv.disk_bus = \"virtio\"\n"
            "    lv.nic_model_type = \"virtio\"\n"
            "  end\n"
            "end\n"
        )

    def guest_files(self, kernel: str, initrd: str) -> list[GuestFile]:
        """The files the box adds to the rootfs; ``kernel``/``initrd`` are /boot file names."""
        files = [
            GuestFile("/etc/hostname", f"{self.hostname}\n"),
            GuestFile("/etc/hosts", f"127.0.0.1\tlocalhost\n127.0.1.1\t{self.hostname}\n"
                                    "::1\tlocalhost ip6-localhost ip6-loopback\n"),
            # Empty: systemd makes a fresh one on each clone's first boot; a shared id would
            # give every VM the same DHCP client identity (and address).
            GuestFile("/etc/machine-id", ""),
            GuestFile("/etc/fstab", f"LABEL={ROOT_LABEL}\t/\text4\terrors=remount-ro\t0\t1\n"),
            GuestFile("/etc/resolv.conf", "# no DNS: these VMs have no route out\n"),
            GuestFile("/boot/extlinux/extlinux.conf",
                      "DEFAULT linux\nTIMEOUT 0\nPROMPT 0\nLABEL linux\n"
                      f"  LINUX /boot/{kernel}\n  INITRD /boot/{initrd}\n"
                      f"  APPEND root=LABEL={ROOT_LABEL} ro {self.kernel_args}\n"),
            # Every Ethernet interface asks DHCP, identified by its MAC (not by machine-id),
            # so a libvirt network's MAC-matched host entries give fixed addresses. Vagrant's
            # static private-network files (50-vagrant-ethN.network) sort first and win.
            GuestFile("/etc/systemd/network/80-kprov-dhcp.network",
                      "[Match]\nName=eth* en*\n\n[Network]\nDHCP=ipv4\nLinkLocalAddressing=no\n"
                      "IPv6AcceptRA=no\n\n[DHCPv4]\nClientIdentifier=mac\n"),
            # Host keys are removed from the image; each VM makes its own before sshd starts.
            # Debian's unit checks the config first (sshd -t fails without host keys), so the
            # list is reset and the key step put before that check. Only ECDSA and Ed25519:
            # an RSA key takes minutes to generate under software emulation.
            GuestFile("/etc/systemd/system/ssh.service.d/kprov-hostkeys.conf",
                      "[Service]\nExecStartPre=\n" + "".join(
                          f"ExecStartPre=/bin/sh -c '[ -f /etc/ssh/ssh_host_{kind}_key ] || "
                          f"ssh-keygen -q -t {kind} -N \"\" -f /etc/ssh/ssh_host_{kind}_key'\n"
                          for kind in ("ecdsa", "ed25519"))
                      + "ExecStartPre=/usr/sbin/sshd -t\n"),
            GuestFile("/etc/ssh/sshd_config.d/kprov.conf",
                      "UseDNS no\nPermitRootLogin prohibit-password\n"
                      "HostKey /etc/ssh/ssh_host_ecdsa_key\nHostKey /etc/ssh/ssh_host_ed25519_key\n"),
            GuestFile("/etc/sudoers.d/vagrant",
                      "vagrant ALL=(ALL) NOPASSWD:ALL\nDefaults:vagrant !requiretty\n", mode=0o440),
            GuestFile("/home/vagrant/.ssh/authorized_keys", self.vagrant_pubkey + "\n", mode=0o600,
                      owner="vagrant"),
        ]
        return files + list(self.extra_files)
