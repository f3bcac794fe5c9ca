"""The default fork count: every host at once, bounded by what the machine holds."""

from __future__ import annotations

import resource

import pytest

from kprov.provision.execute import forks
from kprov.provision.execute.forks import MAX_AUTO_FORKS, auto_forks, resolve_forks


def test_every_host_at_once_when_the_machine_holds_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(forks, "_available_mib", lambda: 16_000)
    monkeypatch.setattr(resource, "getrlimit", lambda _: (20_000, 20_000))
    assert auto_forks(50) == 50 and auto_forks(1) == 1 and auto_forks(0) == 1
    assert auto_forks(5_000) == MAX_AUTO_FORKS


def test_file_descriptors_and_memory_bound_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(forks, "_available_mib", lambda: 16_000)
    monkeypatch.setattr(resource, "getrlimit", lambda _: (256, 256))
    assert auto_forks(50) == (256 - 128) // 4
    monkeypatch.setattr(resource, "getrlimit", lambda _: (20_000, 20_000))
    monkeypatch.setattr(forks, "_available_mib", lambda: 80)
    assert auto_forks(50) == 10


def test_an_explicit_count_wins_then_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KPROV_FORKS", "7")
    assert resolve_forks(3, 50) == 3
    assert resolve_forks(0, 50) == 7
    monkeypatch.delenv("KPROV_FORKS")
    monkeypatch.setattr(forks, "auto_forks", lambda hosts: hosts)
    assert resolve_forks(0, 42) == 42
