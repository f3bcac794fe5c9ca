"""The wide compat corpus's regression subset in the e2e stage: h5's playbook
(tests/compat/corpus/wide/h5.yml — locales from Oefenweb, fail2ban and logrotate from
robertdebock: locale_gen, ini_file, role argument specs, run_once delegated asserts,
handlers; Linux System Roles and willshersystems.sshd with their own modules in `library/`,
one a WANT_JSON shell module; ansible.posix.sysctl) judged as the whole corpus is in its own
stage (test_corpus_wide.py). When test_corpus.py is in the session, its fixture has started
this run beside its own (conftest.py); the fixture here takes it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kprov.lab import Lab

from .conftest import SideRuns
from .corpus_judge import corpus_roles
from .corpus_run import CorpusRuns
from .test_corpus_wide import HOSTS, PLAYBOOKS, converged, judged

pytestmark = pytest.mark.lab
SUBSET = [p for p in PLAYBOOKS if p.stem == "h5"]
SIDE_RUN = "wide corpus subset"


def subset_converged(inventory: Path, lab: Lab, work: Path) -> CorpusRuns:
    return converged(inventory, lab, work, SUBSET)


def start_beside(side_runs: SideRuns, lab_hosts, lab_inventory,  # type: ignore[no-untyped-def]
                 tmp_path_factory: pytest.TempPathFactory) -> None:
    """Start this module's run in a thread (the hosts brought up and the paths made first,
    here: the fixtures are not for threads)."""
    inventory, lab = lab_inventory(len(HOSTS)), lab_hosts(len(HOSTS))
    work = tmp_path_factory.mktemp("corpus")
    side_runs.start(SIDE_RUN, lambda: subset_converged(inventory, lab, work))


@pytest.fixture(scope="module")
def runs(lab_hosts, lab_inventory, tmp_path_factory: pytest.TempPathFactory,
         side_runs: SideRuns) -> CorpusRuns:
    started = side_runs.take(SIDE_RUN)
    if started is not None:
        result: CorpusRuns = started.result()
        return result
    inventory, lab = lab_inventory(len(HOSTS)), lab_hosts(len(HOSTS))
    return subset_converged(inventory, lab, tmp_path_factory.mktemp("corpus"))


def test_subset_converges_as_ansible_would(runs: CorpusRuns) -> None:
    result = judged(runs, SUBSET)
    assert result["failing"] == {}
    # every role of h5's playbook was judged, those that bring their own modules among them
    assert result["total"] == len(corpus_roles(SUBSET[0])) >= 10


def test_subset_recap_equals_ansible_playbooks(runs: CorpusRuns) -> None:
    assert runs.ansible.ok, runs.ansible.output[-4000:]
    assert {h: (s.ok, s.changed, s.skipped) for h, s in runs.noop.stats.items()} == runs.ansible.recap
