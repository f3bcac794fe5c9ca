"""The ubuntu/debian stand-in runs what pods under those names mostly run: built by the
stand-ins' builder (``kprov images standins --name ubuntu``), its layer unpacked and run in a
chroot with nothing of this machine's, GNU bash (not busybox's ash answering to the name)
runs a script with bash's own syntax, and busybox's ``date`` and ``sleep`` are on PATH, as
kr8s's exec tests ask of ``ubuntu:latest``."""

from __future__ import annotations

import datetime
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from kprov.images.offline import BASH
from kprov.images.recipes import BUSYBOX_PATH
from kprov.images.standins import build_standins
from tests.integration.images.oci_layer import unpack

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not BASH.is_file() or not BUSYBOX_PATH.is_file() or shutil.which("chroot") is None,
    reason="needs root, chroot, bash and busybox-static",
)

_CHROOT = shutil.which("chroot") or "chroot"
# an associative array and BASH_VERSINFO (GNU bash's, which busybox's ash has neither of)
_SCRIPT = 'declare -A seen=([x]=1); [[ ${BASH_VERSINFO[0]} -ge 5 ]] && echo "bash ${#seen[@]}"; date +%Y'
_SCRIPT += "; sleep 0"


def test_ubuntu_and_debian_stand_ins_run_bash_and_busybox_tools(tmp_path: Path) -> None:
    archive = tmp_path / "standins.tar"
    digests = build_standins(archive, None, ["ubuntu", "debian:12"])
    assert {"docker.io/library/ubuntu:latest", "docker.io/library/debian:12"} <= set(digests)
    root = tmp_path / "root"
    config = unpack(archive, "docker.io/library/ubuntu:latest", root)
    assert config["config"]["Cmd"] == ["/bin/bash"]
    done = subprocess.run([_CHROOT, str(root), "/bin/bash", "-c", _SCRIPT], capture_output=True, text=True,
                          timeout=60, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["bash", "1", str(datetime.date.today().year)]
