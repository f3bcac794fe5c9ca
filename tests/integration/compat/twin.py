"""Run one playbook with kprov and with ansible-playbook on the same hosts and compare.

The compat tests' only tool: ``run_kprov`` (in-process ``run_playbook``) and ``run_ansible``
(the ``ansible-playbook`` of this virtualenv, ansible-core + the ``ansible`` collections) both
take an inventory, a playbook and extra vars and return per-host recap counts
(ok/changed/failed/skipped) parsed the same way; ``tree`` reads an output directory as
{relative path: bytes} so two runs' files can be compared whole.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kprov.provision.pipelines import run_playbook

ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
_RECAP = re.compile(
    r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)", re.M
)


@dataclass
class Recap:
    ok: bool
    changed: dict[str, int]
    failed: dict[str, int]
    output: str
    counted_ok: dict[str, int]  # the recap's ok column
    skipped: dict[str, int]


def local_inventory(path: Path) -> Path:
    path.write_text(
        "all:\n  hosts:\n    localhost:\n      ansible_connection: local\n"
        f"      ansible_python_interpreter: {sys.executable}\n"
    )
    return path


def run_kprov(inventory: Path, playbook: Path, extra_vars: dict[str, Any], log_dir: Path) -> Recap:
    """The run log goes to ``log_dir``; the variable is put back afterwards, so later runs in
    the same pytest process log where they would have."""
    before = os.environ.get("KPROV_LOG_DIR")
    os.environ["KPROV_LOG_DIR"] = str(log_dir)
    try:
        report = run_playbook(inventory, playbook, extra_vars=extra_vars)
    finally:
        if before is None:
            del os.environ["KPROV_LOG_DIR"]
        else:
            os.environ["KPROV_LOG_DIR"] = before
    failures = [
        f"{r.host} {r.task}: {r.msg}" for r in report.results if r.status == "failed" and not r.ignored
    ]
    return Recap(
        ok=report.ok,
        changed={h: s.changed for h, s in report.stats.items()},
        failed={h: s.failed for h, s in report.stats.items()},
        output="\n".join(failures),
        counted_ok={h: s.ok for h, s in report.stats.items()},
        skipped={h: s.skipped for h, s in report.stats.items()},
    )


def run_ansible(inventory: Path, playbook: Path, extra_vars: dict[str, Any], tmp: Path,
                timeout: float = 900, tail: int = 4000) -> Recap:
    """``tail``: how much of the end of ansible-playbook's output ``Recap.output`` keeps."""
    env = {
        **os.environ,
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_PIPELINING": "1",
        "ANSIBLE_LOCAL_TEMP": str(tmp / "ansible-tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_DEPRECATION_WARNINGS": "0",
    }
    args = [str(ANSIBLE_PLAYBOOK), "-i", str(inventory), "--forks", "5"]
    for key, value in extra_vars.items():
        args += ["-e", f"{key}={value}"]
    done = subprocess.run([*args, str(playbook)], env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    out = done.stdout + done.stderr
    recap = {m.group(1): m for m in _RECAP.finditer(out)}
    return Recap(
        ok=done.returncode == 0,
        changed={h: int(m.group(3)) for h, m in recap.items()},
        failed={h: int(m.group(5)) for h, m in recap.items()},
        output=out[-tail:],
        counted_ok={h: int(m.group(2)) for h, m in recap.items()},
        skipped={h: int(m.group(6)) for h, m in recap.items()},
    )


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
