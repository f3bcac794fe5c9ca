"""Benchmark: the compat corpora (tests/compat/corpus/site.yml on h1..h3, wide.yml on h1..h5)
under kprov and ansible-playbook, role by role.

Run as root: ``python tests/bench/bench_corpus.py [--corpus first|wide|both] [--only h1,h5]
[--no-ansible-cold]`` (lab instance from env KPROV_LAB, default 0; its hosts are wiped and
rebuilt for every cold run). For each corpus, on fresh hosts with the corpus's packages
served (tests/e2e/compat/corpus_repo.py):

1. ``kprov apply`` cold, again (no-op), then ``ansible-playbook`` on the converged hosts —
   each role judged as tests/e2e/compat/test_corpus_wide.py judges it (corpus_judge.py);
2. fresh hosts again, ``ansible-playbook`` cold (skipped with ``--no-ansible-cold``).

Both tools run as CLI processes, wall time start-up included; Ansible with pipelining,
ControlPersist and --forks 5. Prints ``name = value``: corpus_roles_total,
corpus_roles_passed, corpus_kprov_cold_s, corpus_ansible_cold_s, corpus_kprov_noop_s,
corpus_ansible_noop_s (the run after kprov's, on converged hosts), corpus_cold_speedup
(= ansible cold / kprov cold, summed over the corpora) and corpus_noop_speedup; each failing
role on a ``#`` line with why, and each host whose recaps differ. The wide corpus's playbooks
(one per host) run side by side, as tests/e2e/compat/corpus_run.py runs them. ``--corpus wide
--only h5`` is a small run that proves the bench works.

Then, on h1 of the hosts left up, one module run through Ansible's module protocol (a role's
``library/`` module: ``sr_fingerprint``, which every Linux System Role of the corpus calls,
from a playbook's ``library/``; it needs nothing but the host's Python): a playbook of 1 task
and one of 1 + ``--protocol-tasks`` tasks, each under ``kprov apply`` and ``ansible-playbook``
(median of 3); the difference over the added tasks is the per-task time with start-up,
connection and facts cancelled out. The corpus figures are printed first. Prints
``protocol_module_task_ms`` (kprov), ``ansible_module_task_ms`` (ansible-playbook, the same
module) and ``protocol_task_ratio`` (kprov / ansible; <= 1 is the issue's bar).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from kprov.lab import Lab  # noqa: E402
from tests.e2e.compat.corpus_judge import corpus_roles, judge, summary  # noqa: E402
from tests.e2e.compat.corpus_repo import CORPUS_PACKAGES, WIDE_PACKAGES, corpus_repo  # noqa: E402
from tests.e2e.compat.corpus_run import BIN, ansible_env, run_ansible_corpus, run_kprov_corpus  # noqa: E402

COMPAT = REPO / "tests" / "compat"
ROLES = COMPAT / "roles"
# corpus -> (playbooks, hosts, packages, repository name)
CORPORA = {
    "first": ([COMPAT / "corpus" / "site.yml"], ["h1", "h2", "h3"], CORPUS_PACKAGES, "compat-repo"),
    "wide": (
        sorted((COMPAT / "corpus" / "wide").glob("h*.yml")),
        ["h1", "h2", "h3", "h4", "h5"],
        WIDE_PACKAGES,
        "compat-wide-repo",
    ),
}


def _fresh(lab: Lab, hosts: list[str]) -> None:
    lab.wipe()
    lab.up(len(hosts))


def _corpus(lab: Lab, name: str, only: list[str], ansible_cold: bool, work: Path) -> dict[str, float]:
    playbooks, hosts, packages, repo = CORPORA[name]
    if only:
        playbooks = [p for p in playbooks if p.stem in only] or playbooks
    env = ansible_env(ROLES, work)
    inventory = work / "hosts.yml"
    _fresh(lab, hosts)
    lab.write_inventory(inventory, len(hosts))
    with corpus_repo(lab, hosts, packages, name=repo):
        kprov_cold, cold = run_kprov_corpus(playbooks, inventory, ROLES, env)
        kprov_noop, noop = run_kprov_corpus(playbooks, inventory, ROLES, env)
        ansible_noop, after = run_ansible_corpus(playbooks, inventory, env)
    wanted = [
        (host, role)
        for p in playbooks
        for host, role in corpus_roles(p)
        if not only or host in only or p.stem in only
    ]
    result = summary(judge(wanted, cold, noop, after.output))
    for role, why in result["failing"].items():
        print(f"# {name} {role}: {why}")
    recap = {h: (s.ok, s.changed, s.skipped) for h, s in noop.stats.items()}
    for host in sorted(set(recap) | set(after.recap)):
        if recap.get(host) != after.recap.get(host):
            theirs = after.recap.get(host)
            print(f"# {name} {host}: recap (ok, changed, skipped) kprov {recap.get(host)} ansible {theirs}")
    figures = {
        "total": result["total"],
        "passed": result["passed"],
        "kprov_cold": kprov_cold,
        "kprov_noop": kprov_noop,
        "ansible_noop": ansible_noop,
        "ansible_cold": 0.0,
    }
    if ansible_cold:
        _fresh(lab, hosts)
        with corpus_repo(lab, hosts, packages, name=repo):
            figures["ansible_cold"], _ = run_ansible_corpus(playbooks, inventory, env)
    return figures


PROTOCOL_MODULE = ROLES / "linux_system_roles.kernel_settings" / "library" / "sr_fingerprint.py"
PROTOCOL_ARGS = "{status: begin, role_name: bench, role_path: /tmp, ansible_play_hosts_all: [h1]}"


def _protocol_playbook(work: Path, tasks: int) -> Path:
    """A playbook beside ``library/`` running the role's module ``tasks`` times on h1."""
    (work / "library").mkdir(parents=True, exist_ok=True)
    shutil.copy(PROTOCOL_MODULE, work / "library" / PROTOCOL_MODULE.name)
    body = "".join(
        f"    - name: fingerprint {n}\n      sr_fingerprint: {PROTOCOL_ARGS}\n"
        for n in range(tasks)
    )
    playbook = work / f"protocol-{tasks}.yml"
    playbook.write_text(f"- hosts: h1\n  gather_facts: false\n  tasks:\n{body}")
    return playbook


