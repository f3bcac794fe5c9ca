"""ansible-core's own integration targets, run as roles by ansible-playbook and by kprov.

The targets are test data (tests/data/ansible-targets: ansible-core v2.18.0rc1's
``test/integration/targets``, GPL-3.0, vendored unmodified). Each one runs as ansible-test
runs a role target: one play ``hosts: testhost``, facts gathered unless the target's
``aliases`` say ``gather_facts/no``, ``output_dir`` set, ``roles: [<target>]``, with the
vendored folder as the roles path (so ``setup_remote_tmp_dir`` and the other dependencies
resolve as in ansible-core's tree). ansible-playbook runs it on one lab host and kprov on the
other, at the same time; each side's inventory calls its host ``testhost``.

A target passes when the run ends without a failure; ``tasks`` is how many tasks ran on the
host (the recap's ok + failed: changed is part of ok, skipped tasks did not run), so a run
that ends early with success shows as fewer tasks than Ansible's. Both recaps count alike,
as ansible-core 2.18's strategy does (measured: tests/unit/provision/test_recap_counts.py):
a dynamic include is ok once per file it loaded for the host, gathering facts counts, an
ignored failure is ok, a rescued failure is taken back from failed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = ["TARGETS_DIR", "Outcome", "Side", "compare", "inventories", "role_targets", "run_target"]

BIN = Path(sys.executable).parent
TARGETS_DIR = Path(__file__).resolve().parents[2] / "data" / "ansible-targets" / "targets"
_RECAP = re.compile(
    r"^testhost\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)", re.M
)
OUTPUT_DIR = "/tmp/ansible-targets-output"


@dataclass(frozen=True)
class Side:
    passed: bool
    tasks: int
    seconds: float
    detail: str  # the first failure (kprov) or the output's tail (ansible)


@dataclass(frozen=True)
class Outcome:
    target: str
    ansible: Side
    kprov: Side

    @property
    def parity(self) -> bool:
        """kprov passes where Ansible passes, running at least as many tasks."""
        return self.kprov.passed and self.kprov.tasks >= self.ansible.tasks


def role_targets() -> list[str]:
    """The vendored targets that are tests (the ``setup_*``/``prepare_*`` roles are only
    dependencies)."""
    return sorted(
        p.name for p in TARGETS_DIR.iterdir()
        if (p / "tasks" / "main.yml").is_file() and (p / "aliases").is_file()
        and not p.name.startswith(("setup_", "prepare_"))
    )


def _gather_facts(target: str) -> bool:
    return "gather_facts/no" not in (TARGETS_DIR / target / "aliases").read_text()


def inventories(lab_inventory: Path, hosts: Mapping[str, str], folder: Path) -> dict[str, Path]:
    """One inventory per side ({side: lab host}), its host renamed ``testhost``."""
    data: dict[str, Any] = yaml.safe_load(lab_inventory.read_text())
    written = {}
    for side, host in hosts.items():
        one = {"all": {"vars": data["all"]["vars"],
                       "hosts": {"testhost": data["all"]["hosts"][host]}}}
        path = folder / f"inventory-{side}.yml"
        path.write_text(yaml.safe_dump(one))
        written[side] = path
    return written


def _playbook(target: str, folder: Path) -> Path:
    play = {"hosts": "testhost", "gather_facts": _gather_facts(target),
            "vars": {"output_dir": OUTPUT_DIR}, "roles": [target]}
    path = folder / f"{target}.yml"
    path.write_text(yaml.safe_dump([play], sort_keys=False))
    return path


def _env(folder: Path) -> dict[str, str]:
    return {
        **os.environ,
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_PIPELINING": "1",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_DEPRECATION_WARNINGS": "0",
        "ANSIBLE_ROLES_PATH": str(TARGETS_DIR),
        "ANSIBLE_LOCAL_TEMP": str(folder / "ansible-tmp"),
        "KPROV_LOG_DIR": str(folder / "logs"),
    }


def _run(argv: list[str], env: Mapping[str, str], timeout: float) -> tuple[int, str, str, float]:
    start = time.monotonic()
    try:
        done = subprocess.run(argv, env=dict(env), capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return -1, "", f"timed out after {timeout:.0f} s", time.monotonic() - start
    return done.returncode, done.stdout, done.stderr, time.monotonic() - start


def _ansible(playbook: Path, inventory: Path, env: Mapping[str, str], timeout: float) -> Side:
    rc, out, err, took = _run([str(BIN / "ansible-playbook"), "-i", str(inventory), str(playbook)],
                              env, timeout)
    recap = _RECAP.search(out)
    tasks = int(recap.group(1)) + int(recap.group(4)) if recap else 0
    return Side(rc == 0, tasks, took, (out + err)[-3000:])


def _kprov(playbook: Path, inventory: Path, env: Mapping[str, str], timeout: float) -> Side:
    rc, out, err, took = _run([str(BIN / "kprov"), "apply", "--json", "-i", str(inventory),
                               "--roles-path", str(TARGETS_DIR), str(playbook)], env, timeout)
    try:
        doc = json.loads(out)
    except json.JSONDecodeError:
        return Side(False, 0, took, f"no JSON (rc={rc}): {err[-2000:]}")
    stats = doc["stats"].get("testhost", {})
    failures = [f"{r['task']}: {r['msg']}" for r in doc["results"]
                if r["status"] in ("failed", "unreachable") and not r.get("ignored")]
    detail = "; ".join(doc["errors"] + failures[:1])
    return Side(bool(doc["ok"]) and rc == 0, int(stats.get("ok", 0)) + int(stats.get("failed", 0)),
                took, detail[:2000])


def run_target(target: str, inventory: Mapping[str, Path], folder: Path,
               timeout: float = 600) -> Outcome:
    """Both sides at once, each on its own host."""
    work = folder / target
    work.mkdir(parents=True, exist_ok=True)
    playbook = _playbook(target, work)
    env = _env(work)
    with ThreadPoolExecutor(2) as pool:
        ansible = pool.submit(_ansible, playbook, inventory["ansible"], env, timeout)
        kprov = pool.submit(_kprov, playbook, inventory["kprov"], env, timeout)
        return Outcome(target, ansible.result(), kprov.result())


def compare(outcomes: list[Outcome]) -> dict[str, Any]:
    """The figures: targets Ansible passes, of those kprov passes (with at least Ansible's
    tasks), and one line per target."""
    passed_ansible = [o for o in outcomes if o.ansible.passed]
    return {
        "ansible_targets_run": len(outcomes),
        "ansible_targets_passed_ansible": len(passed_ansible),
        "ansible_targets_passed_kprov": sum(o.parity for o in passed_ansible),
        "targets": [
            f"{o.target}: ansible {'pass' if o.ansible.passed else 'FAIL'} {o.ansible.tasks} tasks "
            f"{o.ansible.seconds:.1f}s, kprov {'pass' if o.kprov.passed else 'FAIL'} {o.kprov.tasks} tasks "
            f"{o.kprov.seconds:.1f}s" + ("" if o.parity or not o.ansible.passed else f" -- {o.kprov.detail}")
            for o in outcomes
        ],
    }
