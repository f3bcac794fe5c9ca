"""verify names a full disk under an etcd member's data directory (issue 76).

The row is computed from real ``df`` output of this machine (the command verify sends to
the host, run here through ``sh``), with the threshold moved to either side of what is free.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from kprov.deploy.verify import disk_checks
from kprov.deploy.verify.disk_checks import df_command, etcd_disk_check, parse_df


def _sh(command: str) -> str:
    proc = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=30, check=True)
    return proc.stdout


def test_df_is_read_for_a_data_dir_not_made_yet(tmp_path: Path) -> None:
    parsed = parse_df(_sh(df_command(str(tmp_path / "not" / "yet"))))
    assert parsed is not None
    _, size, available, mount = parsed
    assert 0 <= available <= size and mount.startswith("/")


def test_the_row_passes_with_room_and_names_the_member_without(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    host_vars = {"etcd_data_dir": str(tmp_path)}
    free = parse_df(_sh(df_command(str(tmp_path))))
    assert free is not None
    monkeypatch.setattr(disk_checks, "MIN_FREE_BYTES", max(1, free[2] // 2))
    assert etcd_disk_check("h2", host_vars, _sh).ok
    monkeypatch.setattr(disk_checks, "MIN_FREE_BYTES", free[2] * 2 + 1)
    row = etcd_disk_check("h2", host_vars, _sh)
    assert not row.ok
    assert row.scope == "h2" and str(tmp_path) in row.name
    assert "etcd member on h2" in row.detail and "alarm disarm" in row.detail


def test_no_answer_is_a_failed_row_not_a_crash() -> None:
    row = etcd_disk_check("h1", {}, lambda command: "")
    assert not row.ok and disk_checks.ETCD_DATA_DIR in row.detail
    assert parse_df("Filesystem 1-blocks Used Available Capacity Mounted on\n") is None
