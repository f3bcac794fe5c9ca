"""Benchmark: kprov vs ansible-playbook on 5 lab hosts with the engine's sample role set.

Run as ``python tests/bench/bench_engine.py`` (root; lab instance from env KPROV_LAB, default
0; the hosts h1..h5 are brought up if needed). Measured side by side in one run, wall time of
the whole CLI process (start-up included) for both tools:

* cold: from hosts with none of the role set's footprint (reset first);
* no-op: the same playbook again, nothing to change.

Ansible runs with pipelining on, ControlPersist on and --forks 5. Prints each figure as
``name = value``: kprov_cold_s, kprov_noop_s, ansible_cold_s, ansible_noop_s,
noop_speedup (= ansible_noop_s / kprov_noop_s), cold_speedup, kprov_noop_engine_s (the run
itself, without the CLI's process start-up), plus the changed counts.

Then the compat corpus (tests/compat/corpus/site.yml: 15 public roles on h1..h3, their
packages served as in tests/e2e/compat): converged by kprov, then timed no-op runs of both
tools on the converged hosts: corpus_kprov_noop_s, corpus_ansible_noop_s and
corpus_noop_speedup (= the ansible no-op time of all corpus roles / kprov's; they run as one
playbook, so the sum over roles is that run). ``--no-corpus`` skips this part.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from kprov.lab import Lab  # noqa: E402
from tests.e2e.compat.corpus_repo import corpus_repo  # noqa: E402
from tests.e2e.engine.labstate import SITE, reset  # noqa: E402

HOSTS = ["h1", "h2", "h3", "h4", "h5"]
BIN = Path(sys.executable).parent


def _timed(argv: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.monotonic()
    done = subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL
    )
    took = time.monotonic() - start
    if done.returncode != 0:
        raise SystemExit(
            f"{argv[0]} failed (rc={done.returncode}):\n{done.stdout[-4000:]}\n{done.stderr[-2000:]}"
        )
    return took, done.stdout


def _ansible_changed(output: str) -> int:
    return sum(int(n) for n in re.findall(r"changed=(\d+)", output))


def main() -> None:
    lab = Lab(int(os.environ.get("KPROV_LAB", "0")))
    lab.up(len(HOSTS))
    work = Path(tempfile.mkdtemp(prefix="kprov-bench-"))
    inventory = lab.write_inventory(work / "hosts.yml", len(HOSTS))
    env = {
        **os.environ,
        "KPROV_LOG_DIR": str(work / "logs"),
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_PIPELINING": "1",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCAL_TEMP": str(work / "ansible-tmp"),
        "ANSIBLE_SSH_ARGS": "-o ControlMaster=auto -o ControlPersist=120s",
        "ANSIBLE_CONTROL_PATH_DIR": str(work / "cp"),
    }
    kprov = [str(BIN / "kprov"), "apply", "--json", "-i", str(inventory), str(SITE)]
    ansible = [str(BIN / "ansible-playbook"), "--forks", "5", "-i", str(inventory), str(SITE)]

    reset(lab, HOSTS)
    kprov_cold, out_cold = _timed(kprov, env)
    kprov_noop, out_noop = _timed(kprov, env)
    reset(lab, HOSTS)
    ansible_cold, _ = _timed(ansible, env)
    ansible_noop, ans_noop_out = _timed(ansible, env)

    changed_noop = sum(s["changed"] for s in json.loads(out_noop)["stats"].values())
    changed_cold = sum(s["changed"] for s in json.loads(out_cold)["stats"].values())
    print(f"hosts = {len(HOSTS)}")
    print(f"kprov_cold_s = {kprov_cold:.2f}")
    print(f"kprov_noop_s = {kprov_noop:.2f}")
    print(f"ansible_cold_s = {ansible_cold:.2f}")
    print(f"ansible_noop_s = {ansible_noop:.2f}")
    print(f"noop_speedup = {ansible_noop / kprov_noop:.2f}")
    print(f"cold_speedup = {ansible_cold / kprov_cold:.2f}")
    print(f"kprov_noop_engine_s = {json.loads(out_noop)['duration_s']:.2f}")  # without process start-up
    print(f"kprov_cold_changed = {changed_cold}")
    print(f"kprov_noop_changed = {changed_noop}")
    print(f"ansible_noop_changed = {_ansible_changed(ans_noop_out)}")
    reset(lab, HOSTS)
    if "--no-corpus" not in sys.argv:
        _corpus(lab, inventory, env)
    shutil.rmtree(work, ignore_errors=True)


def _corpus(lab: Lab, inventory: Path, env: dict[str, str]) -> None:
    compat = REPO / "tests" / "compat"
    site, roles = compat / "corpus" / "site.yml", compat / "roles"
    env = {**env, "ANSIBLE_ROLES_PATH": str(roles)}
    kprov = [str(BIN / "kprov"), "apply", "--json", "-i", str(inventory), "--roles-path", str(roles),
             str(site)]
    ansible = [str(BIN / "ansible-playbook"), "--forks", "5", "-i", str(inventory), str(site)]
    with corpus_repo(lab, HOSTS[:3]):
        _timed(kprov, env)  # converge (cold or not: the figures are the no-op runs)
        kprov_noop, out_noop = _timed(kprov, env)
        ansible_noop, ans_out = _timed(ansible, env)
    print(f"corpus_roles = {len([d for d in roles.iterdir() if d.is_dir()])}")
    print(f"corpus_kprov_noop_s = {kprov_noop:.2f}")
    print(f"corpus_ansible_noop_s = {ansible_noop:.2f}")
    print(f"corpus_noop_speedup = {ansible_noop / kprov_noop:.2f}")
    print(f"corpus_kprov_noop_changed = {sum(s['changed'] for s in json.loads(out_noop)['stats'].values())}")
    print(f"corpus_ansible_noop_changed = {_ansible_changed(ans_out)}")


if __name__ == "__main__":
    main()
