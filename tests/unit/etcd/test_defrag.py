"""`kprov etcd defrag` against scripted members: one member at a time, followers first, the
leader last, health checked between; an unhealthy cluster is refused before anything runs."""

from __future__ import annotations

import json

import pytest

from kprov.etcdops.cluster import EtcdCluster, EtcdOpsError
from kprov.etcdops.defrag import defragment
from kprov.provision.connect.fake import FakeConnector
from tests.unit.etcd.test_operations import _inventory, _script


def test_followers_first_then_the_leader_with_sizes(tmp_path) -> None:
    three = ["h1", "h2", "h3"]
    h1 = _script(FakeConnector(host="h1"), three, leader="h1")
    h1.on(r" defrag ", stdout="Finished defragmenting etcd member\n")
    progress: list[str] = []
    with EtcdCluster(_inventory(tmp_path, three), connect=lambda h, v: h1) as cluster:
        done = defragment(cluster, progress.append)
    defrags = [c for c in h1.commands if " defrag " in c.cmd]
    assert [c.cmd.split("--endpoints=")[1].split()[0] for c in defrags] == [
        "https://10.0.0.2:2379", "https://10.0.0.3:2379", "https://10.0.0.1:2379"
    ]
    assert all("--command-timeout=600s" in c.cmd and c.become for c in defrags)
    assert [d.member for d in done] == ["h2", "h3", "h1"]
    assert all(d.before_bytes == d.after_bytes == 20480 for d in done)
    assert progress[-1].startswith("h1 (leader)")
    health_checks = [i for i, c in enumerate(h1.commands) if "endpoint health -w json" in c.cmd]
    defrag_at = [i for i, c in enumerate(h1.commands) if " defrag " in c.cmd]
    assert all(any(a < h < b for h in health_checks) for a, b in zip(defrag_at, defrag_at[1:], strict=False))


def test_an_unhealthy_member_stops_it_before_any_defrag(tmp_path) -> None:
    three = ["h1", "h2", "h3"]
    h1 = FakeConnector(host="h1")
    h1.on(r"endpoint health -w json", stdout=json.dumps([
        {"endpoint": f"https://10.0.0.{n[1]}:2379", "health": n != "h3", "error": "down" if n == "h3" else ""}
        for n in three]))
    _script(h1, three, leader="h1")
    with (EtcdCluster(_inventory(tmp_path, three), connect=lambda h, v: h1) as cluster,
          pytest.raises(EtcdOpsError, match="unhealthy member.*h3")):
        defragment(cluster)
    assert not [c for c in h1.commands if " defrag " in c.cmd]
