"""Round 6a's fixes where kprov diverged from ansible-core 2.19 (decision 0055, "Round 6a"):
the virtualization facts of a container as ansible-core's Linux collector names it, and the
user module's generate_ssh_key."""

from __future__ import annotations

import pytest

from kprov.provision.facts import parsers


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
