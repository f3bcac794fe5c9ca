"""`kprov up`: the main job on the embedded default — a local lab, the cluster on it, verified.

A list of phases (k0sctl style), each with a title; the first failure stops the run and is
reported with the phase it happened in. Every phase is idempotent, so running `up` again
converges (and on a running cluster changes nothing):

1. the lab's hosts (kprov.lab), while kprov's runtime is built beside them: it needs no host,
   and on a fresh machine both are minutes of downloads (the base image and the lab's packages;
   PyPI's wheels), so building it only once the hosts run left the machine idle for most of it;
2. the apply action on them, the same phases as `kprov apply` (kprov.deploy.apply: preflight,
   resolve, PKI/runtime/images prepared while connecting, the plays, scale-in);
3. verify (kprov.deploy.verify).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from kprov.bundle.runtime import build_runtime
from kprov.deploy.apply import run_apply
from kprov.deploy.playbooks import REPO_ROOT, SITE_PLAYBOOK
from kprov.deploy.verify import VerifyReport, verify_cluster
from kprov.deploy.verify.run import admin_kubeconfig_path
from kprov.lab import Lab
from kprov.provision.execute import RunOptions
from kprov.provision.execute.results import RunObserver, RunReport

__all__ = ["UpOptions", "UpResult", "lab_inventory", "up"]

Progress = Callable[[str], None]


@dataclass
class UpOptions:
    lab_index: int | None = None
    hosts: int = 5
    verify: bool = True
    dual_stack: bool = False  # the lab network and the cluster in IPv4 and IPv6
    skip_preflight: tuple[str, ...] = ()


@dataclass
class UpResult:
    inventory: Path
    apply_report: RunReport | None = None
    verify_report: VerifyReport | None = None
    kubeconfig: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        applied = self.apply_report is not None and self.apply_report.ok
        return applied and (self.verify_report is None or self.verify_report.ok)


def lab_inventory(lab: Lab, hosts: int) -> Path:
    """Instance 0 uses the committed inventories/lab; other instances get one in their state dir."""
    committed = REPO_ROOT / "inventories" / "lab" / "hosts.yml"
    if lab.index == 0 and committed.is_file() and hosts == 5 and not lab.dual_stack:
        return committed.parent
    directory = lab.layout.state_dir / "inventory"
    directory.mkdir(parents=True, exist_ok=True)
    lab.write_inventory(directory / "hosts.yml", hosts)
    return directory


def up(options: UpOptions, progress: Progress, observer: RunObserver | None = None) -> UpResult:
    lab = Lab(options.lab_index)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="kprov-up-runtime") as beside:
        # Started first, never waited for here: the apply's own preparation asks for the same
        # runtime, which its cache lock hands over once built (or builds again, and reports
        # the error, if this attempt failed).
        beside.submit(build_runtime, REPO_ROOT)
        return _up(lab, options, progress, observer)


def _up(lab: Lab, options: UpOptions, progress: Progress, observer: RunObserver | None) -> UpResult:
    t0 = time.monotonic()
    progress(f"lab {lab.index}: bringing up {options.hosts} hosts (kprov's runtime built meanwhile)")
    lab.up(options.hosts, progress=lambda msg: progress(f"  {msg}"), dual_stack=options.dual_stack)
    result = UpResult(lab_inventory(lab, options.hosts))
    result.timings["lab"] = time.monotonic() - t0

    t0 = time.monotonic()
    progress(f"applying {SITE_PLAYBOOK.relative_to(REPO_ROOT)} (PKI and kprov's runtime prepared meanwhile)")
    outcome = run_apply([str(result.inventory)], str(SITE_PLAYBOOK), RunOptions(), observer,
                        skip_preflight=frozenset(options.skip_preflight), progress=progress)
    result.apply_report = outcome.report
    result.timings["apply"] = time.monotonic() - t0
    result.kubeconfig = admin_kubeconfig_path(result.inventory)
    if not result.apply_report.ok or not options.verify:
        return result

    t0 = time.monotonic()
    progress("verifying the cluster")
    result.verify_report = verify_cluster(result.inventory, drift=False)
    result.timings["verify"] = time.monotonic() - t0
    return result
