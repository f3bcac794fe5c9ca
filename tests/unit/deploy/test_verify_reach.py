"""verify against hosts that do not answer, and the VIP's state read on each host's own connection:
each host's one SSH connect (bounded, one attempt, all hosts at once) tells the other checks
which hosts answered; an unreachable host is its one row; the VIP rows are judged from the
states the host checks read."""

from __future__ import annotations

import errno
import threading
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from paramiko.ssh_exception import AuthenticationException, NoValidConnectionsError

from kprov.deploy.verify import host_checks
from kprov.deploy.verify.expectations import VipPorts, expectations_for
from kprov.deploy.verify.reach_checks import Reachability, SshTarget, no_answer, ssh_target, whole_seconds
from kprov.deploy.verify.report import Check
from kprov.deploy.verify.vip_checks import VipState, host_vip_state, vip_rows

VIP = "10.77.4.10"
TARGET = SshTarget("10.0.0.3", 22, 3.0)


def test_the_connect_bound_is_the_hosts_connect_timeout() -> None:
    assert ssh_target("h1", {"ansible_host": "10.0.0.1"}) == SshTarget("10.0.0.1", 22, 10.0)
    assert ssh_target("h1", {"ansible_host": "10.0.0.1", "ansible_port": 2222, "ansible_timeout": 3}) \
        == SshTarget("10.0.0.1", 2222, 3.0)
    assert ssh_target("h1", {"ansible_ssh_common_args": "-o ConnectTimeout=4"}).timeout == 4.0
    assert whole_seconds(SshTarget("a", 22, 2.5)) == 3 and whole_seconds(SshTarget("a", 22, 0.1)) == 1


def _wrapped(exc: OSError) -> NoValidConnectionsError:
    return NoValidConnectionsError({("10.0.0.3", 22): exc})


