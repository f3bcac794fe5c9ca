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
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from kprov.lab import Lab  # noqa: E402
from tests.e2e.compat.corpus_judge import corpus_roles, judge, summary  # noqa: E402
from tests.e2e.compat.corpus_repo import CORPUS_PACKAGES, WIDE_PACKAGES, corpus_repo  # noqa: E402
from tests.e2e.compat.corpus_run import ansible_env, run_ansible_corpus, run_kprov_corpus  # noqa: E402

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", choices=("first", "wide", "both"), default="both")
    parser.add_argument(
        "--only", default="", help="the wide corpus's playbooks to run, e.g. h5 (a small run)"
    )
    parser.add_argument("--no-ansible-cold", action="store_true")
    args = parser.parse_args()
    lab = Lab(int(os.environ.get("KPROV_LAB", "0")))
    names = ["first", "wide"] if args.corpus == "both" else [args.corpus]
    only = [h for h in args.only.split(",") if h]
    totals: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-corpus-") as tmp:
        for name in names:
            for key, value in _corpus(lab, name, only, not args.no_ansible_cold, Path(tmp)).items():
                totals[key] = totals.get(key, 0.0) + value
    print(f"corpus_roles_total = {int(totals['total'])}")
    print(f"corpus_roles_passed = {int(totals['passed'])}")
    for key in ("kprov_cold", "ansible_cold", "kprov_noop", "ansible_noop"):
        print(f"corpus_{key}_s = {totals[key]:.1f}")
    if totals["ansible_cold"]:
        print(f"corpus_cold_speedup = {totals['ansible_cold'] / totals['kprov_cold']:.2f}")
    print(f"corpus_noop_speedup = {totals['ansible_noop'] / totals['kprov_noop']:.2f}")


if __name__ == "__main__":
    main()
