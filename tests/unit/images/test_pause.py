"""kprov's pause exits 0 on SIGTERM and SIGINT (a plain sleep as PID 1 ignores them)."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from kprov.images.recipes import BUSYBOX_PATH, PAUSE_ENTRYPOINT, pause_image


def _default_stop_signals() -> None:
    # As a container runtime starts a container: stop signals at their defaults. A job started
    # in the background of a non-interactive shell (a CI runner's, `cmd &`) inherits SIGINT
    # ignored, and sh cannot trap a signal that was ignored when it started.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)


def _started(busybox: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([busybox, *PAUSE_ENTRYPOINT[1:]], preexec_fn=_default_stop_signals)
    for _ in range(600):  # until the shell has its trap and its sleeping job (slow when loaded)
        children = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True)
        if children.stdout.strip():
            break
        time.sleep(0.05)
    return process


def _dead(pid: str) -> bool:
    for _ in range(100):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_pause_exits_zero_on_stop_signals(sig: signal.Signals) -> None:
    busybox = str(BUSYBOX_PATH) if BUSYBOX_PATH.is_file() else shutil.which("busybox")
    if busybox is None or shutil.which("pgrep") is None:
        pytest.skip("needs busybox and pgrep")
    process = _started(busybox)
    sleeper = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True).stdout.split()
    process.send_signal(sig)
    try:
        assert process.wait(timeout=30) == 0
    except subprocess.TimeoutExpired:  # say what the shell's signal state was
        status = Path(f"/proc/{process.pid}/status").read_text()
        wchan = Path(f"/proc/{process.pid}/wchan").read_text()
        process.kill()
        lines = [line for line in status.splitlines() if line.startswith(("Sig", "ShdPnd", "State"))]
        pytest.fail(f"sh ignored {sig.name} for 30 s; wchan {wchan}; {'; '.join(lines)}")
    for pid in sleeper:  # its sleeping job went with it (gone, or a zombie awaiting init)
        assert _dead(pid)


def test_pause_image_uses_the_signal_aware_entrypoint() -> None:
    if not BUSYBOX_PATH.is_file():
        pytest.skip("needs busybox-static")
    assert pause_image().entrypoint == PAUSE_ENTRYPOINT
