"""ansible-core's own integration targets on lab hosts: ansible-playbook on h1, kprov on h2.

CI runs a small subset (fast targets kprov passes: a regression in the engine's semantics
shows as a failed target or fewer tasks than Ansible's). ``KPROV_ANSIBLE_TARGETS=1`` runs
every vendored target (tests/e2e/compat/ansible_targets.py) and prints
``ansible_targets_passed_ansible``, ``ansible_targets_passed_kprov`` and one line per target;
``KPROV_ANSIBLE_TARGETS=a,b`` runs only those.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from .ansible_targets import Outcome, compare, inventories, role_targets, run_target

pytestmark = pytest.mark.lab

# fast (a few seconds a side), and each one covers a different part of the engine:
# changed_when/failed_when result keys, lookups (first_found's search path and term forms,
# subelements' checks), filters and tests; a module kprov builds as an action does (script:
# a controller file sent and run, creates/removes, check mode)
CI_SUBSET = ("changed_when", "failed_when", "lookup_dict", "lookup_env", "lookup_first_found",
             "lookup_subelements", "test_mathstuff", "script")
_OPT_IN = os.environ.get("KPROV_ANSIBLE_TARGETS", "")


@pytest.fixture(scope="module")
def sides(lab_inventory: Callable[[int], Path],
          tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Path], Path]:
    folder = tmp_path_factory.mktemp("ansible-targets")
    return inventories(lab_inventory(2), {"ansible": "h1", "kprov": "h2"}, folder), folder


@pytest.mark.parametrize("target", CI_SUBSET)
def test_target_passes_as_under_ansible(sides: tuple[dict[str, Path], Path], target: str) -> None:
    inventory, folder = sides
    outcome: Outcome = run_target(target, inventory, folder)
    assert outcome.ansible.passed, outcome.ansible.detail
    assert outcome.kprov.passed, outcome.kprov.detail
    assert outcome.kprov.tasks >= outcome.ansible.tasks > 0, compare([outcome])["targets"]


@pytest.mark.skipif(not _OPT_IN, reason="opt-in: KPROV_ANSIBLE_TARGETS=1 (or a comma list)")
def test_all_targets(sides: tuple[dict[str, Path], Path], capsys: pytest.CaptureFixture[str]) -> None:
    inventory, folder = sides
    names = role_targets() if _OPT_IN == "1" else _OPT_IN.split(",")
    outcomes = []
    for name in names:  # one line per target as it ends: a long run read while it goes
        outcomes.append(run_target(name, inventory, folder))
        with capsys.disabled():
            print(compare(outcomes[-1:])["targets"][0], flush=True)
    figures = compare(outcomes)
    with capsys.disabled():
        print(json.dumps(figures, indent=1))
    assert figures["ansible_targets_passed_ansible"] > 0
