"""Teardown removes every table kprov-proxy writes on a dual-stack node (ip and ip6 kprov,
and the NetworkPolicy agent's), run by sh in a private network namespace."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

TASKS = Path(__file__).resolve().parents[3] / "roles" / "teardown" / "tasks" / "main.yml"
TABLES = ("ip kprov", "ip6 kprov", "ip kprov-netpol", "ip6 kprov-netpol")


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nft") or not shutil.which("unshare"),
                    reason="needs root, nft and unshare for a throwaway network namespace")
def test_teardown_deletes_both_families_tables() -> None:
    tasks = yaml.safe_load(TASKS.read_text())
    task = next(t for t in tasks if t["name"].startswith("Remove the service-proxy"))
    script = task["ansible.builtin.shell"]
    create = "; ".join(f"nft add table {table}" for table in TABLES)
    whole = f"{create}; nft add table ip other\n{script}\nnft list tables"
    proc = subprocess.run(["unshare", "--net", "sh", "-c", whole], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [line for line in lines if line.startswith("nft ")] == [f"nft {table}" for table in TABLES]
    assert [line for line in lines if line.startswith("table ")] == ["table ip other"]
