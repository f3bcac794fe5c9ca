"""The engine's lab tests' one way to run kprov: ``kprov_apply`` runs ``kprov apply --json``
as a user would (a fresh process of this tree's CLI), its run log in the test's own folder,
and returns the exit code and the parsed JSON document."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.engine.labstate import REPO, Apply


@pytest.fixture
def kprov_apply(tmp_path: Path) -> Apply:
    """``kprov_apply(inventory, playbook, *options)``: (exit code, the ``--json`` document)."""
    env = {**os.environ, "KPROV_LOG_DIR": str(tmp_path / "logs")}

    def apply(inventory: Path, playbook: Path, *options: str) -> tuple[int, dict[str, Any]]:
        done = subprocess.run(
            [sys.executable, "-m", "kprov.cli.main", "apply", "--json", "-i", str(inventory), *options,
             str(playbook)],
            capture_output=True, text=True, timeout=300, cwd=REPO, stdin=subprocess.DEVNULL, env=env,
        )
        try:
            return done.returncode, json.loads(done.stdout)
        except json.JSONDecodeError:
            raise AssertionError(f"kprov apply printed no JSON document (exit {done.returncode}):\n"
                                 f"{done.stdout[-2000:]}{done.stderr[-2000:]}") from None

    return apply
