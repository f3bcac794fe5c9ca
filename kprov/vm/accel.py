"""Which accelerator VMs get here: KVM when /dev/kvm really runs a stock guest, else TCG.

A /dev/kvm device is not proof: on machines that are themselves PVM guests, /dev/kvm is a
paravirtual hypervisor that aborts QEMU's ``-cpu host`` at the first MSR write (and crawls
then dies on a stock kernel with the MSR masked). So this *tries*: QEMU with ``-accel kvm
-cpu host`` and no boot device sits in SeaBIOS forever when KVM works, and exits within a
second when it does not. Machines without vmx/svm in /proc/cpuinfo or without /dev/kvm are
TCG without trying. ``KPROV_VM_ACCEL=kvm|tcg`` overrides (the Vagrantfile honours it too).
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

__all__ = ["detect_accel", "kvm_plausible"]

QEMU = "qemu-system-x86_64"
TRY_SECONDS = 3.0


def kvm_plausible(cpuinfo: str, kvm_device: bool) -> bool:
    """Whether trying KVM makes sense: a usable /dev/kvm and hardware virtualisation flags."""
    return kvm_device and re.search(r"^flags\s*:.*\b(vmx|svm)\b", cpuinfo, re.MULTILINE) is not None


def _try_kvm() -> bool:
    try:
        proc = subprocess.Popen(
            [QEMU, "-accel", "kvm", "-cpu", "host", "-m", "64", "-nodefaults", "-display", "none",
             "-no-reboot"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:
        return False
    deadline = time.monotonic() + TRY_SECONDS
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            time.sleep(0.1)
        return True
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def detect_accel() -> str:
    """``kvm`` or ``tcg``."""
    forced = os.environ.get("KPROV_VM_ACCEL", "").strip().lower()
    if forced in ("kvm", "tcg"):
        return forced
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        cpuinfo = ""
    if not kvm_plausible(cpuinfo, os.access("/dev/kvm", os.R_OK | os.W_OK)):
        return "tcg"
    return "kvm" if _try_kvm() else "tcg"
