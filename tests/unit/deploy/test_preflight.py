"""Preflight: the probe's parsing, each check on probes made to fail it, and the phase over
fake sessions (one probe per host; a problem stops every host before its first task)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kprov.deploy.preflight import CHECK_NAMES, PreflightPhase, evaluate, parse_probe
from kprov.deploy.preflight.checks import ClusterShape
from kprov.provision.connect.fake import FakeConnector
from kprov.provision.execute import RunOptions
from kprov.provision.execute.runlog import LoggedConnector
from kprov.provision.pipelines import open_run

GOOD = """@python /usr/bin/python3
@os debian 12
@time {time}
@machineid {mid}
@df /var/lib 68283172
@df /etc 68283172
@df /usr/local 68283172
@df /opt 68283172
@mem MemTotal:       24684084 kB
@mem SwapTotal:             0 kB
@listen LISTEN 0      1024      0.0.0.0:6443  0.0.0.0:* users:(("kprov-apiserver",pid=640,fd=19))
@listen LISTEN 0      4096   10.77.7.13:2379  0.0.0.0:* users:(("etcd",pid=582,fd=8))
@listen LISTEN 0      128       0.0.0.0:10250 0.0.0.0:* users:(("kprov-kubelet",pid=1249,fd=14))
@unit 640 kprov-apiserver.service
@unit 582 kprov-etcd.service
@unit 1249 kprov-kubelet.service
@etcddata /var/lib/kprov/etcd/member
@sysctl net/ipv4/ip_forward
@module overlay
@module br_netfilter
@cgroup ok
@done
"""
GROUPS = {"etcd": ["h1", "h2", "h3"], "control_plane": ["h1", "h2", "h3"], "workers": []}


def _probes(**changes: str) -> dict:
    out = {}
    for i, host in enumerate(("h1", "h2", "h3")):
        text = GOOD.format(time=1000.0, mid=f"m{i}")
        for old, new in [c.split("=>") for c in changes.get(host, "").split("|") if c]:
            text = text.replace(old, new)
        out[host] = parse_probe(host, text, 999.9, 1000.1)
    return out


def _shape(addresses: dict[str, str] | None = None, hostnames: dict[str, str] | None = None) -> ClusterShape:
    return ClusterShape(GROUPS, addresses or {"h1": "10.0.0.1", "h2": "10.0.0.2", "h3": "10.0.0.3"},
                        hostnames or {"h1": "h1", "h2": "h2", "h3": "h3"})


def _found(problems: list) -> set[tuple[str, str]]:
    return {(p.host, p.check) for p in problems if not p.warning}


def test_a_converged_host_passes() -> None:
    probes = _probes()
    assert probes["h1"].owner(6443)[1] == "kprov-apiserver.service"  # type: ignore[index]
    assert probes["h1"].free_kib["/opt"] == 68283172 and probes["h1"].complete
    assert evaluate(probes, _shape()) == []


@pytest.mark.parametrize(("change", "check", "words"), [
    ("@python /usr/bin/python3=>@python ", "python", "python3 is not installed"),
    ("@os debian 12=>@os centos 7", "os", "unsupported OS centos 7"),
    ("@df /var/lib 68283172=>@df /var/lib 1000", "disk", "0 MiB free under /var/lib"),
    ("kprov-apiserver\",pid=640=>nc\",pid=77|@unit 640 kprov-apiserver.service=>@unit 77 foreign.service",
     "ports", "port 6443 (API server) is taken by nc (pid 77, foreign.service)"),
    ("@sysctl net/ipv4/ip_forward=>", "sysctls", "ip_forward cannot be set"),
    ("@cgroup ok=>", "cgroups", "no cgroup hierarchy"),
    ("@time 1000.0=>@time 1060.0", "clock", "clock is +60.0 s off"),
    ("@done=>", "probe", "did not run to its end"),
])
def test_each_check_names_the_host_and_what_to_do(change: str, check: str, words: str) -> None:
    problems = evaluate(_probes(h2=change), _shape())
    assert _found(problems) == {("h2", check)}
    [problem] = [p for p in problems if not p.warning]
    assert words in problem.message and problem.fix


def test_a_daemon_whose_forked_child_ss_lists_first_still_owns_its_port() -> None:
    # ss lists every holder of the socket; a child between fork and exec (gone before its
    # cgroup was read: no @unit line) came first, and the port looked taken by a stranger
    child_first = ("(\"kprov-apiserver\",pid=640,fd=19)=>"
                   "(\"kprov-apiserver\",pid=4242,fd=19),(\"kprov-apiserver\",pid=640,fd=19)")
    assert _found(evaluate(_probes(h2=child_first), _shape())) == set()
    stranger = child_first + "|@unit 640 kprov-apiserver.service=>"
    assert _found(evaluate(_probes(h2=stranger), _shape())) == {("h2", "ports")}


def test_a_slow_round_trip_is_not_a_skewed_clock() -> None:
    probes = _probes()
    # h2's batch took 12 s on a loaded operator and read its (correct) clock near the start:
    # 6 s off the window's midpoint, within what that window can tell
    probes["h2"] = parse_probe("h2", GOOD.format(time=1000.0, mid="m1"), 1000.0 - 0.1, 1000.0 + 11.9)
    assert _found(evaluate(probes, _shape())) == set()
    # a real skew beyond the limit and the window still counts
    probes["h2"] = parse_probe("h2", GOOD.format(time=1020.0, mid="m1"), 1000.0 - 0.1, 1000.0 + 11.9)
    assert _found(evaluate(probes, _shape())) == {("h2", "clock")}


def test_duplicate_addresses_and_machines_and_names() -> None:
    dup = _shape(addresses={"h1": "10.0.0.1", "h2": "10.0.0.1", "h3": "10.0.0.3"})
    assert _found(evaluate(_probes(), dup)) == {("h1", "addresses"), ("h2", "addresses")}
    same_machine = _probes(h3="@machineid m2=>@machineid m1")
    same_machine["h3"].machine_id = same_machine["h2"].machine_id
    assert _found(evaluate(same_machine, _shape())) == {("h2", "addresses"), ("h3", "addresses")}
    names = _shape(hostnames={"h1": "node", "h2": "node", "h3": "h3"})
    assert _found(evaluate(_probes(), names)) == {("h1", "hostnames"), ("h2", "hostnames")}


def test_a_host_of_a_cluster_made_with_another_ca_is_stopped() -> None:
    """A new pki directory (the inventory moved, the old one lost) would replace a running
    cluster's CA, service-account key and encryption key: preflight names the host first."""
    mine, theirs = "a" * 64, "b" * 64
    probes = _probes(h2=f"@cgroup ok=>@cgroup ok\n@clusterca {theirs}  -",
                     h3=f"@cgroup ok=>@cgroup ok\n@clusterca {mine}  -")
    assert probes["h2"].cluster_ca_sha256 == theirs and probes["h1"].cluster_ca_sha256 == ""
    shape = ClusterShape(GROUPS, _shape().addresses, _shape().hostnames, "/inv/pki/ca.crt", mine)
    problems = [p for p in evaluate(probes, shape) if not p.warning]
    assert [(p.host, p.check) for p in problems] == [("h2", "cluster-ca")]  # h1: no cluster yet
    assert "/inv/pki/ca.crt" in problems[0].message and "kprov reset" in problems[0].fix
    assert evaluate(probes, _shape()) == []  # not a cluster run: no CA to compare with


