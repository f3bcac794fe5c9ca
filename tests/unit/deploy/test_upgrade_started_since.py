"""`kprov upgrade` dates a pure-Python component against the venv link's switch to the tick:
a process started 0.3 s after the switch (a fast worker run restarts that soon) runs the new
build, one started 0.3 s before it the old one. Run here with the real shell, /proc and stat."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from kprov.deploy.upgrade import STARTED_SINCE


def _started_since(pid: int, link: Path) -> bool:
    script = f'{STARTED_SINCE}\nstarted_since {pid} "{link}"'
    return subprocess.run(["bash", "-c", script], check=False).returncode == 0


def test_a_process_is_dated_against_the_link_to_a_fraction_of_a_second(tmp_path: Path) -> None:
    before = subprocess.Popen(["sleep", "30"])
    try:
        time.sleep(0.3)
        link = tmp_path / "venv"
        link.symlink_to(tmp_path)
        time.sleep(0.3)
        after = subprocess.Popen(["sleep", "30"])
        try:
            assert _started_since(after.pid, link)
            assert not _started_since(before.pid, link)
        finally:
            after.kill()
            after.wait()
    finally:
        before.kill()
        before.wait()
