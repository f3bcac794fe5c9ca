"""The etcd peer-link loss fault's nftables rules, applied for real in a network namespace of
its own: segments to or from the peer port are dropped, any other port is untouched, and the
heal removes the table (issue 76, tests/faults/peer_loss.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.faults.peer_loss import dropped_packets, heal_rules, peer_loss_rules

# In the namespace: listeners on the peer port and on another, then a connect to each
# (1 s timeout); prints which connected.
_PROBE = """
import socket
servers = []
for port in (2380, 2381):
    s = socket.socket(); s.bind(("127.0.0.1", port)); s.listen(4); servers.append(s)
made = []
for port in (2380, 2381):
    c = socket.socket(); c.settimeout(1)
    try:
        c.connect(("127.0.0.1", port)); made.append(str(port))
    except OSError:
        pass
    c.close()
print(" ".join(made))
"""


@pytest.fixture
def netns() -> Iterator[str]:
    if os.geteuid() != 0 or shutil.which("nft") is None or shutil.which("ip") is None:
        pytest.skip("needs root, nft and ip")
    name = f"kprov-test-peerloss-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def _nft(netns: str, script: str) -> None:
    subprocess.run(["ip", "netns", "exec", netns, "nft", "-f", "-"], input=script, text=True, check=True,
                   capture_output=True, timeout=30)


def _connected(netns: str) -> set[str]:
    proc = subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c", _PROBE], capture_output=True,
                          text=True, timeout=30, check=True)
    return set(proc.stdout.split())


def test_only_the_peer_port_loses_segments_and_the_heal_restores_it(netns: str) -> None:
    assert _connected(netns) == {"2380", "2381"}
    _nft(netns, peer_loss_rules(100))
    assert _connected(netns) == {"2381"}
    listed = subprocess.run(["ip", "netns", "exec", netns, "nft", "list", "table", "inet",
                             "kprov_fault_peer_loss"], capture_output=True, text=True, check=True).stdout
    assert dropped_packets(listed) >= 1  # the SYN (its retransmission comes after the probe gave up)
    _nft(netns, heal_rules())
    _nft(netns, heal_rules())  # idempotent
    assert _connected(netns) == {"2380", "2381"}


def test_the_share_is_a_percentage() -> None:
    assert "numgen random mod 100 < 10 counter drop" in peer_loss_rules(10)
    with pytest.raises(ValueError):
        peer_loss_rules(101)
