"""Run a corpus of playbooks (one per host) side by side with kprov or ansible-playbook.

Each playbook runs as its own CLI process, all at once, so that one host's failure stops only
its own playbook (Ansible ends a playbook whose play has no hosts left) and the corpus takes
as long as its slowest host. ``kprov apply --json`` reports are merged into one RunReport;
ansible-playbook's outputs are joined and their recaps read per host.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from kprov.provision.execute.results import RunReport, TaskResult

__all__ = ["AnsibleRuns", "CorpusRuns", "ansible_env", "converge", "run_ansible_corpus", "run_kprov_corpus"]

BIN = Path(sys.executable).parent
_RECAP = re.compile(
    r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)", re.M
)


@dataclass
class AnsibleRuns:
    ok: bool
    output: str
    recap: dict[str, tuple[int, int, int]]  # host -> (ok, changed, skipped)
    failed: dict[str, int]


def ansible_env(roles: Path, work: Path) -> dict[str, str]:
    return {
        **os.environ,
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_PIPELINING": "1",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_ROLES_PATH": str(roles),
        "ANSIBLE_DEPRECATION_WARNINGS": "0",
        "ANSIBLE_LOCAL_TEMP": str(work / "ansible-tmp"),
        "KPROV_LOG_DIR": str(work / "logs"),
    }


def _all_at_once(
    commands: list[list[str]], env: Mapping[str, str]
) -> tuple[float, list[tuple[int, str, str]]]:
    start = time.monotonic()
    procs = [
        subprocess.Popen(
            argv,
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        for argv in commands
    ]
    outcomes = []
    for proc in procs:
        out, err = proc.communicate(timeout=3600)
        outcomes.append((proc.returncode, out, err))
    return time.monotonic() - start, outcomes


def run_kprov_corpus(
    playbooks: list[Path], inventory: Path, roles: Path, env: Mapping[str, str]
) -> tuple[float, RunReport]:
    took, outcomes = _all_at_once(
        [
            [str(BIN / "kprov"), "apply", "--json", "-i", str(inventory), "--roles-path", str(roles), str(p)]
            for p in playbooks
        ],
        env,
    )
    report = RunReport()
    for playbook, (rc, out, err) in zip(playbooks, outcomes, strict=True):
        try:
            doc = json.loads(out)
        except json.JSONDecodeError:
            report.errors.append(f"{playbook.name}: kprov apply printed no JSON (rc={rc}): {err[-2000:]}")
            continue
        report.errors += doc["errors"]
        for result in doc["results"]:
            report.record(TaskResult(**result))
    return took, report


def run_ansible_corpus(
    playbooks: list[Path], inventory: Path, env: Mapping[str, str]
) -> tuple[float, AnsibleRuns]:
    took, outcomes = _all_at_once(
        [[str(BIN / "ansible-playbook"), "--forks", "5", "-i", str(inventory), str(p)] for p in playbooks],
        env,
    )
    output = "\n".join(out + err for _, out, err in outcomes)
    recaps = {m.group(1): m for m in _RECAP.finditer(output)}
    return took, AnsibleRuns(
        ok=all(rc == 0 for rc, _, _ in outcomes),
        output=output,
        recap={h: (int(m.group(2)), int(m.group(3)), int(m.group(6))) for h, m in recaps.items()},
        failed={h: int(m.group(5)) for h, m in recaps.items()},
    )


@dataclass
class CorpusRuns:
    cold: RunReport
    noop: RunReport
    ansible: AnsibleRuns
    seconds: tuple[float, float, float]  # kprov cold, kprov no-op, ansible after kprov


def converge(playbooks: list[Path], inventory: Path, roles: Path, work: Path) -> CorpusRuns:
    """kprov cold, kprov again, then ansible-playbook on the hosts kprov converged."""
    env = ansible_env(roles, work)
    cold_s, cold = run_kprov_corpus(playbooks, inventory, roles, env)
    noop_s, noop = run_kprov_corpus(playbooks, inventory, roles, env)
    ansible_s, ansible = run_ansible_corpus(playbooks, inventory, env)
    return CorpusRuns(cold, noop, ansible, (cold_s, noop_s, ansible_s))
