"""ansible-core's script targets (``runme.sh``), run with ansible-playbook and with kprov.

The targets are test data in tests/data/ansible-targets (ansible-core v2.18.0rc1, GPL-3.0,
unmodified). ansible-test runs a script target from a copy of the targets tree: the working
folder is the target's own, ``../../inventory`` is its controller inventory (``testhost`` with
``ansible_connection=local``), ``OUTPUT_DIR`` a scratch folder and ``ANSIBLE_ROLES_PATH`` the
targets folder. This harness builds the same layout in a scratch folder per side and runs the
script twice, one side after the other (both are on this machine, through the local
connection, so they must not share files): once as is, with ansible-core's
``ansible-playbook``, and once with ansible_playbook_shim.py first on PATH as
``ansible-playbook``, so that every playbook run of the script is kprov's.

A side passes when the script exits 0 (its own checks, greps of the output and asserts, all
held). ``tasks`` sums ok + failed over every recap the script's runs print (Ansible's text
recap, kprov's table): like for like, since both recaps count as ansible-core's strategy does.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .ansible_targets import TARGETS_DIR, Outcome, Side

__all__ = ["runme_targets", "recap_tasks", "run_runme"]

BIN = Path(sys.executable).parent
SHIM = Path(__file__).resolve().parent / "ansible_playbook_shim.py"
_ANSIBLE_RECAP = re.compile(r"^\S+\s+:\s+ok=(\d+)\s+changed=\d+\s+unreachable=\d+\s+failed=(\d+)", re.M)
_KPROV_RECAP = re.compile(r"^│\s*\S+\s*│\s*(\d+)\s*│\s*\d+\s*│\s*\d+\s*│\s*(\d+)\s*│", re.M)


def runme_targets() -> list[str]:
    """The vendored script targets."""
    return sorted(p.name for p in TARGETS_DIR.iterdir() if (p / "runme.sh").is_file())


def recap_tasks(output: str) -> int:
    """ok + failed summed over every recap row (either tool's form) in a script's output."""
    rows = _ANSIBLE_RECAP.findall(output) + _KPROV_RECAP.findall(output)
    return sum(int(ok) + int(failed) for ok, failed in rows)


def _layout(target: str, folder: Path) -> Path:
    """targets/<target> (a copy: scripts write beside their playbooks) and the inventory."""
    tree = folder / "targets"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(TARGETS_DIR / target, tree / target, symlinks=True)
    (folder / "inventory").write_text(
        "[testgroup]\n"
        "testhost ansible_connection=local ansible_pipelining=yes"
        f" ansible_python_interpreter={sys.executable}\n"
    )
    (folder / "output").mkdir()
    return tree / target


def _shim_bin(folder: Path) -> Path:
    shim = folder / "shim-bin"
    shim.mkdir(exist_ok=True)
    entry = shim / "ansible-playbook"
    entry.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{SHIM}" "$@"\n')
    entry.chmod(0o755)
    return shim


def _env(folder: Path, kprov: bool) -> dict[str, str]:
    path = f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}"
    if kprov:
        path = f"{_shim_bin(folder.parent)}:{path}"
    return {
        **os.environ,
        "PATH": path,
        "OUTPUT_DIR": str(folder / "output"),
        "ANSIBLE_ROLES_PATH": str(TARGETS_DIR),
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "false",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_DEPRECATION_WARNINGS": "false",
        "ANSIBLE_DEVEL_WARNING": "false",
        "ANSIBLE_LOCAL_TEMP": str(folder / "ansible-tmp"),
        "KPROV_LOG_DIR": str(folder / "logs"),
        "NO_COLOR": "1",
        "COLUMNS": "200",
    }


def _side(target: str, folder: Path, kprov: bool, timeout: float) -> Side:
    cwd = _layout(target, folder)
    start = time.monotonic()
    try:
        done = subprocess.run(["bash", "runme.sh"], cwd=cwd, env=_env(folder, kprov),
                              capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return Side(False, 0, time.monotonic() - start, f"timed out after {timeout:.0f} s")
    out = done.stdout + done.stderr
    return Side(done.returncode == 0, recap_tasks(done.stdout), time.monotonic() - start,
                out[-3000:])


def run_runme(target: str, folder: Path, timeout: float = 600) -> Outcome:
    """ansible-playbook's side, then kprov's, each in its own copy of the layout."""
    work = folder / target
    return Outcome(target, _side(target, work / "ansible", False, timeout),
                   _side(target, work / "kprov", True, timeout))
