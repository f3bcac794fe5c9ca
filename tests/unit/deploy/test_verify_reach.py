"""verify against hosts that do not answer, and the VIP's state read on each host's own connection:
the up-front probe (bounded, one attempt, all hosts at once), an unreachable host as its one row
with nothing else tried on it, and the VIP rows judged from the states the host checks read."""

from __future__ import annotations

import errno
import threading
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from kprov.deploy.verify import host_checks
from kprov.deploy.verify.expectations import VipPorts, expectations_for
from kprov.deploy.verify.reach_checks import (
    SshTarget,
    probe,
    ssh_target,
    unreachable_hosts,
    unreachable_row,
    whole_seconds,
)
from kprov.deploy.verify.report import Check
from kprov.deploy.verify.vip_checks import VipState, host_vip_state, vip_rows

VIP = "10.77.4.10"


class _Sock:
    def close(self) -> None:
        pass


def _connect_raising(exc: BaseException | None) -> Any:
    calls: list[tuple[tuple[str, int], float]] = []

    def connect(address: tuple[str, int], timeout: float) -> _Sock:
        calls.append((address, timeout))
        if exc is not None:
            raise exc
        return _Sock()
    connect.calls = calls  # type: ignore[attr-defined]
    return connect


def test_the_connect_bound_is_the_hosts_connect_timeout_and_a_single_attempt() -> None:
    assert ssh_target("h1", {"ansible_host": "10.0.0.1"}) == SshTarget("10.0.0.1", 22, 10.0)
    assert ssh_target("h1", {"ansible_host": "10.0.0.1", "ansible_port": 2222, "ansible_timeout": 3}) \
        == SshTarget("10.0.0.1", 2222, 3.0)
    assert ssh_target("h1", {"ansible_ssh_common_args": "-o ConnectTimeout=4"}).timeout == 4.0
    assert not ssh_target("h1", {"ansible_host": "10.0.0.1", "kprov_jump_host": "bastion"}).direct
    assert whole_seconds(SshTarget("a", 22, 2.5)) == 3 and whole_seconds(SshTarget("a", 22, 0.1)) == 1
    connect = _connect_raising(TimeoutError())
    why = probe(SshTarget("10.0.0.1", 22, 3.0), connect)
    assert why == "no answer within 3 s" and connect.calls == [(("10.0.0.1", 22), 3.0)]


