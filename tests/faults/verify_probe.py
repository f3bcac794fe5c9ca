"""``kprov verify`` run while a fault lasts: did it name the fault, and did it stay a report?

The real command in a subprocess (``--json --no-smoke --no-drift``: the host, etcd and API
checks, the parts a fault touches; ``full=True`` runs all of it), optionally with its clock
moved (``env`` from :func:`tests.faults.injectors.faketime_env`). A traceback anywhere in its
output is what issue 76 forbids; the failed rows are what the operator reads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["VerifyOutcome", "run_verify"]


@dataclass
class VerifyOutcome:
    returncode: int
    traceback: bool
    report: dict[str, Any]
    output: str
    duration_s: float
    failed: list[dict[str, Any]] = field(default_factory=list)

    def names(self, *words: str) -> bool:
        """Some failed row's name or detail holds every one of ``words``."""
        return any(all(w in f"{c['name']} {c['detail']}" for w in words) for c in self.failed)


def run_verify(inventory: Path, env: dict[str, str] | None = None, timeout_s: float = 300, *,
               full: bool = False) -> VerifyOutcome:
    """``full``: the smoke workload and the check-mode run too (every check an operator's verify runs)."""
    argv = [sys.executable, "-m", "kprov.cli.main", "verify", "-i", str(inventory), "--json",
            *(() if full else ("--no-smoke", "--no-drift"))]
    start = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s,
                          env=env if env is not None else dict(os.environ, COLUMNS="200"),
                          stdin=subprocess.DEVNULL)
    output = proc.stdout + proc.stderr
    try:
        report: dict[str, Any] = json.loads(proc.stdout)
    except ValueError:
        report = {"ok": False, "checks": []}
    failed = [c for c in report.get("checks", []) if not c.get("ok")]
    took = time.monotonic() - start
    return VerifyOutcome(proc.returncode, "Traceback" in output, report, output, took, failed)
