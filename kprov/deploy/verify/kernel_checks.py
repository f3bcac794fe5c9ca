"""A node's kernel, as role common leaves it: modules loaded, sysctls set, swap off.

Only hosts with their own kernel are held to it (VMs, bare metal). A container host (the
nspawn lab: /run/systemd/container, or ``systemd-detect-virt --container``) shares its
machine's kernel, where role common only warns, so it gets one passing row saying so.
One command per host prints everything; ``parse_kernel_report`` turns it into check rows
(pure, so tests can feed it text). The expected values are role common's defaults, or the
inventory's ``common_kernel_modules`` (plus ``common_extra_kernel_modules``) / ``common_sysctls``
/ ``common_kernel_sysctls`` when set.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from kprov.deploy.verify.report import Check

__all__ = ["expected_kernel", "kernel_script", "parse_kernel_report"]

MODULES = ("overlay", "br_netfilter")
NET_SYSCTLS: dict[str, str] = {"net.ipv4.ip_forward": "1", "net.bridge.bridge-nf-call-iptables": "1"}
KERNEL_SYSCTLS: dict[str, str] = {
    "vm.overcommit_memory": "1", "vm.panic_on_oom": "0", "kernel.panic": "10", "kernel.panic_on_oops": "1",
}


def expected_kernel(host_vars: Mapping[str, Any]) -> tuple[list[str], dict[str, str], bool]:
    """(modules, sysctls, swap off?) the host must have, from the inventory or the defaults."""
    modules = [str(m) for m in host_vars.get("common_kernel_modules", MODULES)]
    modules += [str(m) for m in host_vars.get("common_extra_kernel_modules") or () if str(m) not in modules]
    merged = {**dict(host_vars.get("common_sysctls", NET_SYSCTLS)),
              **dict(host_vars.get("common_kernel_sysctls", KERNEL_SYSCTLS))}
    sysctls = {str(k): str(v) for k, v in merged.items()}
    swap_off = str(host_vars.get("common_swap_off", True)).lower() not in ("false", "no", "0")
    return modules, sysctls, swap_off


def kernel_script(modules: list[str], sysctls: Mapping[str, str]) -> str:
    lines = ["if [ -r /run/systemd/container ] || systemd-detect-virt --container --quiet 2>/dev/null; then"
             " echo container; exit 0; fi"]
    lines += [f"[ -d /sys/module/{shlex.quote(m)} ] && echo 'module {m} 1' || echo 'module {m} 0'"
              for m in modules]
    lines += [f"echo \"sysctl {name} $(sysctl -n {shlex.quote(name)} 2>/dev/null)\"" for name in sysctls]
    lines.append('echo "swap $(tail -n +2 /proc/swaps | wc -l)"')
    return "\n".join(lines) + "\n"


def parse_kernel_report(host: str, text: str, modules: list[str], sysctls: Mapping[str, str],
                        swap_off: bool) -> list[Check]:
    lines = [line.split() for line in text.splitlines() if line.strip()]
    if lines and lines[0] == ["container"]:
        return [Check(host, "kernel settings", True, "container host: its machine's kernel (not checked)")]
    loaded = {words[1] for words in lines if words[:1] == ["module"] and words[2:] == ["1"]}
    values = {words[1]: " ".join(words[2:]) for words in lines if words[:1] == ["sysctl"] and len(words) >= 2}
    checks = [Check(host, f"kernel module {m} loaded", m in loaded) for m in modules]
    for name, want in sysctls.items():
        have = values.get(name, "")
        checks.append(Check(host, f"sysctl {name} = {want}", have == want,
                            "" if have == want else f"is {have or 'unset'}"))
    if swap_off:
        swaps = next((words[1] for words in lines if words[:1] == ["swap"] and len(words) == 2), "?")
        checks.append(Check(host, "swap off", swaps == "0",
                            "" if swaps == "0" else f"{swaps} swap areas active"))
    return checks