@pytest.mark.parametrize(("exc", "answered"), [
    (None, True),
    (ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"), True),  # up, no sshd: its SSH row
    (OSError(errno.EHOSTUNREACH, "No route to host"), False),  # no ARP answer: powered off
    (OSError(errno.ENETUNREACH, "Network is unreachable"), False),
    (TimeoutError(), False),
])
def test_only_a_connect_nothing_answered_makes_a_host_unreachable(exc: BaseException | None,
                                                                  answered: bool) -> None:
    assert (probe(SshTarget("10.0.0.1", 22, 1.0), _connect_raising(exc)) is None) == answered


def test_a_host_behind_a_jump_host_is_not_probed() -> None:
    connect = _connect_raising(TimeoutError())
    assert probe(SshTarget("10.0.0.1", 22, 1.0, direct=False), connect) is None and not connect.calls


def test_every_host_is_probed_at_once_and_only_the_silent_ones_are_named() -> None:
    # three connects that each wait for the other two: probed one after another they never meet
    met = threading.Barrier(3, timeout=5)

    def connect(address: tuple[str, int], timeout: float) -> _Sock:
        met.wait()
        if address[0] == "10.0.0.3":
            raise OSError(errno.EHOSTUNREACH, "No route to host")
        return _Sock()

    host_vars = {f"h{i}": {"ansible_host": f"10.0.0.{i}", "ansible_timeout": 2} for i in (1, 2, 3)}
    down = unreachable_hosts(host_vars, connect)
    assert list(down) == ["h3"]
    assert down["h3"].startswith("unreachable: 10.0.0.3:22 did not answer a TCP connect (No route to host")
    assert "2 s" in down["h3"] and "powered on" in down["h3"]


class _FakeHost:
    """A testinfra host that answers the VIP state query with ``vip_out`` and everything else
    with nothing (the other rows fail; only the connection count and the state matter here)."""

    def __init__(self, vip_out: str) -> None:
        self.vip_out = vip_out
        self.commands: list[str] = []

    def run(self, command: str) -> SimpleNamespace:
        self.commands.append(command)
        out = self.vip_out if "ip -o addr show" in command else ""
        return SimpleNamespace(rc=0, stdout=out, stderr="", exit_status=0)


@dataclass
class _Lab:
    """Each host's answer to the VIP state query, and every connection verify opened to it."""

    answers: dict[str, str] = field(default_factory=lambda: {
        "h1": "free\n0\n0\n", "h2": "holds\n0\n0\n", "h3": "free\n0\n0\n"})
    opened: dict[str, list[_FakeHost]] = field(default_factory=dict)

    def check(self, down: dict[str, str] | None = None
              ) -> tuple[dict[str, host_checks.HostOutcome], list[Check]]:
        hosts = ["h1", "h2", "h3", "h4"]
        exp = expectations_for(hosts, lambda host, group: host in GROUPS[group], VipPorts())
        outcomes = host_checks.check_hosts({h: {"ansible_host": h} for h in hosts}, exp, down, VIP)
        return outcomes, vip_rows(VIP, {h: outcomes[h].vip_state for h in ("h1", "h2", "h3")})


GROUPS = {"etcd": set[str](), "control_plane": {"h1", "h2", "h3"}, "workers": {"h4"}}


@pytest.fixture
def lab(monkeypatch: pytest.MonkeyPatch) -> _Lab:
    fake = _Lab()

    def testinfra_host(name: str, host_vars: Any, ssh_config_dir: Any) -> _FakeHost:
        host = _FakeHost(fake.answers.get(name, ""))
        fake.opened.setdefault(name, []).append(host)
        return host
    monkeypatch.setattr(host_checks, "testinfra_host", testinfra_host)
    return fake


def test_the_vip_state_is_read_on_the_connection_each_host_check_holds(lab: _Lab) -> None:
    outcomes, rows = lab.check()
    assert {h: len(c) for h, c in lab.opened.items()} == {"h1": 1, "h2": 1, "h3": 1, "h4": 1}
    queries = [sum("ip -o addr show" in c for c in lab.opened[h][0].commands)
               for h in ("h1", "h2", "h3", "h4")]
    assert queries == [1, 1, 1, 0]  # once per control-plane host, never on a worker
    assert outcomes["h2"].vip_state == VipState(True, "0", "0") and outcomes["h4"].vip_state is None
    assert rows[0].ok and rows[0].detail == "held by h2"
    assert rows[1].scope == "h2" and rows[1].ok


def test_two_holders_fail_the_vip_row_naming_both(lab: _Lab) -> None:
    lab.answers["h1"] = "holds\n0\n0\n"
    _, rows = lab.check()
    assert not rows[0].ok and rows[0].detail.startswith("held by h1 and h2 at once")
    assert [r.scope for r in rows[1:]] == ["h1", "h2"]


def test_no_holder_fails_the_vip_row(lab: _Lab) -> None:
    lab.answers["h2"] = "free\n0\n0\n"
    _, rows = lab.check()
    assert len(rows) == 1 and not rows[0].ok and rows[0].detail.startswith("no control-plane host holds it")


def test_an_unparseable_state_counts_as_no_answer_not_as_a_holder(lab: _Lab) -> None:
    lab.answers["h1"] = "ip: command not found\n"
    outcomes, rows = lab.check()
    assert outcomes["h1"].vip_state is None
    assert rows[0].ok and rows[0].detail == "held by h2; no answer from h1"


def test_an_unreachable_host_is_its_one_row_and_never_connected(lab: _Lab) -> None:
    detail = "unreachable: 10.77.4.13:22 did not answer a TCP connect (no answer within 10 s; ...)"
    outcomes, rows = lab.check(down={"h3": detail})
    assert "h3" not in lab.opened
    assert outcomes["h3"].rows == [unreachable_row("h3", detail)] and outcomes["h3"].vip_state is None
    assert rows[0].ok and rows[0].detail == "held by h2; no answer from h3"


def test_a_failing_state_command_is_no_state() -> None:
    def run(command: str) -> str:
        raise EOFError("connection dropped")
    assert host_vip_state(VIP, {}, run) is None
    state = host_vip_state(VIP, {"keepalived_serve_file": "/x"},
                           lambda c: "holds\n0\n0\n" if "/x" in c else "")
    assert state == VipState(True, "0", "0")
