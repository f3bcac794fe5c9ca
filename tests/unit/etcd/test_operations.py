"""Backup and member removal driven against scripted connectors: the commands, their order,
and what lands on the operator machine."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml

from kprov.etcdops.cluster import EtcdCluster, EtcdOpsError
from kprov.etcdops.members import apply_membership, plan_for_inventory
from kprov.etcdops.snapshots import backup, verify_checksum
from kprov.provision.connect.base import CommandResult
from kprov.provision.connect.fake import FakeConnector

IDS = {f"h{i}": 100 + i for i in range(1, 6)}


def _inventory(tmp_path: Path, etcd: list[str]) -> Path:
    hosts = {f"h{i}": {"ansible_host": f"10.0.0.{i}"} for i in range(1, 6)}
    data = {"all": {"hosts": hosts, "children": {"etcd": {"hosts": {h: None for h in etcd}}}}}
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def _member_list(names: list[str]) -> str:
    members = [
        {"ID": IDS[n], "name": n, "peerURLs": [f"https://10.0.0.{n[1]}:2380"],
         "clientURLs": [f"https://10.0.0.{n[1]}:2379"]}
        for n in names
    ]
    return json.dumps({"header": {}, "members": members})


def _script(fake: FakeConnector, names: list[str], leader: str) -> FakeConnector:
    fake.on(r"endpoint health$", stdout="ok\n")
    fake.on(r"member list -w json", stdout=_member_list(names))
    fake.on(r"endpoint health -w json",
            stdout=json.dumps([{"endpoint": f"https://10.0.0.{n[1]}:2379", "health": True} for n in names]))
    status = [
        {"Endpoint": f"https://10.0.0.{n[1]}:2379",
         "Status": {"header": {"member_id": IDS[n]}, "leader": IDS[leader], "version": "3.4.23",
                    "dbSize": 20480, "raftIndex": 9, "raftTerm": 2}}
        for n in names
    ]
    fake.on(r"endpoint status -w json", stdout=json.dumps(status))
    return fake


def test_backup_fetches_checks_and_cleans_up(tmp_path) -> None:
    h1 = _script(FakeConnector(host="h1"), ["h1", "h2", "h3"], "h2")
    data = b"etcd snapshot bytes"

    def save(cmd: str, _stdin: bytes | None) -> CommandResult:
        h1.files[cmd.split()[-1]] = data
        return CommandResult(0, "Snapshot saved\n", "")

    h1.on(r"snapshot save", save)
    h1.on(r"^sha256sum", stdout=f"{hashlib.sha256(data).hexdigest()}  /var/tmp/x\n")
    h1.on(r"^rm -f /var/tmp/kprov-etcd-snapshot-", stdout="")
    with EtcdCluster(_inventory(tmp_path, ["h1", "h2", "h3"]), connect=lambda h, v: h1) as cluster:
        result = backup(cluster, tmp_path / "out")
    assert result.path.read_bytes() == data and result.member == "h1"
    assert result.path.name.startswith("etcd-snapshot-") and result.path.suffix == ".db"
    assert result.path.stat().st_mode & 0o777 == 0o600
    assert verify_checksum(result.path) == hashlib.sha256(data).hexdigest()
    assert h1.commands[-1].cmd.startswith("rm -f /var/tmp/kprov-etcd-snapshot-")


def test_backup_refuses_a_corrupted_transfer(tmp_path) -> None:
    h1 = _script(FakeConnector(host="h1"), ["h1"], "h1")
    h1.on(r"snapshot save", lambda cmd, _s: (h1.files.__setitem__(cmd.split()[-1], b"x"),
                                              CommandResult(0, "", ""))[1])
    h1.on(r"^sha256sum", stdout="0" * 64 + "  f\n")
    h1.on(r"^rm -f", stdout="")
    with EtcdCluster(_inventory(tmp_path, ["h1"]), connect=lambda h, v: h1) as cluster, \
            pytest.raises(EtcdOpsError, match="changed in transfer"):
        backup(cluster, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_checksum_mismatch_is_refused(tmp_path) -> None:
    snap = tmp_path / "s.db"
    snap.write_bytes(b"abc")
    (tmp_path / "s.db.sha256").write_text("0" * 64 + "  s.db\n")
    with pytest.raises(EtcdOpsError, match="does not match"):
        verify_checksum(snap)
    (tmp_path / "s.db.sha256").unlink()
    assert verify_checksum(snap) is None


def test_shrink_hands_over_leadership_then_removes_then_stops_and_wipes(tmp_path) -> None:
    five = ["h1", "h2", "h3", "h4", "h5"]
    fakes = {h: FakeConnector(host=h) for h in five}
    _script(fakes["h1"], five, leader="h5")
    fakes["h1"].on(r"move-leader", stdout="Leadership transferred\n")
    fakes["h1"].on(r"member remove", stdout="Member removed\n")
    for h in ("h4", "h5"):
        fakes[h].on(r"^systemctl disable --now kprov-etcd", stdout="")
    inventory = _inventory(tmp_path, ["h1", "h2", "h3"])
    progress: list[str] = []
    with EtcdCluster(inventory, connect=lambda h, v: fakes[h]) as cluster:
        plan, _ = plan_for_inventory(cluster)
        assert [(s.action, s.host) for s in plan.steps] == [("remove", "h4"), ("remove", "h5")]
        apply_membership(cluster, plan, progress.append)
    h1_cmds = [c.cmd for c in fakes["h1"].commands if "move-leader" in c.cmd or "member remove" in c.cmd]
    assert [c.split()[3:] for c in h1_cmds] == [
        ["member", "remove", f"{IDS['h4']:x}"],
        ["--endpoints=" + ",".join(f"https://10.0.0.{i}:2379" for i in range(1, 6)), "move-leader",
         f"{IDS['h1']:x}"],
        ["member", "remove", f"{IDS['h5']:x}"],
    ]
    for h in ("h4", "h5"):
        (wipe,) = fakes[h].commands
        assert wipe.become and "rm -rf /var/lib/kprov/etcd/member" in wipe.cmd
    assert any("leadership moved to h1" in line for line in progress)


def test_growth_adds_then_provisions_with_state_existing(tmp_path) -> None:
    fakes = {h: FakeConnector(host=h) for h in ("h1", "h2", "h3", "h4")}
    members = ["h1", "h2", "h3"]
    _script(fakes["h1"], members, leader="h1")
    fakes["h1"].on(r"member add h4 --peer-urls=https://10.0.0.4:2380", stdout="Member added\n")
    fakes["h4"].on(r"^systemctl stop kprov-etcd", stdout="")
    calls: list[tuple[str, dict]] = []

    def provision(inv: object, host: str, extra: dict) -> float:
        calls.append((host, extra))
        return 1.0

    inventory = _inventory(tmp_path, ["h1", "h2", "h3", "h4", "h5"])
    with EtcdCluster(inventory, connect=lambda h, v: fakes[h]) as cluster:
        plan, _ = plan_for_inventory(cluster)
        assert [(s.action, s.host) for s in plan.steps] == [("add", "h4"), ("add", "h5")]
        first = type(plan)(plan.current, plan.target, plan.steps[:1])
        apply_membership(cluster, first, provision=provision)
    assert calls == [("h4", {
        "etcd_initial_cluster_state": "existing",
        "etcd_initial_cluster": ",".join(f"h{i}=https://10.0.0.{i}:2380" for i in (1, 2, 3, 4)),
    })]
    # the stale data dir on the joining host is wiped before the member is added
    assert fakes["h4"].commands[0].cmd.startswith("systemctl stop kprov-etcd")
