"""Role common decides container vs own kernel by the virtualization fact, not by name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from kprov.provision.templates import TemplateEngine

DEFAULTS = Path(__file__).resolve().parents[3] / "roles" / "common" / "defaults" / "main.yml"


def _is_container(facts: dict[str, Any]) -> bool:
    defaults = yaml.safe_load(DEFAULTS.read_text())
    scope = TemplateEngine().scope([({**defaults, "ansible_facts": facts}, True)])
    return bool(scope.condition("common_is_container | bool", "test"))


@pytest.mark.parametrize(("kind", "role", "container"), [
    ("systemd-nspawn", "guest", True),    # the lab's hosts
    ("docker", "guest", True),
    ("lxc", "guest", True),
    ("kvm", "guest", False),              # a VM with hardware virtualisation
    ("qemu", "guest", False),             # a VM under QEMU's software emulation
    ("NA", "NA", False),                  # bare metal
    ("kvm", "host", False),               # a hypervisor host
])
def test_container_detection(kind: str, role: str, container: bool) -> None:
    assert _is_container({"virtualization_type": kind, "virtualization_role": role}) is container


def test_missing_facts_mean_own_kernel() -> None:
    assert _is_container({}) is False


def test_vm_only_sysctls_are_vm_and_kernel_ones() -> None:
    defaults = yaml.safe_load(DEFAULTS.read_text())
    assert all(k.startswith(("vm.", "kernel.")) for k in defaults["common_kernel_sysctls"])
    assert all(k.startswith("net.") for k in defaults["common_sysctls"])


def test_every_role_file_is_valid_yaml() -> None:
    roles = DEFAULTS.parents[2]
    for path in sorted(roles.glob("*/*/*.yml")):
        yaml.safe_load(path.read_text())  # raises on e.g. an unquoted ": " in a task name
