"""ansible-core's script targets (runme.sh), ansible-playbook's run against kprov's.

Opt-in (``KPROV_ANSIBLE_RUNME=1`` runs every vendored script target, or a comma list):
each script runs on this machine through the local connection, as ansible-test runs a
controller target, first with ansible-core's ansible-playbook and then with kprov behind an
``ansible-playbook`` shim (tests/e2e/compat/ansible_runme.py). Not in CI: one script under
ansible-playbook alone takes 30 s to minutes. Prints one line per target and the counts.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .ansible_runme import recap_tasks, run_runme, runme_targets
from .ansible_targets import compare

_OPT_IN = os.environ.get("KPROV_ANSIBLE_RUNME", "")


def test_recaps_of_both_tools_are_summed() -> None:
    output = (
        "testhost                   : ok=5    changed=1    unreachable=0    failed=1    skipped=0\n"
        "│ testhost │  3 │       1 │           0 │      2 │       0 │       0 │       0 │\n"
    )
    assert recap_tasks(output) == 11
    assert "conditionals" in runme_targets() and "loops" not in runme_targets()


def test_the_shim_runs_kprov_as_ansible_playbook_would_be_run(tmp_path: Path) -> None:
    from .ansible_playbook_shim import command

    env = {"ANSIBLE_ROLES_PATH": "/r1:/r2", "OUTPUT_DIR": str(tmp_path), "ANSIBLE_FORCE_HANDLERS": "true"}
    argv = ["-vv", "-c", "local", "--tags", "x", "a.yml", "b.yml"]
    got = command(argv, env, "a.yml")
    assert got[1:3] == ["apply", "--output=ansible"] and got[-1] == "a.yml"
    assert got[3:8] == ["-vv", "-e", "ansible_connection=local", "--tags", "x"]
    assert ["-i", str(tmp_path / "kprov-empty-inventory")] == got[8:10]  # no -i: an empty one
    assert "--force-handlers" in got and "--roles-path=/r2" in got
    assert command(["-i", "inv", "a.yml"], {}, "a.yml").count("-i") == 1  # its own kept alone


@pytest.mark.skipif(not _OPT_IN, reason="opt-in: KPROV_ANSIBLE_RUNME=1 (or a comma list)")
def test_runme_targets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    names = runme_targets() if _OPT_IN == "1" else _OPT_IN.split(",")
    outcomes = []
    for name in names:
        outcomes.append(run_runme(name, tmp_path))
        with capsys.disabled():
            print(compare(outcomes[-1:])["targets"][0], flush=True)
    figures = compare(outcomes)
    with capsys.disabled():
        print(json.dumps(figures, indent=1))
    assert figures["ansible_targets_passed_ansible"] > 0
