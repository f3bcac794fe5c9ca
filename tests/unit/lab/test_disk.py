"""A lab host's instance files: its resolver (loopback, never the build machine's), its dpkg setting."""

from __future__ import annotations

from pathlib import Path

from kprov.lab.disk import create_disk, write_instance_files
from kprov.lab.layout import LabLayout


def _nameservers(text: str) -> list[str]:
    return [line.split()[1] for line in text.splitlines() if line.startswith("nameserver")]


def test_a_new_host_resolves_through_its_own_loopback_only(tmp_path: Path) -> None:
    layout = LabLayout(3, root=tmp_path)
    create_disk(layout, "h2")
    written = (layout.upper("h2") / "etc/resolv.conf").read_text()
    assert _nameservers(written) == ["127.0.0.1"]
    machine = Path("/etc/resolv.conf")
    if machine.exists():
        machines_own = set(_nameservers(machine.read_text())) - {"127.0.0.1"}
        assert not machines_own & set(_nameservers(written))


def test_a_roles_resolver_change_survives_the_next_start(tmp_path: Path) -> None:
    layout = LabLayout(3, root=tmp_path)
    create_disk(layout, "h2")
    resolv = layout.upper("h2") / "etc/resolv.conf"
    resolv.write_text("nameserver 10.77.3.1\n")  # a role pointed the host at a lab resolver
    (layout.upper("h2") / "root/.ssh").mkdir(parents=True)
    layout.key_path.with_name("id_lab.pub").write_text("ssh-ed25519 AAAA lab\n")
    write_instance_files(layout, "h2")
    assert resolv.read_text() == "nameserver 10.77.3.1\n"


def test_every_start_tells_dpkg_to_skip_per_file_syncs(tmp_path: Path) -> None:
    layout = LabLayout(3, root=tmp_path)
    create_disk(layout, "h2")
    (layout.upper("h2") / "root/.ssh").mkdir(parents=True)
    layout.key_path.with_name("id_lab.pub").write_text("ssh-ed25519 AAAA lab\n")
    setting = layout.upper("h2") / "etc/dpkg/dpkg.cfg.d/90kprov-lab"
    write_instance_files(layout, "h2")
    options = [line for line in setting.read_text().splitlines() if line and not line.startswith("#")]
    assert options == ["force-unsafe-io"]
    setting.unlink()  # a host made before the setting existed gets it at its next start
    write_instance_files(layout, "h2")
    assert setting.exists()
