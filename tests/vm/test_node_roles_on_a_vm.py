"""The node roles on a real VM: applied, the VM rebooted, applied again with nothing to change.

One VM (vagrant/Vagrantfile's h1, the kprov box) with no route out of the machine: packages
come from a `kprov bundle` of the node packages, served to the VM by the offline_repo role.
What a container host only warns about is checked here for real: kernel modules loaded by
the run and again at boot, every kernel parameter of the common role read back from
/proc/sys, swap off, containerd running. The tests run in file order on the same VM; the
last one destroys it and checks libvirt is left with nothing of it.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from kprov.vm.libvirt import leftovers
from kprov.vm.recipe import BoxRecipe
from kprov.vm.vagrant import BOX_VOLUME_PREFIX, VagrantLab

pytestmark = [pytest.mark.vm, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
KPROV = [sys.executable, "-m", "kprov.cli.main"]
PLAYBOOK = REPO / "roles" / "node-prereqs.yml"
COMMON_DEFAULTS = yaml.safe_load((REPO / "roles/common/defaults/main.yml").read_text())
# The node packages: what roles/node-prereqs.yml installs, with the apt module's helper.
NODE_PACKAGES = ("containerd", "runc", "containernetworking-plugins", "nftables", "iptables",
                 "conntrack", "python3-apt", "python3-venv", *COMMON_DEFAULTS["common_packages"])
DEB_CACHE = Path("/var/cache/kprov/vm/debs")
REBOOT_TIMEOUT_S = 1200
BOOT_ID = "/proc/sys/kernel/random/boot_id"


def _kprov(*args: str, timeout: float = 1800) -> str:
    proc = subprocess.run([*KPROV, *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, cwd=REPO)
    assert proc.returncode == 0, \
        f"kprov {' '.join(args[:3])} failed:\n{proc.stdout[-4000:]}{proc.stderr[-3000:]}"
    return proc.stdout


def _apply(inventory: Path, extra: Path) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(_kprov("apply", "-i", str(inventory), "-e", f"@{extra}", "--json",
                                               str(PLAYBOOK)))
    return report


def _changed(report: dict[str, Any]) -> int:
    return sum(stats["changed"] for stats in report["stats"].values())


def _failed(report: dict[str, Any]) -> int:
    return sum(stats["failed"] + stats["unreachable"] for stats in report["stats"].values())


def _changed_tasks(report: dict[str, Any]) -> list[str]:
    return [f"{r['host']}: {r['task']}" for r in report["results"] if r["status"] == "changed"]


def _sh(vm: VagrantLab, command: str) -> str:
    proc = vm.ssh("h1", command)
    assert proc.returncode == 0, f"h1: {command!r} failed ({proc.returncode}): {proc.stderr.strip()}"
    return proc.stdout


def _expected_sysctls() -> dict[str, str]:
    return {str(k): str(v) for k, v in
            {**COMMON_DEFAULTS["common_sysctls"], **COMMON_DEFAULTS["common_kernel_sysctls"]}.items()}


def _host_state(vm: VagrantLab) -> dict[str, Any]:
    """What the node roles set, read on the VM: modules, kernel parameters, swap, services."""
    modules = COMMON_DEFAULTS["common_kernel_modules"]
    sysctls = _expected_sysctls()
    out = _sh(vm, "; ".join([
        *(f"echo module {m} $([ -d /sys/module/{m} ] && echo loaded || echo absent)" for m in modules),
        *(f"echo sysctl {k} $(cat /proc/sys/{k.replace('.', '/')})" for k in sysctls),
        "echo swap $(tail -n +2 /proc/swaps | wc -l)",
        "echo containerd $(systemctl is-active containerd)",
        f"echo boot $(cat {BOOT_ID})",
        "echo virt $(systemd-detect-virt)",
        *(f"echo tool {t} $(command -v {t} >/dev/null && echo installed || echo absent)"
          for t in COMMON_DEFAULTS["common_packages"]),
    ]))
    state: dict[str, Any] = {"module": {}, "sysctl": {}, "tool": {}}
    for line in out.splitlines():
        kind, *rest = line.split()
        if kind in ("module", "sysctl", "tool"):
            state[kind][rest[0]] = rest[1] if len(rest) > 1 else ""
        else:
            state[kind] = rest[0] if rest else ""
    return state


class Run:
    """What the tests of this module hand on to the next (the VM stays the same)."""

    inventory: Path
    extra: Path
    boot_before_reboot: str


@pytest.fixture(scope="module")
def run(vm: VagrantLab, box_recipe: BoxRecipe) -> Run:
    shared = Run()
    status = box_recipe.rootfs_dir() / "var/lib/dpkg/status"
    bundle = vm.workdir / "bundle"
    packages = [arg for package in NODE_PACKAGES for arg in ("--package", package)]
    DEB_CACHE.mkdir(parents=True, exist_ok=True)
    _kprov("bundle", "--out", str(bundle), *packages, "--status", str(status), "--no-wheelhouse",
           "--no-images", "--deb-cache", str(DEB_CACHE))
    shared.extra = vm.workdir / "bundle-vars.json"
    shared.extra.write_text(_kprov("bundle", "--out", str(bundle), "--vars"))
    shared.inventory = vm.write_inventory(vm.workdir / "hosts.yml", {"offline_repo_exclusive": True})
    return shared


def test_the_vm_is_a_guest_with_its_own_kernel_and_none_of_the_settings_yet(vm: VagrantLab, run: Run) -> None:
    state = _host_state(vm)
    assert state["virt"] in ("qemu", "kvm"), state
    # br_netfilter is what the run must load: were it loaded already, nothing would show it did.
    assert state["module"]["br_netfilter"] == "absent", state
    assert state["containerd"] != "active", state
    # the box is a minimal Debian: the tools the roles' health checks run come with the run
    assert set(state["tool"].values()) == {"absent"}, state


def test_the_node_roles_converge_the_vm_for_real(vm: VagrantLab, run: Run) -> None:
    report = _apply(run.inventory, run.extra)
    assert _failed(report) == 0, report["stats"]
    assert _changed(report) > 0, report["stats"]
    state = _host_state(vm)
    assert state["module"] == {m: "loaded" for m in COMMON_DEFAULTS["common_kernel_modules"]}, state
    assert state["sysctl"] == _expected_sysctls(), state
    assert state["swap"] == "0", state
    assert state["containerd"] == "active", state
    assert state["tool"] == {t: "installed" for t in COMMON_DEFAULTS["common_packages"]}, state
    assert _sh(vm, "cat /etc/modules-load.d/kprov.conf").split() == COMMON_DEFAULTS["common_kernel_modules"]
    # containerd runs containers here: its CRI plugin answers with the node images imported.
    assert "kprov.local/pause:1" in _sh(vm, "ctr -n k8s.io images ls -q").split()
    run.boot_before_reboot = state["boot"]


def _boot_id_once_up(vm: VagrantLab) -> str:
    """h1's boot id once its boot has finished; "" while it does not answer."""
    try:
        proc = vm.ssh("h1", f"systemctl is-system-running --wait >/dev/null; cat {BOOT_ID}", timeout=300)
    except subprocess.TimeoutExpired:
        return ""
    return proc.stdout.strip() if proc.returncode == 0 else ""


