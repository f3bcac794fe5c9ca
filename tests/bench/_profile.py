"""Where the CPU went inside Python processes during a bench: py-spy samples them.

``Profiler.start(name, pid)`` runs ``py-spy record`` (non-blocking: the target is never
paused; sampling stacks only, idle threads left out, so samples follow CPU use) on a
process and its children; ``stop()`` ends every recording, and ``top(names)`` gives the
functions most samples were in (self time), as shares. py-spy is optional: without it
(or without the right to trace) nothing is recorded and ``top`` is empty.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

__all__ = ["Profiler", "top_frames"]

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def _short(frame: str) -> str:
    """``func (…/site-packages/kprov/x/y.py:12)`` -> ``func (kprov/x/y.py:12)``."""
    match = _FRAME.match(frame)
    if not match:
        return frame
    path = match["file"]
    if "/kprov/" in path:
        path = "kprov/" + path.rsplit("/kprov/", 1)[1]
    else:
        path = re.sub(r"^.*/(site-packages|dist-packages|lib/python3[.\d]*)/", "", path)
    line = f":{match['line']}" if match["line"] else ""
    return f"{match['func']} ({path}{line})"


def top_frames(raw: str, count: int = 5, within: str = "") -> list[tuple[float, str]]:
    """The ``count`` frames with most samples in py-spy's raw (collapsed) output: the leaf
    frame (self time), or with ``within`` (e.g. ``kprov/``) the innermost frame whose file
    path starts with it or has it after a ``/`` (that function and what it called outside the project)."""
    leaves: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, samples = line.rpartition(" ")
        if not stack or not samples.isdigit():
            continue
        frames = stack.split(";")
        frame = frames[-1]
        if within:  # py-spy names files relative to sys.path ("kprov/x.py") or in full
            frame = next((f for f in reversed(frames) if f"({within}" in f or f"/{within}" in f), frame)
        leaves[_short(frame)] += int(samples)
    total = sum(leaves.values())
    return [(100.0 * n / total, frame) for frame, n in leaves.most_common(count)] if total else []


class Profiler:
    def __init__(self, out_dir: Path, rate: int = 20) -> None:
        self.out_dir = out_dir
        out_dir.mkdir(parents=True, exist_ok=True)  # (py-spy writes nothing into a missing one)
        self.rate = rate
        self.program = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        self._running: dict[str, subprocess.Popen] = {}

    @property
    def available(self) -> bool:
        return Path(self.program).exists()

    def _out(self, name: str) -> Path:
        return self.out_dir / f"pyspy-{name}.txt"

    def start(self, name: str, pid: int | None) -> None:
        if not self.available or pid is None:
            return
        self._running[name] = subprocess.Popen(
            [self.program, "record", "--pid", str(pid), "--subprocesses", "--nonblocking", "--rate",
             str(self.rate), "--format", "raw", "-o", str(self._out(name))],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        for proc in self._running.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        for proc in self._running.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def top(self, names: list[str], count: int = 5, within: str = "") -> list[tuple[float, str]]:
        """The top frames over the recordings of ``names`` taken together (e.g. both API servers)."""
        raw = []
        for name in names:
            with contextlib.suppress(OSError):
                raw.append(self._out(name).read_text())
        return top_frames("\n".join(raw), count, within)
