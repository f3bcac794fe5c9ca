"""A 3-host cluster (etcd, control plane and nodes on h1..h3) applied once for the safety
tests, which break it in the ways an operator meets (a foreign listener, an interrupted run,
a certificate rotation) and repair it again. Its cold apply is itself interrupted once, as an
operator's Ctrl-C would, right after etcd started (the control plane's first unit written);
`kprov plan` runs there (``SafetyCluster.cold_plan``, for the test of what it lists) and the
next apply completes the cluster."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kprov.lab import Lab

KPROV = [sys.executable, "-m", "kprov.cli.main"]


@dataclass
class SafetyCluster:
    lab: Lab
    inventory: Path
    # after the interrupted cold apply: (its exit code, `kprov plan --json`'s exit code and report)
    cold_plan: tuple[int, int, dict[str, Any]] | None = None

    def kprov(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, COLUMNS="200")
        return subprocess.run([*KPROV, *args], capture_output=True, text=True, timeout=timeout, env=env,
                              stdin=subprocess.DEVNULL)

    def apply(self, *extra: str) -> tuple[int, dict[str, Any]]:
        proc = self.kprov("apply", "-i", str(self.inventory), "--json", *extra)
        assert proc.stdout.strip(), proc.stderr[-3000:]
        return proc.returncode, json.loads(proc.stdout)

    def interrupted_apply(self, when: Callable[[str], bool], timeout: float = 600,
                          extra: tuple[str, ...] = ()) -> tuple[int, str, Path]:
        """Start an apply and SIGINT it once ``when(run log text)`` holds: (rc, output, log)."""
        env = dict(os.environ, COLUMNS="200")
        proc = subprocess.Popen([*KPROV, "apply", "-i", str(self.inventory), *extra], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, env=env, stdin=subprocess.DEVNULL)
        log = _run_log_of(proc.pid)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            if log.exists() and when(log.read_text()):
                proc.send_signal(signal.SIGINT)
                break
            time.sleep(0.05)
        out, _ = proc.communicate(timeout=timeout)
        return proc.returncode, out, log

    def ssh(self, host: str, command: str, check: bool = True) -> str:
        rc, out, err = self.lab.ssh(host, command)
        assert rc == 0 or not check, f"{host}: {command}: {err}"
        return out.strip()


def _run_log_of(pid: int) -> Path:
    """The run log of the kprov process ``pid`` (the log dir as kprov picks it)."""
    from kprov.provision.execute.runlog import default_log_dir

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = sorted(default_log_dir().glob(f"run-*-{pid}.log"))
        if found:
            return found[-1]
        time.sleep(0.1)
    return default_log_dir() / f"run-none-{pid}.log"


def failures(report: dict[str, Any]) -> list[str]:
    return [f"{r['host']}: {r['task']}: {r['msg']}" for r in report["results"]
            if r["status"] in ("failed", "unreachable") and not r.get("ignored")] + report["errors"]


@pytest.fixture(scope="package")
def safety_cluster(lab_hosts: Callable[[int], Lab], tmp_path_factory: pytest.TempPathFactory,
                   ) -> Iterator[SafetyCluster]:
    lab = lab_hosts(3)
    inventory = lab.write_inventory(tmp_path_factory.mktemp("safety-inventory") / "hosts.yml", 3)
    cluster = SafetyCluster(lab, inventory)
    interrupted_rc, out, _ = cluster.interrupted_apply(
        lambda text: "/etc/systemd/system/kprov-apiserver.service" in text)
    plan = cluster.kprov("plan", "-i", str(inventory), "--json")
    assert plan.stdout.strip(), plan.stderr[-3000:]
    cluster.cold_plan = (interrupted_rc, plan.returncode, json.loads(plan.stdout))
    rc, report = cluster.apply()
    assert rc == 0 and report["ok"], "\n".join(failures(report))
    yield cluster
