"""Role common decides container vs own kernel by the virtualization fact, not by name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from kprov.provision.templates import TemplateEngine

DEFAULTS = Path(__file__).resolve().parents[3] / "roles" / "common" / "defaults" / "main.yml"
TASKS = DEFAULTS.parents[1] / "tasks" / "main.yml"


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


def _task(name: str) -> dict[str, Any]:
    tasks = yaml.safe_load(TASKS.read_text())
    return next(t for t in tasks if t.get("name") == name)


def _modules_load_conf(inventory: dict[str, Any]) -> str:
    """/etc/modules-load.d/kprov.conf as the role's task renders it with these inventory vars."""
    defaults = yaml.safe_load(DEFAULTS.read_text())
    scope = TemplateEngine().scope([(inventory, True), (defaults, True)])
    return str(scope.render(_task("Load kernel modules at boot")["ansible.builtin.copy"]["content"], "test"))


def test_modules_load_file_has_the_defaults_alone_by_default() -> None:
    assert _modules_load_conf({}) == "overlay\nbr_netfilter\n"


def test_an_inventory_adds_modules_such_as_sctp_once_each() -> None:
    conf = _modules_load_conf({"common_extra_kernel_modules": ["sctp", "br_netfilter", "sctp"]})
    assert conf == "overlay\nbr_netfilter\nsctp\n"


def test_the_modprobe_query_asks_for_the_extra_modules_too() -> None:
    defaults = yaml.safe_load(DEFAULTS.read_text())
    scope = TemplateEngine().scope([({"common_extra_kernel_modules": ["sctp"]}, True), (defaults, True)])
    script = str(scope.render(_task("Kernel modules not loaded yet")["ansible.builtin.shell"], "test"))
    assert "for m in overlay br_netfilter sctp; do" in script
