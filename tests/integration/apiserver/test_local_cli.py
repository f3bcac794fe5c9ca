"""`kprov local up|status|down` end to end: a working control plane, then nothing left running."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def _kprov(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kprov.cli.main", *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.skipif(not os.path.exists("/usr/bin/etcd"), reason="etcd is not installed")
def test_local_up_status_down(tmp_path: Path):
    directory = tmp_path / "local"
    try:
        up = _kprov("local", "up", "--dir", str(directory))
        assert up.returncode == 0, up.stderr
        kubeconfig = directory / "kubeconfigs" / "kubernetes-admin.conf"
        assert f"kubectl --kubeconfig {kubeconfig} get ns" in up.stdout
        got = subprocess.run(
            [
                "/usr/bin/kubectl",
                "--kubeconfig",
                str(kubeconfig),
                "--cache-dir",
                str(tmp_path / "cache"),
                "get",
                "ns",
                "kube-system",
                "-o",
                "name",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert got.stdout.strip() == "namespace/kube-system", got.stderr
        status = _kprov("local", "status", "--dir", str(directory))
        assert "apiserver" in status.stdout and "running" in status.stdout
    finally:
        down = _kprov("local", "down", "--dir", str(directory))
    assert down.returncode == 0 and "apiserver" in down.stdout and "etcd" in down.stdout
    after = _kprov("local", "status", "--dir", str(directory))
    assert "running" not in after.stdout
