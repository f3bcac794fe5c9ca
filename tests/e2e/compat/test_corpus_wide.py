"""The wide compat corpus (tests/compat/corpus/wide/: public roles from several authors, one
playbook per lab host, run side by side), judged role by role as the first corpus is: kprov
converges it cold, a second kprov run changes nothing, ansible-playbook run after kprov
changes nothing, and ansible-playbook's recap of that run equals kprov's recap of its second
run, host by host.

It takes longer than the e2e stage's budget allows (a cold install of ~50 Debian packages on
five hosts, three full runs), so it runs only when ``KPROV_CORPUS_WIDE=1`` (the opt-in
`corpus` stage of .ci/test; tests/bench/bench_corpus.py times it). The e2e stage keeps the
first corpus (test_corpus.py) and this corpus's small regression subset
(test_corpus_wide_subset.py).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import pytest

from kprov.lab import Lab
from kprov.lab.errors import LabError

from .corpus_judge import corpus_roles, judge, summary
from .corpus_repo import WIDE_PACKAGES, WIDE_PORT, corpus_repo
from .corpus_run import CorpusRuns, converge

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(
        os.environ.get("KPROV_CORPUS_WIDE") != "1",
        reason="the wide corpus is its own stage: KPROV_CORPUS_WIDE=1",
    ),
]
HOSTS = ["h1", "h2", "h3", "h4", "h5"]
COMPAT = Path(__file__).resolve().parents[2] / "compat"
PLAYBOOKS = sorted((COMPAT / "corpus" / "wide").glob("h*.yml"))
# KPROV_CORPUS_WIDE_ONLY=h1,h3: only those hosts' playbooks (after changing a role of theirs)
ONLY = [name for name in os.environ.get("KPROV_CORPUS_WIDE_ONLY", "").split(",") if name]
ROLES = COMPAT / "roles"
# what the corpus starts that holds ports or rewrites packet filters other e2e modules need
WIDE_SERVICES = (
    "rsyslog",
    "haveged",
    "snmpd",
    "tinyproxy",
    "dnsmasq",
    "fail2ban",
    "memcached",
    "squid",
    "xinetd",
    "exim4",
    "nfs-server",
    "rpcbind",
    "keepalived",
    "ufw",
    "cron",
    "vsftpd",
    "tangd.socket",
    "tftpd-hpa",
    "corpus-sleeper",
    "chrony",
    "tuned",
    "cockpit.socket",
)


@pytest.fixture(scope="module")
def runs(lab_hosts, lab_inventory, tmp_path_factory: pytest.TempPathFactory) -> CorpusRuns:
    return converged(lab_inventory(len(HOSTS)), lab_hosts(len(HOSTS)), tmp_path_factory.mktemp("corpus"),
                     _selected())


def _selected() -> list[Path]:
    return [p for p in PLAYBOOKS if p.stem in ONLY] if ONLY else PLAYBOOKS


def converged(inventory: Path, lab: Lab, work: Path, playbooks: list[Path]) -> CorpusRuns:
    """The corpus's ``playbooks`` converged on their hosts (each playbook is named after its
    host) of the lab's 5-host ``inventory`` (the fixture of this module and of the e2e stage's
    subset); afterwards, what they started is stopped (the tests read the runs' reports only).
    No pytest fixture is touched here: the subset's run may go in a thread beside the first
    corpus's (see conftest.py)."""
    hosts = [p.stem for p in playbooks]
    try:
        with corpus_repo(lab, hosts, WIDE_PACKAGES, name="compat-wide-repo", port=WIDE_PORT):
            runs = converge(playbooks, inventory, ROLES, work)
        cold_s, noop_s, ansible_s = runs.seconds
        print(f"wide corpus ({', '.join(hosts)}): kprov cold {cold_s:.1f}s, kprov no-op {noop_s:.1f}s, "
              f"ansible after kprov {ansible_s:.1f}s")
        return runs
    finally:
        for host in hosts:
            with contextlib.suppress(LabError):  # a host a role left unreachable is wiped anyway
                lab.ssh(host, f"for unit in {' '.join(WIDE_SERVICES)}; do systemctl disable --now $unit; "
                              "done 2>/dev/null; iptables -F; ip6tables -F; true")


def judged(runs: CorpusRuns, playbooks: list[Path]) -> dict[str, Any]:
    roles = [entry for playbook in playbooks for entry in corpus_roles(playbook)]
    return summary(judge(roles, runs.cold, runs.noop, runs.ansible.output))


def test_every_role_converges_as_ansible_would(runs: CorpusRuns) -> None:
    result = judged(runs, _selected())
    print(f"wide corpus: {result['passed']}/{result['total']} roles pass")
    assert result["failing"] == {}
    assert result["total"] >= (1 if ONLY else 15)


def test_ansible_after_kprov_changes_nothing(runs: CorpusRuns) -> None:
    ansible = runs.ansible
    assert ansible.ok, ansible.output[-4000:]
    assert all(changed == 0 for _, changed, _ in ansible.recap.values()), ansible.output[-4000:]


def test_recap_equals_ansible_playbooks(runs: CorpusRuns) -> None:
    """Both runs found the hosts converged: as many tasks ok, changed and skipped per host."""
    assert {h: (s.ok, s.changed, s.skipped) for h, s in runs.noop.stats.items()} == runs.ansible.recap
