"""Benchmark: how `kprov apply` grows with the number of hosts, against ansible-playbook.

    python tests/bench/bench_scale_engine.py [--lab N] [--hosts 10,25,50] [--no-ansible]

For each host count (ascending; the lab is grown to it, not timed) the engine's sample role
set (tests/e2e/engine/site.yml, as tests/bench/bench_engine.py runs on 5 hosts) is applied
by kprov to hosts with none of its footprint (reset first: engine_cold_<n>_s), then again
with nothing to change: once right after it (engine_noop_unsettled_<n>_s: the hosts still
start their web servers and flush their journals on the same 2 cores), then, once the
machine has settled (tests/bench/_settle.py, at most --settle-timeout seconds:
engine_settle_<n>_s), three times (engine_noop_<n>_s: their median; the SSH sessions are kept
between runs, as Ansible's ControlPersist keeps them, in this bench's own keeper), then once
with every session new (engine_noop_fresh_<n>_s, KPROV_CONTROL_PERSIST=0); then ansible-
playbook (``--forks`` = hosts, pipelining and ControlPersist on) runs the same playbook on
the same converged hosts (ansible_noop_<n>_s; its changed count is printed: 0 says the hosts
were converged for it too) and noop_speedup_<n> = ansible_noop_<n>_s / engine_noop_<n>_s.
operator_rss_mib_<n> is the kprov process's peak resident memory in the no-op run (GNU
time's %M), and noop_s_per_host the least-squares slope of engine_noop_s over the host
counts. Times are wall times of the whole CLI process. load_avg_1m says how busy the machine
was: a shared machine's figures are only comparable at the same load.

``--no-ansible`` leaves ansible-playbook out (a short form, as CI runs it with --hosts 3);
``--ansible-at 50`` runs it at those counts only. lab_host_rss_mib_<n>: what an idle lab host
costs the machine, the mean anonymous memory (memory cgroup ``total_rss``) of the hosts that
were booted for this count and hold nothing yet, read right after they are up.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from kprov.lab import Lab  # noqa: E402
from kprov.provision.connect.persist import stop_keeper  # noqa: E402
from tests.bench._settle import settle  # noqa: E402
from tests.e2e.engine.labstate import RESET, SITE  # noqa: E402

BIN = Path(sys.executable).parent
NOOP_RUNS = 3  # the no-op is timed this many times: the median is the figure


def _timed(argv: list[str], env: dict[str, str], rss_file: Path | None = None) -> tuple[float, str]:
    if rss_file is not None:
        argv = ["/usr/bin/time", "-f", "%M", "-o", str(rss_file), *argv]
    start = time.monotonic()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=1800,
                          stdin=subprocess.DEVNULL)
    took = time.monotonic() - start
    if done.returncode != 0:
        raise SystemExit(f"{argv[0]} failed (rc={done.returncode}):\n"
                         f"{done.stdout[-4000:]}\n{done.stderr[-2000:]}")
    return took, done.stdout


def _reset(lab: Lab, hosts: list[str]) -> None:
    with ThreadPoolExecutor(max_workers=16) as pool:
        for rc, _, err in pool.map(lambda h: lab.ssh(h, RESET), hosts):
            if rc != 0:
                raise SystemExit(f"reset failed: {err}")


def _changed(kprov_json: str) -> int:
    return sum(s["changed"] for s in json.loads(kprov_json)["stats"].values())


def slope(points: list[tuple[int, float]]) -> float:
    """Least-squares slope of y over x (0 for fewer than two distinct x)."""
    if len({x for x, _ in points}) < 2:
        return 0.0
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    num = sum((x - mean_x) * (y - mean_y) for x, y in points)
    return num / sum((x - mean_x) ** 2 for x, _ in points)


def idle_host_rss_mib(lab: Lab, hosts: list[str]) -> float | None:
    """Mean anonymous memory of ``hosts`` (their memory cgroups' total_rss), in MiB."""
    found: list[int] = []
    for host in hosts:
        for stat in Path("/sys/fs/cgroup/memory").glob(f"**/{lab.layout.cgroup(host)}/memory.stat"):
            for line in stat.read_text().splitlines():
                if line.startswith("total_rss "):
                    found.append(int(line.split()[1]))
            break
    return sum(found) / len(found) / 2**20 if found else None


def measure(lab: Lab, count: int, work: Path, ansible: bool, settle_timeout_s: float) -> float:
    before = set(lab.hosts())
    start = time.monotonic()
    lab.up(count)
    hosts = lab.layout.host_names(count)
    new = [h for h in hosts if h not in before]
    print(f"lab_up_{count}_s = {time.monotonic() - start:.1f}  # {len(new)} hosts booted")
    idle = idle_host_rss_mib(lab, new)
    if idle is not None:
        print(f"lab_host_rss_mib_{count} = {idle:.1f}")
    inventory = lab.write_inventory(work / f"hosts-{count}.yml", count)
    env = {
        **os.environ,
        "KPROV_LOG_DIR": str(work / "logs"),
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_PIPELINING": "1",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCAL_TEMP": str(work / "ansible-tmp"),
        "ANSIBLE_SSH_ARGS": "-o ControlMaster=auto -o ControlPersist=120s",
        "ANSIBLE_CONTROL_PATH_DIR": str(work / "cp"),
        "KPROV_CONTROL_PATH_DIR": str(work / "kprov-cp"),  # kprov's kept sessions: this bench's own
    }
    kprov = [str(BIN / "kprov"), "apply", "--json", "-i", str(inventory), str(SITE)]
    _reset(lab, hosts)
    cold_s, cold_out = _timed(kprov, env)
    unsettled_s, _ = _timed(kprov, env)
    settle_s = settle(timeout_s=settle_timeout_s)
    rss = work / f"rss-{count}"
    runs = [_timed(kprov, env, rss) for _ in range(NOOP_RUNS)]
    noop_s, noop_out = sorted(runs)[len(runs) // 2]
    fresh_s, _ = _timed(kprov, {**env, "KPROV_CONTROL_PERSIST": "0"})
    print(f"engine_cold_{count}_s = {cold_s:.2f}")
    print(f"engine_noop_unsettled_{count}_s = {unsettled_s:.2f}  # right after the cold run")
    print(f"engine_settle_{count}_s = {settle_s:.1f}")
    print(f"engine_noop_{count}_s = {noop_s:.2f}  # median of {', '.join(f'{t:.2f}' for t, _ in runs)}")
    print(f"engine_noop_fresh_{count}_s = {fresh_s:.2f}  # every session new (KPROV_CONTROL_PERSIST=0)")
    print(f"engine_noop_engine_{count}_s = {json.loads(noop_out)['duration_s']:.2f}")
    print(f"engine_cold_changed_{count} = {_changed(cold_out)}")
    print(f"engine_noop_changed_{count} = {_changed(noop_out)}")
    print(f"operator_rss_mib_{count} = {int(rss.read_text().split()[-1]) / 1024:.1f}")
    if ansible:
        playbook = [str(BIN / "ansible-playbook"), "--forks", str(count), "-i", str(inventory), str(SITE)]
        start = time.monotonic()
        done = subprocess.run(playbook, env=env, capture_output=True, text=True, timeout=1800,
                              stdin=subprocess.DEVNULL)
        ansible_s = time.monotonic() - start
        unreachable = sum(int(n) for n in re.findall(r"unreachable=(\d+)", done.stdout))
        if done.returncode != 0:  # a figure of a failed run would flatter kprov: say so instead
            print(f"ansible_noop_{count}_failed = 1  # rc {done.returncode}, {unreachable} unreachable, "
                  f"after {ansible_s:.1f} s")
        else:
            changed = sum(int(n) for n in re.findall(r"changed=(\d+)", done.stdout))
            print(f"ansible_noop_{count}_s = {ansible_s:.2f}")
            print(f"ansible_noop_changed_{count} = {changed}")
            print(f"noop_speedup_{count} = {ansible_s / noop_s:.1f}")
    print(f"load_avg_1m_{count} = {os.getloadavg()[0]:.2f}", flush=True)
    return noop_s


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lab", type=int, default=int(os.environ.get("KPROV_LAB", "0")))
    parser.add_argument("--hosts", default="10,25,50", help="host counts, comma-separated")
    parser.add_argument("--no-ansible", action="store_true", help="kprov only (no ansible-playbook runs)")
    parser.add_argument("--ansible-at", default="", help="counts to run ansible-playbook at (default: all)")
    parser.add_argument("--settle-timeout", type=float, default=180.0,
                        help="seconds to wait at most for the machine to settle after a cold run")
    args = parser.parse_args()
    counts = sorted({int(c) for c in args.hosts.split(",") if c.strip()})
    lab = Lab(args.lab)
    work = Path(tempfile.mkdtemp(prefix="kprov-bench-scale-"))
    try:
        ansible_at = {int(c) for c in args.ansible_at.split(",") if c.strip()} or set(counts)
        points = [(count, measure(lab, count, work, not args.no_ansible and count in ansible_at,
                                  args.settle_timeout))
                  for count in counts]
        print(f"noop_s_per_host = {slope(points):.4f}")
        _reset(lab, lab.layout.host_names(counts[-1]))
    finally:
        stop_keeper(work / "kprov-cp")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
