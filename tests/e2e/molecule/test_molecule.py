"""`molecule test -s kprov` passes: lab hosts created and destroyed by `kprov lab`, the whole
roles/site.yml converged by ansible-playbook (with the artifacts `kprov prepare` made), a
second converge changes nothing, and the testinfra checks in tests/molecule/kprov/tests pass.

The scenario uses its own lab instance (KPROV_MOLECULE_LAB, default 7), so it never
disturbs the hosts of the session's e2e instance.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent

pytestmark = pytest.mark.lab


@pytest.mark.long
def test_molecule_scenario_converges_idempotently_and_verifies() -> None:
    if os.geteuid() != 0:
        pytest.skip("lab hosts need root")
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
           "KPROV_MOLECULE_LAB": os.environ.get("KPROV_MOLECULE_LAB", "7"), "ANSIBLE_NOCOLOR": "1",
           "PY_COLORS": "0"}
    if shutil.which("molecule", path=env["PATH"]) is None:
        pytest.fail("molecule is not installed: pip install -e '.[test]'")
    result = subprocess.run(["molecule", "test", "-s", "kprov"], cwd=TESTS_DIR, env=env,
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=1500)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-6000:]
    assert "idempotence: Executed: Successful" in log
    assert "verify: Executed: Successful" in log
