"""The mounts section of the facts script on this machine, in a mount namespace of its own
holding a bind mount whose mount point has a blank: under dash (a local connection's /bin/sh)
as under bash, the entry keeps its name and sizes, and, as in Ansible, is not marked a bind
mount (findmnt escapes the blank), while a plain bind mount is."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from kprov.provision.facts.mounts import MOUNTS_SCRIPT, mounts

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None,
                                reason="needs root and unshare for a private mount namespace")


@pytest.mark.parametrize("shell", ["sh", "bash"])
def test_mount_points_with_blanks_and_binds(shell: str, tmp_path: Path) -> None:
    source, plain, blank = tmp_path / "src", tmp_path / "plain", tmp_path / "my dir"
    for path in (source, plain, blank):
        path.mkdir()
    script = (f"mount --bind {source} {plain} && mount --bind {source} '{blank}' && "
              f"exec {shell} -c \"$KPROV_MOUNTS\"")
    done = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                          env={**os.environ, "KPROV_MOUNTS": MOUNTS_SCRIPT},
                          capture_output=True, text=True, timeout=30, check=True)
    facts: dict = {}
    mounts(done.stdout, facts)
    found = {m["mount"]: m for m in facts["mounts"]}
    assert found[str(plain)]["options"].endswith(",bind")
    assert not found[str(blank)]["options"].endswith(",bind")
    assert found[str(blank)]["block_total"] == found[str(plain)]["block_total"] > 0
