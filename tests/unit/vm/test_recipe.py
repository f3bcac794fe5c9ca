"""The box recipe: cache names follow the recipe, guest files say what the box promises."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from kprov.vm.recipe import BOX_NAME, ROOTFS_PACKAGES, VAGRANT_INSECURE_PUBKEY, BoxRecipe, GuestFile

VAGRANT_KEY = Path("/usr/share/rubygems-integration/all/gems/vagrant-2.3.4/keys/vagrant.pub")


def _files(recipe: BoxRecipe) -> dict[str, GuestFile]:
    return {f.path: f for f in recipe.guest_files("vmlinuz-6.1.0-1-amd64", "initrd.img-6.1.0-1-amd64")}


def test_digests_are_stable_and_named_in_the_cache_paths(tmp_path: Path) -> None:
    a, b = BoxRecipe(), BoxRecipe()
    assert a.box_digest() == b.box_digest()
    assert a.box_path(tmp_path) == tmp_path / f"kprov-debian12-{a.box_digest()[:16]}.box"
    assert a.rootfs_dir(tmp_path).name == f"rootfs-bookworm-{a.rootfs_digest()[:16]}"


def test_a_guest_file_change_rebuilds_the_box_but_not_the_rootfs() -> None:
    base = BoxRecipe()
    changed = replace(base, kernel_args=base.kernel_args + " debug")
    assert changed.rootfs_digest() == base.rootfs_digest()
    assert changed.box_digest() != base.box_digest()
    extra = replace(base, extra_files=(GuestFile("/etc/motd", "hi\n"),))
    assert extra.box_digest() != base.box_digest()


def test_a_package_change_rebuilds_both_and_order_does_not_matter() -> None:
    base = BoxRecipe()
    more = replace(base, packages=(*base.packages, "curl"))
    assert more.rootfs_digest() != base.rootfs_digest()
    assert more.box_digest() != base.box_digest()
    shuffled = replace(base, packages=tuple(reversed(base.packages)))
    assert shuffled.rootfs_digest() == base.rootfs_digest()


def test_rootfs_has_what_a_vagrant_libvirt_node_needs() -> None:
    for package in ("linux-image-amd64", "systemd-sysv", "openssh-server", "python3", "sudo", "kmod"):
        assert package in ROOTFS_PACKAGES
    argv = BoxRecipe().rootfs_argv(Path("/t"), "http://mirror/debian")
    assert argv[:2] == ["mmdebstrap", "--variant=minbase"]
    assert argv[-3:] == ["bookworm", "/t", "http://mirror/debian"]
    included = next(a for a in argv if a.startswith("--include=")).removeprefix("--include=")
    assert "linux-image-amd64" in included.split(",")


def test_metadata_is_what_vagrant_libvirt_reads() -> None:
    recipe = BoxRecipe(disk_gib=12)
    assert recipe.metadata() == {"provider": "libvirt", "format": "qcow2", "virtual_size": 12}
    info = recipe.box_info()
    assert info["name"] == BOX_NAME and info["digest"] == recipe.box_digest()
    json.dumps(info)  # serialisable into kprov-box.json
    assert 'disabled: true' in recipe.box_vagrantfile()


def test_machine_id_is_empty_and_dhcp_is_keyed_on_the_mac() -> None:
    files = _files(BoxRecipe())
    assert files["/etc/machine-id"].content == ""
    network = files["/etc/systemd/network/80-kprov-dhcp.network"].content
    assert "DHCP=ipv4" in network and "ClientIdentifier=mac" in network
    # Vagrant's static private-network files are 50-vagrant-*.network: they must sort first.
    assert "50-vagrant-eth1.network" < "80-kprov-dhcp.network"
    assert "systemd-networkd.service" in BoxRecipe().enabled_units


def test_vagrant_user_gets_the_insecure_key_and_passwordless_sudo() -> None:
    files = _files(BoxRecipe())
    keys = files["/home/vagrant/.ssh/authorized_keys"]
    assert keys.owner == "vagrant" and keys.mode == 0o600
    assert keys.content.strip() == VAGRANT_INSECURE_PUBKEY
    sudoers = files["/etc/sudoers.d/vagrant"]
    assert sudoers.mode == 0o440 and "NOPASSWD:ALL" in sudoers.content
    if VAGRANT_KEY.is_file():  # the key Vagrant itself ships
        assert VAGRANT_KEY.read_text().strip() == VAGRANT_INSECURE_PUBKEY


def test_boot_config_names_the_kernel_the_label_and_the_serial_console() -> None:
    files = _files(BoxRecipe())
    conf = files["/boot/extlinux/extlinux.conf"].content
    assert "LINUX /boot/vmlinuz-6.1.0-1-amd64" in conf
    assert "INITRD /boot/initrd.img-6.1.0-1-amd64" in conf
    assert "root=LABEL=kprov-root" in conf and "console=ttyS0" in conf
    assert files["/etc/fstab"].content.startswith("LABEL=kprov-root\t/\text4")
    dropin = files["/etc/systemd/system/ssh.service.d/kprov-hostkeys.conf"].content.splitlines()
    # the unit's own `sshd -t` fails without host keys: the list is reset, keys come first
    keygen = [i for i, line in enumerate(dropin) if "ssh-keygen" in line]
    assert dropin.index("ExecStartPre=") < min(keygen)
    assert max(keygen) < dropin.index("ExecStartPre=/usr/sbin/sshd -t")
    # no RSA host key (minutes to generate under software emulation)
    assert not any("rsa" in line for line in dropin)
    assert "HostKey /etc/ssh/ssh_host_ed25519_key" in files["/etc/ssh/sshd_config.d/kprov.conf"].content
