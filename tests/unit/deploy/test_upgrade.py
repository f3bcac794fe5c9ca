"""`kprov upgrade`'s pure parts: worker batches and what each host gets."""

from __future__ import annotations

from pathlib import Path

from kprov.deploy.upgrade import HostPlan, UpgradeOptions, UpgradeResult, _how_to_continue, batches_of


def test_worker_batches_by_count_or_percentage() -> None:
    hosts = [f"h{i}" for i in range(4, 14)]
    assert batches_of(hosts, "1") == [[h] for h in hosts]
    assert [len(b) for b in batches_of(hosts, "3")] == [3, 3, 3, 1]
    assert [len(b) for b in batches_of(hosts, "10%")] == [1] * 10
    assert [len(b) for b in batches_of(hosts, "25%")] == [2] * 5
    assert batches_of(hosts[:2], "1%") == [["h4"], ["h5"]]  # at least one


def test_a_host_on_the_new_version_is_skipped() -> None:
    assert HostPlan("h1", "control-plane", "aaa", "bbb").needed
    assert not HostPlan("h4", "worker", "bbb", "bbb").needed


def test_a_stopped_upgrade_says_how_to_continue_and_go_back(tmp_path: Path) -> None:
    result = UpgradeResult(backup=tmp_path / "etcd-snapshot-x.db", stopped="workers: draining h4")
    text = _how_to_continue(UpgradeOptions(tmp_path / "hosts.yml"), result)
    assert f"kprov upgrade -i {tmp_path / 'hosts.yml'}` again" in text
    assert "kubectl uncordon" in text
    assert f"kprov etcd restore -i {tmp_path / 'hosts.yml'} {tmp_path / 'etcd-snapshot-x.db'}" in text
    assert not result.ok
