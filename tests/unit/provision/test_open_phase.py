"""The open phase: every host connects while the run prepares, even with more hosts than
forks, and ``then`` runs for each live host once (and only if) the preparation succeeded."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from kprov.provision.execute import RunOptions
from kprov.provision.execute.context import RunContext
from kprov.provision.phases import open as open_phase
from kprov.provision.pipelines import open_run

_HOSTS = ["h1", "h2", "h3", "h4", "h5"]


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RunContext:
    monkeypatch.setenv("KPROV_LOG_DIR", str(tmp_path / "logs"))
    (tmp_path / "hosts").write_text("\n".join(_HOSTS) + "\n")
    return open_run([str(tmp_path / "hosts")], RunOptions(forks=2))


class _Hosts:
    """Stands in for connect_host and gather_host: records who connected; h3 is unreachable."""

    def __init__(self, run: RunContext) -> None:
        self.run = run
        self.connected: list[str] = []
        self.all_connected = threading.Event()
        self.lock = threading.Lock()

    def connect(self, run: RunContext, host: str, defer: bool = False) -> bool:
        if host == "h3":
            run.hosts[host].unreachable = True
        with self.lock:
            self.connected.append(host)
            if len(self.connected) == len(_HOSTS):
                self.all_connected.set()
        return host != "h3"

    def gather(self, run: RunContext, host: str) -> None:
        run.hosts[host].runtime_vars["gathered"] = True


@pytest.fixture
def hosts(run: RunContext, monkeypatch: pytest.MonkeyPatch) -> _Hosts:
    fake = _Hosts(run)
    monkeypatch.setattr(open_phase, "connect_host", fake.connect)
    monkeypatch.setattr(open_phase, "gather_host", fake.gather)
    return fake


def test_every_host_connects_while_the_run_prepares_with_fewer_forks_than_hosts(run, hosts) -> None:
    then_calls: list[str] = []
    lock = threading.Lock()

    def meanwhile() -> None:  # holds the phase until all five hosts have connected
        assert hosts.all_connected.wait(5), f"only {hosts.connected} connected while preparing (forks=2)"

    def then(host: str) -> None:
        with lock:
            then_calls.append(host)

    phase = open_phase.OpenPhase(_HOSTS, gather=_HOSTS, meanwhile=meanwhile, then=then)
    phase.run(run)
    assert sorted(then_calls) == ["h1", "h2", "h4", "h5"]  # once each, not for unreachable h3
    assert all(run.hosts[h].runtime_vars.get("gathered") for h in ["h1", "h2", "h4", "h5"])


def test_a_host_ready_after_the_preparation_goes_on_to_then(run, hosts, monkeypatch) -> None:
    order: list[str] = []
    lock = threading.Lock()
    prepared = threading.Event()
    connect = hosts.connect

    def h5_after_preparation(run_: RunContext, host: str, defer: bool = False) -> bool:
        if host == "h5":
            assert prepared.wait(5)
        return connect(run_, host)

    monkeypatch.setattr(open_phase, "connect_host", h5_after_preparation)

    def meanwhile() -> None:
        with lock:
            order.append("prepared")
        prepared.set()

    def then(host: str) -> None:
        with lock:
            order.append(host)

    open_phase.OpenPhase(_HOSTS, gather=[], meanwhile=meanwhile, then=then).run(run)
    assert order[0] == "prepared" and sorted(order[1:]) == ["h1", "h2", "h4", "h5"]


def test_no_then_when_the_preparation_fails_but_every_host_is_waited_for(run, hosts) -> None:
    then_calls: list[str] = []

    def meanwhile() -> None:
        assert hosts.all_connected.wait(5)
        raise RuntimeError("artifacts could not be made")

    phase = open_phase.OpenPhase(_HOSTS, gather=[], meanwhile=meanwhile, then=then_calls.append)
    with pytest.raises(RuntimeError, match="artifacts"):
        phase.run(run)
    assert then_calls == [] and len(hosts.connected) == len(_HOSTS)
