"""The latency fault of tests/faults/nfqueue_delay.py on a real kernel queue: in a throwaway
network namespace, TCP to one port is queued (xtables' NFQUEUE through iptables-nft; this
kernel has no netem and no native nft ``queue``) and the holder accepts each packet 50 ms
late, so a connect (SYN, then SYN-ACK, both queued) takes about 100 ms instead of ~0."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid

import pytest

PROBE = """
import socket, time
srv = socket.socket(); srv.bind(("127.0.0.1", 9099)); srv.listen(50)
for _ in range(5):
    c = socket.socket(); t = time.monotonic(); c.connect(("127.0.0.1", 9099))
    print((time.monotonic() - t) * 1000); c.close(); srv.accept()[0].close()
"""


def _in(ns: str, *argv: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True, text=True,
                          check=True, timeout=30, **kwargs)  # type: ignore[call-overload]


def test_queued_packets_are_accepted_after_the_delay() -> None:
    if os.geteuid() != 0 or not shutil.which("iptables-nft"):
        pytest.skip("needs root and iptables-nft")
    ns = f"kprov-q-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        _in(ns, "ip", "link", "set", "lo", "up")
        before = [float(x) for x in _in(ns, sys.executable, "-c", PROBE).stdout.split()]
        for side in ("--dport", "--sport"):
            _in(ns, "iptables-nft", "-A", "OUTPUT", "-p", "tcp", side, "9099",
                "-j", "NFQUEUE", "--queue-num", "7", "--queue-bypass")
        argv = [sys.executable, "-m", "tests.faults.nfqueue_delay", "--queue", "7", "--delay-ms", "50",
                "--seconds", "4"]
        holder = subprocess.Popen(["ip", "netns", "exec", ns, *argv], stdout=subprocess.PIPE, text=True)
        try:
            time.sleep(0.5)  # bound before the first SYN
            during = [float(x) for x in _in(ns, sys.executable, "-c", PROBE).stdout.split()]
        finally:
            out, _ = holder.communicate(timeout=10)
        print(f"connect ms without: {before}; with a 50 ms queue delay: {during}; holder: {out.strip()}")
        assert max(before) < 20
        assert all(90 <= ms < 400 for ms in during), during
        assert int(out.strip().split("=")[1]) >= 10
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