def test_an_apiserver_vip_equal_to_a_hosts_address_is_refused_naming_the_host() -> None:
    shape = ClusterShape(GROUPS, _shape().addresses, _shape().hostnames,
                         vips={h: "10.0.0.2" for h in ("h1", "h2", "h3")})
    problems = evaluate(_probes(), shape)
    assert _found(problems) == {(h, "vip") for h in ("h1", "h2", "h3")}
    assert "apiserver_vip 10.0.0.2 is the own address of host h2" in problems[0].message
    assert "free address" in problems[0].fix
    free = ClusterShape(GROUPS, _shape().addresses, _shape().hostnames, vips={"h1": "10.0.0.10"})
    assert evaluate(_probes(), free) == []


def test_a_full_var_lib_kprov_of_its_own_is_refused_with_free_and_needed_space() -> None:
    mounts = "@df /var/lib 68283172=>@df /var/lib 68283172 /"
    own = _probes(h2=f"{mounts}|@done=>@df /var/lib/kprov 2048 /var/lib/kprov\n@done")
    problems = evaluate(own, _shape())
    assert _found(problems) == {("h2", "disk")}
    assert "2 MiB free under /var/lib/kprov" in problems[0].message
    assert "1024 MiB needed" in problems[0].message
    # the same file system as /var/lib (which has room): the /var/lib check speaks for it
    shared = _probes(h2=f"{mounts}|@done=>@df /var/lib/kprov 68283172 /\n@done")
    assert evaluate(shared, _shape()) == []


def test_the_stale_etcd_hint_names_commands_that_exist() -> None:
    from kprov.cli.etcd import app as etcd_app
    from kprov.deploy.preflight.checks import etcd_problem

    fix = etcd_problem("h3", "/var/lib/kprov/etcd/member", "/inv/hosts.yml").fix
    assert "kprov reset -i /inv/hosts.yml --limit h3" in fix and "kprov etcd members -i /inv/hosts.yml" in fix
    # `kprov etcd members`: there is no `members add`
    assert "members" in {c.name or c.callback.__name__ for c in etcd_app.registered_commands}