def _timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.monotonic()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=600)
    took = time.monotonic() - start
    if done.returncode != 0:
        raise SystemExit(f"{argv[0]} failed (rc={done.returncode}): {(done.stdout + done.stderr)[-2000:]}")
    return took


def _protocol(inventory: Path, work: Path, added: int) -> dict[str, float]:
    """Per-task milliseconds of one protocol module under kprov and ansible-playbook."""
    work.mkdir(parents=True, exist_ok=True)
    env = ansible_env(ROLES, work)
    one, many = _protocol_playbook(work, 1), _protocol_playbook(work, 1 + added)
    tools = {
        "kprov": lambda p: [str(BIN / "kprov"), "apply", "--json", "-i", str(inventory), str(p)],
        "ansible": lambda p: [str(BIN / "ansible-playbook"), "-i", str(inventory), str(p)],
    }
    per_task = {}
    for tool, argv in tools.items():
        _timed(argv(one), env)  # warm: the module packed, the host's Python paged in
        short = statistics.median(_timed(argv(one), env) for _ in range(3))
        long = statistics.median(_timed(argv(many), env) for _ in range(3))
        per_task[tool] = (long - short) / added * 1000
    return per_task


def _print_corpus(totals: dict[str, float]) -> None:
    print(f"corpus_roles_total = {int(totals['total'])}")
    print(f"corpus_roles_passed = {int(totals['passed'])}")
    for key in ("kprov_cold", "ansible_cold", "kprov_noop", "ansible_noop"):
        print(f"corpus_{key}_s = {totals[key]:.1f}")
    if totals["ansible_cold"]:
        print(f"corpus_cold_speedup = {totals['ansible_cold'] / totals['kprov_cold']:.2f}")
    print(f"corpus_noop_speedup = {totals['ansible_noop'] / totals['kprov_noop']:.2f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", choices=("first", "wide", "both", "none"), default="both",
                        help="none: only the protocol module's per-task time, on a fresh h1")
    parser.add_argument(
        "--only", default="", help="the wide corpus's playbooks to run, e.g. h5 (a small run)"
    )
    parser.add_argument("--no-ansible-cold", action="store_true")
    parser.add_argument("--protocol-tasks", type=int, default=20,
                        help="tasks added for the protocol module's per-task time (0: skip it)")
    args = parser.parse_args()
    lab = Lab(int(os.environ.get("KPROV_LAB", "0")))
    names = {"both": ["first", "wide"], "none": []}.get(args.corpus, [args.corpus])
    only = [h for h in args.only.split(",") if h]
    totals: dict[str, float] = {}
    protocol: dict[str, float] = {}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-corpus-") as tmp:
        for name in names:
            for key, value in _corpus(lab, name, only, not args.no_ansible_cold, Path(tmp)).items():
                totals[key] = totals.get(key, 0.0) + value
        if totals:  # printed before the protocol step: its failure must not lose them
            _print_corpus(totals)
            print(f"corpus_wall_s = {time.monotonic() - started:.1f}", flush=True)
        if not names:
            _fresh(lab, ["h1"])
            lab.write_inventory(Path(tmp) / "hosts.yml", 1)
        if args.protocol_tasks > 0:  # the last corpus's hosts are still up (h1 among them)
            protocol = _protocol(Path(tmp) / "hosts.yml", Path(tmp) / "protocol", args.protocol_tasks)
    if protocol:
        print(f"protocol_module_task_ms = {protocol['kprov']:.1f}")
        print(f"ansible_module_task_ms = {protocol['ansible']:.1f}")
        print(f"protocol_task_ratio = {protocol['kprov'] / protocol['ansible']:.2f}")
    print(f"bench_corpus_wall_s = {time.monotonic() - started:.1f}")


if __name__ == "__main__":
    main()