def test_the_settings_hold_after_a_reboot(vm: VagrantLab, run: Run) -> None:
    boot = run.boot_before_reboot
    with contextlib.suppress(subprocess.TimeoutExpired):  # the connection may drop mid-answer
        vm.ssh("h1", "systemctl reboot", timeout=60)
    deadline = time.monotonic() + REBOOT_TIMEOUT_S
    while _boot_id_once_up(vm) in ("", boot):
        if time.monotonic() > deadline:
            pytest.fail(f"h1 did not come back from its reboot within {REBOOT_TIMEOUT_S} s")
        time.sleep(5)
    state = _host_state(vm)
    assert state["boot"] != boot
    assert state["module"] == {m: "loaded" for m in COMMON_DEFAULTS["common_kernel_modules"]}, state
    assert state["sysctl"] == _expected_sysctls(), state
    assert state["swap"] == "0", state
    assert state["containerd"] == "active", state


def test_a_second_apply_after_the_reboot_changes_nothing(vm: VagrantLab, run: Run) -> None:
    report = _apply(run.inventory, run.extra)
    assert _failed(report) == 0, report["stats"]
    assert _changed(report) == 0, _changed_tasks(report)


def test_vagrant_destroy_leaves_nothing_of_the_vm(vm: VagrantLab, box_recipe: BoxRecipe) -> None:
    vm.destroy()
    left = leftovers()
    assert left.domains == [] and left.networks == [], left
    # Vagrant keeps the box's base volume for the next `vagrant up` (its box cache); nothing
    # of the VM itself stays.
    assert [v for v in left.volumes if not v.startswith(BOX_VOLUME_PREFIX)] == [], left
