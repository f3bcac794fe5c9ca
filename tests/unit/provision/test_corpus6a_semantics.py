"""Round 6a's fixes where kprov diverged from ansible-core 2.19 (decision 0055, "Round 6a"):
the virtualization facts of a container as ansible-core's Linux collector names it, and the
user module's generate_ssh_key."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

from kprov.provision.facts import parsers
from kprov.provision.modules.base import ModuleResult


def _virt(text: str) -> tuple[str, str]:
    facts: dict[str, str] = {}
    parsers.virtualization(text, facts)
    return facts["virtualization_type"], facts["virtualization_role"]


NSPAWN_AS_ROOT = "CG:0::/\nENV:PATH=/usr/bin\nENV:container=systemd-nspawn\nSC:systemd-nspawn\n"


@pytest.mark.parametrize(("text", "expected"), [
    # an nspawn host read as root: pid 1's environment says container= first (as Ansible's)
    (NSPAWN_AS_ROOT, ("container", "guest")),
    # pid 1 unreadable (not root): /run/systemd/container names it
    ("SC:systemd-nspawn\n", ("systemd-nspawn", "guest")),
    ("CG:0::/system.slice/docker-0123abc.scope\nENV:container=podman\n", ("docker", "guest")),
    ("CG:0::/\nENV:container=lxc\n", ("lxc", "guest")),
    ("CG:0::/\nENV:container=podman\n", ("podman", "guest")),
    ("CG:0::/\nDV:none\nDOCKERENV\n", ("docker", "guest")),
    ("CG:0::/\nDV:kvm\n", ("kvm", "guest")),
    ("CG:0::/\nDV:none\n", ("NA", "NA")),
])
def test_virtualization_as_ansible_cores_linux_facts(text: str, expected: tuple[str, str]) -> None:
    assert _virt(text) == expected


def test_the_virtualization_script_reads_pid_1s_environment() -> None:
    assert "/proc/1/environ" in parsers.VIRT_SCRIPT and "/proc/1/cgroup" in parsers.VIRT_SCRIPT


def _user_task(args: Mapping[str, object], *, check: bool = False) -> ModuleResult:
    """The user module for the account running the tests (it exists: only the key is new),
    on this machine through the local connector: a real shell and a real ssh-keygen."""
    import getpass

    from kprov.provision.connect.local import LocalConnector
    from kprov.provision.modules.base import ModuleContext
    from kprov.provision.modules.system.user import MODULE

    ctx = ModuleContext(connector=LocalConnector("h"), check_mode=check)
    return MODULE.run(ctx, {"name": getpass.getuser(), "generate_ssh_key": True, **args})


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen")
def test_generate_ssh_key_makes_the_key_once_as_ansible_core(tmp_path: Path) -> None:
    key = tmp_path / "keys" / "id_ed25519"
    args = {"ssh_key_file": str(key), "ssh_key_type": "ed25519", "ssh_key_comment": "deploy@corpus"}
    checked = _user_task(args, check=True)
    assert checked.changed and not key.parent.exists()  # check mode: would make it, makes nothing
    made = _user_task(args)
    assert made.changed and not made.failed, made.msg
    assert oct(key.parent.stat().st_mode & 0o777) == "0o700"
    public = (tmp_path / "keys" / "id_ed25519.pub").read_text().strip()
    assert made.data["ssh_public_key"] == public and public.endswith(" deploy@corpus")
    assert made.data["ssh_key_file"] == str(key)
    assert made.data["ssh_fingerprint"].startswith("256 SHA256:")
    assert made.data["ssh_fingerprint"].endswith("deploy@corpus (ED25519)")
    again = _user_task(args)
    assert not again.changed and again.data["ssh_public_key"] == public  # the key is kept
    assert again.data["warnings"] == [
        f'Found existing ssh key private file "{key}", no force, so skipping ssh-keygen generation']
    forced = _user_task({**args, "force": True})
    assert forced.changed and forced.data["ssh_public_key"] != public  # force: a new pair


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen")
def test_generate_ssh_key_with_a_passphrase_and_bits(tmp_path: Path) -> None:
    key = tmp_path / "id_rsa"
    made = _user_task({"ssh_key_file": str(key), "ssh_key_bits": 1024, "ssh_key_passphrase": "s3cret"})
    assert made.changed, made.msg
    assert made.data["ssh_fingerprint"].startswith("1024 SHA256:")
    # the passphrase holds: without it the private key does not open, with it it does
    assert subprocess.run(["ssh-keygen", "-y", "-P", "", "-f", str(key)], capture_output=True).returncode != 0
    opened = subprocess.run(["ssh-keygen", "-y", "-P", "s3cret", "-f", str(key)],
                            capture_output=True, text=True)
    assert opened.returncode == 0 and opened.stdout.split()[:2] == made.data["ssh_public_key"].split()[:2]


def test_the_passphrase_is_never_in_the_command_text() -> None:
    from kprov.provision.modules.system.user_sshkey import keygen_script

    script = keygen_script({"name": "u", "ssh_key_passphrase": "s3cret", "ssh_key_type": "rsa"}, dry=False)
    assert "s3cret" not in script and '-f "$k" -N "$kp"' in script


def test_copy_mode_preserve_as_ansible_cores_action(tmp_path: Path) -> None:
    """``mode: preserve`` keeps the source's mode: for ``content`` that is the 0600 temporary
    file ansible-core's action writes it to (linux-system-roles.kernel_settings' profile
    files: ansible-playbook made them 0600 after kprov left 0644), for ``src`` the controller
    file's own."""
    from kprov.provision.connect.local import LocalConnector
    from kprov.provision.modules import ModuleContext, get_module

    copy = get_module("copy")
    (tmp_path / "profile_mode").write_text("auto\n")
    (tmp_path / "profile_mode").chmod(0o644)
    src = tmp_path / "src.conf"
    src.write_text("x=1\n")
    src.chmod(0o640)

    def ctx() -> ModuleContext:
        return ModuleContext(connector=LocalConnector("h"), find_file=lambda name, kind: tmp_path / name)

    args = {"content": "manual\n", "dest": str(tmp_path / "profile_mode"), "mode": "preserve"}
    made = copy.run(ctx(), args)
    assert made.changed and oct((tmp_path / "profile_mode").stat().st_mode & 0o777) == "0o600"
    again = copy.run(ctx(), args)
    assert not again.changed
    copied = copy.run(ctx(), {"src": "src.conf", "dest": str(tmp_path / "out.conf"), "mode": "preserve"})
    assert copied.changed and oct((tmp_path / "out.conf").stat().st_mode & 0o777) == "0o640"


def test_copy_force_false_leaves_an_existing_file_alone(tmp_path: Path) -> None:
    """``force: false`` and a file there: ansible-core's copy action returns before any module
    runs, so neither content nor mode is touched."""
    from kprov.provision.connect.local import LocalConnector
    from kprov.provision.modules import ModuleContext, get_module

    dest = tmp_path / "profile_mode"
    dest.write_text("manual\n")
    dest.chmod(0o600)
    args = {"content": "other\n", "dest": str(dest), "mode": "0644", "force": False}
    result = get_module("copy").run(ModuleContext(connector=LocalConnector("h")), args)
    assert not result.changed
    assert dest.read_text() == "manual\n" and oct(dest.stat().st_mode & 0o777) == "0o600"
