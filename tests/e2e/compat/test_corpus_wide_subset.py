"""The wide compat corpus's regression subset in the e2e stage: h5's playbook
(tests/compat/corpus/wide/h5.yml — locales from Oefenweb, fail2ban and logrotate from
robertdebock: locale_gen, ini_file, role argument specs, run_once delegated asserts,
handlers; Linux System Roles and willshersystems.sshd with their own modules in `library/`,
one a WANT_JSON shell module; ansible.posix.sysctl) judged as the whole corpus is in its own
stage (test_corpus_wide.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .corpus_judge import corpus_roles
from .corpus_run import CorpusRuns
from .test_corpus_wide import PLAYBOOKS, converged, judged

pytestmark = pytest.mark.lab
SUBSET = [p for p in PLAYBOOKS if p.stem == "h5"]


@pytest.fixture(scope="module")
def runs(lab_hosts, lab_inventory, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CorpusRuns]:
    yield from converged(lab_hosts, lab_inventory, tmp_path_factory, SUBSET)


def test_subset_converges_as_ansible_would(runs: CorpusRuns) -> None:
    result = judged(runs, SUBSET)
    assert result["failing"] == {}
    # every role of h5's playbook was judged, those that bring their own modules among them
    assert result["total"] == len(corpus_roles(SUBSET[0])) >= 10


def test_subset_recap_equals_ansible_playbooks(runs: CorpusRuns) -> None:
    assert runs.ansible.ok, runs.ansible.output[-4000:]
    assert {h: (s.ok, s.changed, s.skipped) for h, s in runs.noop.stats.items()} == runs.ansible.recap
