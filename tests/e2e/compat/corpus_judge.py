"""Per-role verdicts for a compat corpus: which roles kprov converged as Ansible would.

A corpus playbook lists roles per host; a role passes when kprov's cold run has no failed task
of it (and reached it: a failure earlier on the host stops the host), kprov's second run
changes none of its tasks, and ansible-playbook run afterwards changes none either. kprov's
task results name their role by the file they come from (``origin``: .../roles/NAME/...);
ansible-playbook's output by its task headers (``TASK [NAME : task]``) followed by
``changed: [host]`` lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kprov.provision.execute.results import RunReport, TaskResult

__all__ = ["RoleVerdict", "ansible_changed_roles", "corpus_roles", "judge", "role_of"]

_ORIGIN_ROLE = re.compile(r"/roles/([^/]+)/")
_TASK_HEADER = re.compile(r"^(?:TASK|RUNNING HANDLER) \[(?:([^\]:]+?) : )?[^\]]*\]", re.M)
_CHANGED = re.compile(r"^changed: \[([^\]\s]+)")


@dataclass
class RoleVerdict:
    role: str
    host: str
    reached: bool = False
    cold_failures: list[str] = field(default_factory=list)
    noop_changed: list[str] = field(default_factory=list)
    ansible_changed: int = 0

    @property
    def passed(self) -> bool:
        return self.reached and not self.cold_failures and not self.noop_changed and not self.ansible_changed

    def why(self) -> str:
        if not self.reached:
            return "not reached (an earlier role failed on the host)"
        parts = [
            f"cold failed: {'; '.join(self.cold_failures)}" if self.cold_failures else "",
            f"second run changed: {', '.join(self.noop_changed)}" if self.noop_changed else "",
            f"ansible afterwards changed {self.ansible_changed}" if self.ansible_changed else "",
        ]
        return " / ".join(p for p in parts if p)


def corpus_roles(playbook: Path) -> list[tuple[str, str]]:
    """(host pattern, role name) for every role entry of every play, in order."""
    entries: list[tuple[str, str]] = []
    for play in yaml.safe_load(playbook.read_text()):
        for role in play.get("roles") or []:
            name = role if isinstance(role, str) else role.get("role") or role["name"]
            entries.append((str(play["hosts"]), name))
    return entries


def role_of(result: TaskResult) -> str:
    found = _ORIGIN_ROLE.search(result.origin)
    return found.group(1) if found else ""


def ansible_changed_roles(output: str) -> dict[tuple[str, str], int]:
    """{(role, host): changed task count} from ansible-playbook's default output."""
    counts: dict[tuple[str, str], int] = {}
    role = ""
    for line in output.splitlines():
        header = _TASK_HEADER.match(line)
        if header:
            role = header.group(1) or ""
            continue
        changed = _CHANGED.match(line)
        if changed:
            key = (role, changed.group(1).split(" ")[0])
            counts[key] = counts.get(key, 0) + 1
    return counts


def judge(
    roles: Iterable[tuple[str, str]], cold: RunReport, noop: RunReport, ansible_output: str
) -> list[RoleVerdict]:
    verdicts = {(role, host): RoleVerdict(role, host) for host, role in roles}
    for result in cold.results:
        verdict = verdicts.get((role_of(result), result.host))
        if verdict is None:
            continue
        verdict.reached = True
        if result.status in ("failed", "unreachable") and not result.ignored:
            verdict.cold_failures.append(f"{result.task}: {result.msg}"[:300])
    for result in noop.results:
        verdict = verdicts.get((role_of(result), result.host))
        if verdict is not None and result.status == "changed":
            verdict.noop_changed.append(result.task)
    for (role, host), count in ansible_changed_roles(ansible_output).items():
        if (role, host) in verdicts:
            verdicts[(role, host)].ansible_changed = count
    return list(verdicts.values())


def summary(verdicts: list[RoleVerdict]) -> dict[str, Any]:
    return {
        "passed": sum(v.passed for v in verdicts),
        "total": len(verdicts),
        "failing": {f"{v.host} {v.role}": v.why() for v in verdicts if not v.passed},
    }
