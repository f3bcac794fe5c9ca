"""kprov_wait_healthy (roles/kprov_defaults), the script every restart handler waits with, run
here against a stand-in systemctl: it looks every kprov_health_poll_s, a unit without a
health check must stay active 2 s whatever the pause, a crash loop fails at once."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import jinja2
import yaml

DEFAULTS = Path(__file__).resolve().parents[3] / "roles" / "kprov_defaults" / "defaults" / "main.yml"

# show -> the restart count in $RESTARTS_FILE; is-active -> whether $ACTIVE_FILE exists
_SYSTEMCTL = """#!/bin/sh
case "$1" in
  show) cat "$RESTARTS_FILE" ;;
  is-failed) exit 1 ;;
  is-active) [ -e "$ACTIVE_FILE" ] ;;
esac
"""


def _run(tmp_path: Path, health_check: str) -> tuple[subprocess.CompletedProcess[str], float]:
    defaults = yaml.safe_load(DEFAULTS.read_text())
    script = jinja2.Template(defaults["kprov_wait_healthy"]).render(
        health_unit="kprov-x.service", health_check=health_check, kprov_health_timeout_s=10,
        kprov_health_poll_s=defaults["kprov_health_poll_s"])
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "systemctl").write_text(_SYSTEMCTL)
    (bin_dir / "systemctl").chmod(0o755)
    (bin_dir / "journalctl").write_text("#!/bin/sh\necho journal\n")
    (bin_dir / "journalctl").chmod(0o755)
    (tmp_path / "restarts").write_text("0")
    (tmp_path / "active").touch()
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "RESTARTS_FILE": str(tmp_path / "restarts"),
           "ACTIVE_FILE": str(tmp_path / "active")}
    began = time.monotonic()
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, timeout=30)
    return proc, time.monotonic() - began


def test_the_pause_between_looks_is_under_a_second() -> None:
    poll = yaml.safe_load(DEFAULTS.read_text())["kprov_health_poll_s"]
    assert 0 < poll < 1


def test_a_unit_without_a_check_is_ready_after_two_seconds_active(tmp_path: Path) -> None:
    proc, took = _run(tmp_path, "")
    assert proc.returncode == 0 and "kprov-x.service is active" in proc.stdout, proc.stderr
    assert took >= 2.0  # as with 1 s looks: 3 looks over 2 s


def test_a_checked_unit_is_ready_once_its_check_passes(tmp_path: Path) -> None:
    flag = tmp_path / "healthy"
    proc, _ = _run(tmp_path, f"sh -c 'test -e {flag} || {{ touch {flag}; exit 1; }}'")
    assert proc.returncode == 0 and "kprov-x.service is healthy" in proc.stdout, proc.stderr
    assert flag.exists()  # it looked again after a failed check


def test_a_crash_loop_fails_at_once_with_the_journal(tmp_path: Path) -> None:
    restarts = tmp_path / "restarts"
    # the restart count read first is 0; every later read says 2 restarts since
    proc, took = _run(tmp_path, f"sh -c 'echo 2 > {restarts}; exit 1'")
    assert proc.returncode == 1 and "restarting in a loop" in proc.stderr and "journal" in proc.stderr
    assert took < 10  # not the timeout
