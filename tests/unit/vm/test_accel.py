"""Accelerator choice: KVM is only tried where hardware virtualisation can be there."""

from __future__ import annotations

import pytest

from kprov.vm import accel
from kprov.vm.accel import detect_accel, kvm_plausible

VMX = "processor\t: 0\nflags\t\t: fpu vme de pse vmx sse2\n"
PVM = "processor\t: 0\nflags\t\t: fpu vme de pse sse2 hypervisor\n"


def test_kvm_needs_the_device_and_vmx_or_svm() -> None:
    assert kvm_plausible(VMX, kvm_device=True)
    assert kvm_plausible(VMX.replace("vmx", "svm"), kvm_device=True)
    assert not kvm_plausible(VMX, kvm_device=False)
    assert not kvm_plausible(PVM, kvm_device=True)  # a PVM /dev/kvm: no flags


def test_env_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KPROV_VM_ACCEL", "kvm")
    assert detect_accel() == "kvm"
    monkeypatch.setenv("KPROV_VM_ACCEL", "TCG")
    assert detect_accel() == "tcg"


def test_plausible_kvm_is_tried(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KPROV_VM_ACCEL", raising=False)
    monkeypatch.setattr(accel, "kvm_plausible", lambda cpuinfo, dev: True)
    monkeypatch.setattr(accel, "_try_kvm", lambda: False)
    assert detect_accel() == "tcg"
    monkeypatch.setattr(accel, "_try_kvm", lambda: True)
    assert detect_accel() == "kvm"
