"""`kprov upgrade`'s pure parts: worker batches and what each host gets."""

from __future__ import annotations

from pathlib import Path

import pytest

from kprov.deploy.upgrade import (
    HostPlan,
    UpgradeOptions,
    UpgradeResult,
    _how_to_continue,
    _Stop,
    batches_of,
    checked,
    running_version,
    still_old,
    what_changed,
)
from kprov.provision.execute.results import RunReport


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


def _report(changed: dict[str, int], interrupted: str = "") -> RunReport:
    report = RunReport()
    for host, count in changed.items():
        report.add_host(host)
        report.stats[host].changed = count
    report.interrupted = interrupted
    return report


def test_a_run_that_changed_nothing_does_not_say_upgraded() -> None:
    hosts = ["h1", "h2", "h3"]
    unchanged = what_changed(_report({"h1": 0, "h2": 0, "h3": 0}), hosts)
    assert unchanged == "nothing changed: h1, h2, h3 already current"
    assert what_changed(_report({"h1": 4, "h2": 0, "h3": 2}), hosts) == "h1, h3 upgraded; h2 already current"


def test_a_sigint_is_reported_as_an_interruption_not_a_failed_playbook() -> None:
    with pytest.raises(Exception, match="interrupted by SIGINT") as stop:
        checked(_report({"h1": 3}, interrupted="SIGINT"))
    assert "the playbook failed" not in str(stop.value)
    assert checked(_report({"h1": 3})).stats["h1"].changed == 3


RT = "/opt/kprov/runtime"


def _read(link: str, *units: str) -> str:
    return "\n".join([f"link {RT}/{link}" if link else "link ", *units]) + "\n"


def test_the_version_is_what_the_components_run_not_the_link() -> None:
    both = f"maps {RT}/abc123 "
    assert running_version(_read("abc123", f"unit kprov-apiserver.service {both}",
                                 "unit kprov-mirror-order.service since-link")) == "abc123"
    node = _read("abc123-node", f"unit kprov-kubelet.service maps {RT}/abc123-node")
    assert running_version(node) == "abc123"
    # an interrupted switch: the link names the new build, every process still runs the old one
    stale = running_version(_read("new999", f"unit kprov-apiserver.service maps {RT}/abc123",
                                  "unit kprov-mirror-order.service before-link"))
    assert stale.startswith("mixed: abc123 (kprov-apiserver); older (kprov-mirror-order)")
    assert running_version(_read("new999", f"unit kprov-apiserver.service maps {RT}/abc123")) \
        == "abc123 (installed: new999)"
    half = running_version(_read("new999", f"unit kprov-apiserver.service maps {RT}/new999",
                                 f"unit kprov-dns.service maps {RT}/abc123"))
    assert half == "mixed: new999 (kprov-apiserver); abc123 (kprov-dns)"
    for current in (stale, half, "abc123 (installed: new999)"):
        assert HostPlan("h1", "control-plane", current, "new999").needed  # upgraded again, not skipped
        assert HostPlan("h1", "control-plane", current, "abc123").needed
    # a pure-Python component started before the switch runs the version the switch kept
    kept = _read("new999", "kept abc123 new999", f"unit kprov-apiserver.service maps {RT}/abc123",
                 "unit kprov-mirror-order.service before-link", "unit kprov-proxy.service before-link")
    assert running_version(kept) == "abc123 (installed: new999)"
    assert running_version(_read("abc123")) == "abc123 (installed; no kprov component running)"
    assert running_version(_read("")) == ""
    assert running_version("") == ""


def test_a_host_whose_processes_kept_the_old_build_stops_the_upgrade() -> None:
    still_old({"h1": "new999", "h2": "new999"}, ["h1", "h2"], "new999")  # all on the new build
    with pytest.raises(_Stop) as stop:
        still_old({"h1": "new999", "h2": "abc123 (installed: new999)"}, ["h1", "h2", "h3"], "new999")
    assert str(stop.value).endswith("h2 runs abc123 (installed: new999); h3 runs nothing readable")
