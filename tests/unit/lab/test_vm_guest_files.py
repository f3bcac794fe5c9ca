"""The lab worker VM's guest files come from the lab's layout (no second copy of its addresses),
byte for byte what tests/vm/lab_worker_vm.py wrote by itself before (its own f-strings, kept
below as the reference). No VM is booted: the files are written into a folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from kprov.lab.layout import LabLayout
from tests.vm import lab_worker_vm
from tests.vm.lab_worker_vm import LabWorkerVM


def _before(lab: int, host: str, mac: str, key: str) -> dict[str, str]:
    """The files as lab_worker_vm.py rendered them itself (round 7)."""
    layout = LabLayout(lab)
    ip, ip6 = layout.ip(host), layout.ip6(host)
    return {
        "etc/hostname": f"{host}\n",
        "etc/hosts": "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n"
                     + "".join(f"{layout.ip(h)} {h}\n" for h in LabLayout.host_names(20)),
        "etc/apt/sources.list": f"deb [trusted=yes] {layout.repo_url} ./\n",
        "etc/systemd/network/10-kprov-lab.network": (
            f"[Match]\nMACAddress={mac}\n\n[Network]\n"
            f"Address={ip}/24\nGateway={layout.gateway}\n"
            f"Address={ip6}/64\nGateway={layout.gateway6}\n"
            "IPv6AcceptRA=no\nLinkLocalAddressing=ipv6\n"),
        "root/.ssh/authorized_keys": key,
    }


@pytest.mark.parametrize(("lab", "host"), [(2, "h4"), (7, "h1"), (0, "h20"), (9, "h99")])
def test_the_vm_files_are_the_same_bytes_as_before(
    lab: int, host: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = tmp_path / "id_lab"
    key.with_suffix(".pub").write_text("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKprovLabKeyForTests kprov-lab\n")
    monkeypatch.setattr(lab_worker_vm, "LAB_KEY", key)
    vm = LabWorkerVM(lab, host, tmp_path / "work")
    root = tmp_path / "root"
    vm._write_guest_files(root)
    expected = _before(lab, host, vm.mac, key.with_suffix(".pub").read_text())
    written = {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert written == {name: text.encode() for name, text in expected.items()}
    assert "MACAddress=52:54:00:77:" in written["etc/systemd/network/10-kprov-lab.network"].decode()


def test_the_layout_renders_a_lab_host_network_file() -> None:
    layout = LabLayout(3)
    text = layout.network_file("h5", "Name=eth0")
    assert text.startswith("[Match]\nName=eth0\n\n[Network]\n")
    assert "Address=10.77.3.15/24\nGateway=10.77.3.1\n" in text
    assert "Address=fd77:77:3::15/64\nGateway=fd77:77:3::1\n" in text
    assert layout.etc_hosts() == layout.etc_hosts(99) and layout.etc_hosts(2).endswith("10.77.3.12 h2\n")