def test_skip_and_unknown_names() -> None:
    assert evaluate(_probes(h2="@python /usr/bin/python3=>@python "), _shape(), skip=["python"]) == []
    with pytest.raises(ValueError, match="unknown preflight check.*known: python"):
        evaluate({}, _shape(), skip=["nope"])
    assert "etcd-data" in CHECK_NAMES and "ports" in CHECK_NAMES


def _run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fakes: dict[str, FakeConnector]):
    monkeypatch.setenv("KPROV_LOG_DIR", str(tmp_path / "logs"))
    inv = tmp_path / "hosts.yml"
    inv.write_text(
        "all:\n  children:\n    etcd:\n      hosts: {h1: {ansible_host: 10.0.0.1}, "
        "h2: {ansible_host: 10.0.0.2}, h3: {ansible_host: 10.0.0.3}}\n"
        "    control_plane:\n      hosts: {h1: {}, h2: {}, h3: {}}\n")
    run = open_run([str(inv)], RunOptions())
    for host, fake in fakes.items():
        run.hosts[host].connector = LoggedConnector(fake, run.log)
        run.report.add_host(host)
    return run


def test_phase_stops_every_host_and_asks_the_quorum_about_stale_etcd_data(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    now = time.time()
    fakes = {}
    for i, host in enumerate(("h1", "h2", "h3")):
        text = GOOD.format(time=now, mid=f"m{i}")
        if host == "h3":  # left the quorum, re-used: data but no running etcd
            text = "\n".join(line for line in text.splitlines() if "582" not in line)  # etcd's listener
        fakes[host] = FakeConnector(host=host).on(r"@python", stdout=text)
    fakes["h1"].on(r"kprov-etcdctl member list", stdout=(
        "8e9e05c52164694d, started, h1, https://10.0.0.1:2380, https://10.0.0.1:2379, false\n"
        "91bc3c398fb3c146, started, h2, https://10.0.0.2:2380, https://10.0.0.2:2379, false\n"))
    run = _run(tmp_path, monkeypatch, fakes)
    phase = PreflightPhase()
    phase.run(run)
    run.log.close()
    failed = [(r.host, r.task) for r in run.report.results if r.status == "failed"]
    assert failed == [("h3", "preflight: etcd-data")]
    assert f"kprov reset -i {tmp_path / 'hosts.yml'} --limit h3" in run.report.results[-1].msg
    assert all(s.failed for s in run.hosts.values()) and not run.report.ok
    assert "preflight failed on h3: nothing was changed" in run.report.errors[0]
    assert all(len([c for c in f.commands if "@python" in c.cmd]) == 1 for f in fakes.values())
    assert phase.seconds > 0 and not fakes["h2"].puts


def test_a_member_of_a_bootstrap_that_never_started_is_not_stale() -> None:
    """After an interrupted cold apply: h1's etcd runs, h2 and h3 hold data of the same
    static bootstrap but never started; the list names them by peer URL only."""
    from kprov.deploy.preflight.phase import members_of

    listed = ("8e9e05c52164694d, started, h1, https://10.0.0.1:2380, https://10.0.0.1:2379, false\n"
              "91bc3c398fb3c146, unstarted, , https://10.0.0.2:2380, , false\n")
    assert members_of(listed) == ({"h1"}, {"10.0.0.1", "10.0.0.2"})


def test_phase_on_a_healthy_cluster_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    fakes = {h: FakeConnector(host=h).on(r"@python", stdout=GOOD.format(time=time.time(), mid=h))
             for h in ("h1", "h2", "h3")}
    run = _run(tmp_path, monkeypatch, fakes)
    PreflightPhase(skip=["swap"]).run(run)
    run.log.close()
    assert run.report.ok and not run.report.results and all(s.alive for s in run.hosts.values())


def test_phase_takes_the_probe_the_look_ahead_read_and_its_clock_window(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine reads PreflightPhase.early_probes with the plays' look-ahead: the phase then
    sends nothing, and judges the clock by that batch's send/receive window."""
    import time

    from kprov.provision.connect.base import CommandResult

    now = time.time()
    fakes = {h: FakeConnector(host=h) for h in ("h1", "h2", "h3")}
    run = _run(tmp_path, monkeypatch, fakes)
    phase = PreflightPhase()
    (key,) = phase.early_probes
    for i, host in enumerate(fakes):
        offset = 60.0 if host == "h3" else 0.0  # h3's clock is a minute ahead
        text = GOOD.format(time=now + 0.5 + offset, mid=f"m{i}")
        run.hosts[host].probes.store_all({key: CommandResult(0, text, "")}, 0, window=(now, now + 1.0))
    phase.run(run)
    run.log.close()
    assert all(not f.commands for f in fakes.values())
    failed = [(r.host, r.task) for r in run.report.results if r.status == "failed"]
    assert failed == [("h3", "preflight: clock")]