@pytest.mark.parametrize(("exc", "silent"), [
    (TimeoutError("timed out"), True),  # paramiko's connect past its timeout
    (_wrapped(OSError(errno.EHOSTUNREACH, "No route to host")), True),  # no ARP answer: powered off
    (_wrapped(OSError(errno.ENETUNREACH, "Network is unreachable")), True),
    (_wrapped(ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")), False),  # up, no sshd
    (AuthenticationException("Authentication failed."), False),  # up: its SSH row says so
    (EOFError(), False),
])
def test_only_a_connect_nothing_answered_makes_a_host_unreachable(exc: BaseException, silent: bool) -> None:
    detail = no_answer(exc, TARGET)
    assert (detail is not None) == silent
    if detail is not None:
        assert detail.startswith("unreachable: 10.0.0.3:22 did not answer a TCP connect (")
        assert "3 s" in detail and "powered on" in detail


def test_reachability_resolves_once_every_host_reported_and_the_first_report_counts() -> None:
    reach = Reachability(["h1", "h2", "h3"])
    reach.report("h3", "unreachable: ...")
    reach.report("h1", None)
    assert not reach.unreachable.done()
    reach.report("h3", None)  # (the host checks' final report: a no-op)
    reach.report("h2", None)
    assert reach.unreachable.result(timeout=0) == {"h3": "unreachable: ..."}
    assert Reachability([]).unreachable.result(timeout=0) == {}


class _FakeHost:
    """A testinfra host that answers the VIP state query with ``vip_out`` and everything else
    with nothing (the other rows fail; only the connections and the state matter here). Its
    first command connects: ``connect`` runs then (it may raise, as paramiko's connect)."""

    def __init__(self, vip_out: str, connect: Any) -> None:
        self.vip_out = vip_out
        self.connect = connect
        self.commands: list[str] = []

    def run(self, command: str) -> SimpleNamespace:
        if not self.commands:
            self.connect()
        self.commands.append(command)
        out = self.vip_out if "ip -o addr show" in command else ""
        return SimpleNamespace(rc=0, stdout=out, stderr="", exit_status=0)


@dataclass
class _Lab:
    """Each host's answer to the VIP state query, and every connection verify opened to it."""

    answers: dict[str, str] = field(default_factory=lambda: {
        "h1": "free\n0\n0\n", "h2": "holds\n0\n0\n", "h3": "free\n0\n0\n"})
    opened: dict[str, list[_FakeHost]] = field(default_factory=dict)
    connect_errors: dict[str, BaseException] = field(default_factory=dict)
    reach: Reachability = field(default_factory=lambda: Reachability(["h1", "h2", "h3", "h4"]))
    on_connect: Any = None

    def connect(self, name: str) -> None:
        if self.on_connect is not None:
            self.on_connect(name)
        if name in self.connect_errors:
            raise self.connect_errors[name]

    def check(self) -> tuple[dict[str, host_checks.HostOutcome], list[Check]]:
        hosts = ["h1", "h2", "h3", "h4"]
        exp = expectations_for(hosts, lambda host, group: host in GROUPS[group], VipPorts())
        outcomes = host_checks.check_hosts({h: {"ansible_host": f"10.0.0.{h[1:]}", "ansible_timeout": 3}
                                            for h in hosts}, exp, VIP, self.reach)
        return outcomes, vip_rows(VIP, {h: outcomes[h].vip_state for h in ("h1", "h2", "h3")})


GROUPS = {"etcd": set[str](), "control_plane": {"h1", "h2", "h3"}, "workers": {"h4"}}


@pytest.fixture
def lab(monkeypatch: pytest.MonkeyPatch) -> _Lab:
    fake = _Lab()

    def testinfra_host(name: str, host_vars: Any, ssh_config_dir: Any) -> _FakeHost:
        host = _FakeHost(fake.answers.get(name, ""), lambda: fake.connect(name))
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


def test_an_unreachable_host_is_its_one_row_and_the_others_learn_it(lab: _Lab) -> None:
    lab.connect_errors["h3"] = TimeoutError("timed out")
    outcomes, rows = lab.check()
    assert len(outcomes["h3"].rows) == 1 and outcomes["h3"].vip_state is None
    row = outcomes["h3"].rows[0]
    assert (row.scope, row.name, row.ok) == ("h3", "reachable over SSH", False)
    assert row.detail.startswith(
        "unreachable: 10.0.0.3:22 did not answer a TCP connect (no answer within 3 s")
    assert lab.opened["h3"][0].commands == []  # nothing ran on it
    assert list(lab.reach.unreachable.result(timeout=0)) == ["h3"]
    assert rows[0].ok and rows[0].detail == "held by h2; no answer from h3"


def test_a_refused_connect_is_the_hosts_ssh_row_and_not_unreachable(lab: _Lab) -> None:
    lab.connect_errors["h4"] = _wrapped(ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"))
    outcomes, _ = lab.check()
    assert [r.name for r in outcomes["h4"].rows] == ["reachable over SSH"]
    assert "unreachable" not in outcomes["h4"].rows[0].detail
    assert lab.reach.unreachable.result(timeout=0) == {}


def test_every_host_connects_at_once(lab: _Lab) -> None:
    # four connects that each wait for the other three: one after another they never meet
    met = threading.Barrier(4, timeout=5)
    lab.on_connect = lambda name: met.wait()
    lab.connect_errors["h4"] = _wrapped(OSError(errno.EHOSTUNREACH, "No route to host"))
    outcomes, _ = lab.check()
    assert not met.broken
    assert list(lab.reach.unreachable.result(timeout=0)) == ["h4"]
    assert "(No route to host;" in outcomes["h4"].rows[0].detail


def test_a_failing_state_command_is_no_state() -> None:
    def run(command: str) -> str:
        raise EOFError("connection dropped")
    assert host_vip_state(VIP, {}, run) is None
    state = host_vip_state(VIP, {"keepalived_serve_file": "/x"},
                           lambda c: "holds\n0\n0\n" if "/x" in c else "")
    assert state == VipState(True, "0", "0")
