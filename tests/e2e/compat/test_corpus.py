"""The compat corpus (tests/compat/corpus/site.yml: public roles on three lab hosts): kprov
converges it cold, a second kprov run changes nothing, and ansible-playbook run after kprov
on the same hosts changes nothing either — kprov left them exactly as Ansible would.

When test_corpus_wide_subset.py is in the session too, its run (h5) is started first, in a
thread beside this one (h1..h3): disjoint hosts, so the two take about as long as the longer
(conftest.py)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from kprov.provision.pipelines import run_playbook
from tests.integration.compat.twin import run_ansible

from .conftest import SideRuns, selected
from .corpus_repo import corpus_repo
from .test_corpus_wide_subset import start_beside

pytestmark = pytest.mark.lab
HOSTS = ["h1", "h2", "h3"]
COMPAT = Path(__file__).resolve().parents[2] / "compat"
SITE = COMPAT / "corpus" / "site.yml"
ROLES = COMPAT / "roles"
CORPUS_SERVICES = ("firewall", "nginx", "apache2", "haproxy", "redis-server", "memcached", "postfix",
                   "smbd", "nmbd", "munin-node", "ntp")


def _failures(report) -> list[str]:
    return [f"{r.host} {r.task}: {r.msg}" for r in report.results if r.status == "failed" and not r.ignored]


@pytest.fixture(scope="module")
def runs(request: pytest.FixtureRequest, lab_hosts, lab_inventory, tmp_path_factory: pytest.TempPathFactory,
         side_runs: SideRuns):
    os.environ.setdefault("KPROV_LOG_DIR", str(tmp_path_factory.mktemp("logs")))
    os.environ["ANSIBLE_ROLES_PATH"] = str(ROLES)  # (for ansible-playbook; kprov is given roles_path)
    # (the environment is set first: a side run's thread copies it as it starts processes)
    if selected(request, "test_corpus_wide_subset.py"):
        start_beside(side_runs, lab_hosts, lab_inventory, tmp_path_factory)
    lab = lab_hosts(3)
    inventory = lab_inventory(3)
    try:
        with corpus_repo(lab, HOSTS):
            start = time.monotonic()
            cold = run_playbook(inventory, SITE, roles_path=[ROLES])
            cold_s = time.monotonic() - start
            start = time.monotonic()
            noop = run_playbook(inventory, SITE, roles_path=[ROLES])
            noop_s = time.monotonic() - start
            start = time.monotonic()
            ansible = run_ansible(inventory, SITE, {}, tmp_path_factory.mktemp("ansible"))
            ansible_s = time.monotonic() - start
        print(f"corpus: kprov cold {cold_s:.1f}s, kprov no-op {noop_s:.1f}s, "
              f"ansible after kprov {ansible_s:.1f}s")
        yield cold, noop, ansible
    finally:
        _quiesce(lab)


def _quiesce(lab) -> None:
    """Stop what the corpus started so later e2e modules find the hosts' ports open: the
    firewall role on h2 drops every port but 22/80/6379 (an etcd member there would answer its
    peers over its own outbound streams while its client port stayed dark), and the daemons
    hold ports other clusters' components want."""
    for host in HOSTS:
        lab.ssh(host, f"for unit in {' '.join(CORPUS_SERVICES)}; do systemctl disable --now $unit; done "
                      "2>/dev/null; iptables -F; ip6tables -F; true")


def test_kprov_converges_the_corpus_cold(runs) -> None:
    cold, _, _ = runs
    assert cold.ok, _failures(cold)
    assert all(cold.stats[h].changed > 0 for h in HOSTS)  # fresh hosts: every one gets something


def test_second_kprov_run_changes_nothing(runs) -> None:
    _, noop, _ = runs
    assert noop.ok, _failures(noop)
    changed = [f"{r.host} {r.task}" for r in noop.results if r.status == "changed"]
    assert changed == []


def test_ansible_after_kprov_changes_nothing(runs) -> None:
    _, _, ansible = runs
    assert ansible.ok, ansible.output
    assert ansible.changed == dict.fromkeys(HOSTS, 0), ansible.output
