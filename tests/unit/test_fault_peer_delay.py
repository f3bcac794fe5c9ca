"""The latency fault's pieces without a kernel: the nfnetlink_queue messages the holder parses
and sends, and the rules queueing the etcd peer port (the kernel queue itself:
tests/integration/test_nfqueue_delay.py)."""

from __future__ import annotations

import struct

import pytest

from tests.faults import nfqueue_delay as q
from tests.faults.peer_delay import PeerLinkDelay, _rules


def _packet_message(packet_id: int, queue: int = 7) -> bytes:
    hdr = q._attr(q._PACKET_HDR, struct.pack("!IHB", packet_id, 0x0800, 3))
    mark = q._attr(3, struct.pack("!I", 0))  # another attribute before the next message
    return q._message(q._MSG_PACKET, queue, hdr + mark, seq=0)


def test_packet_ids_are_read_from_every_message_of_a_datagram() -> None:
    datagram = _packet_message(41) + _packet_message(42)
    assert q._packet_ids(datagram) == [41, 42]


def test_a_refusal_from_the_kernel_is_an_error_and_an_ack_is_not() -> None:
    def error(code: int) -> bytes:
        return struct.pack("=IHHII", 36, q._NLMSG_ERROR, 0, 1, 0) + struct.pack("=i", code) + bytes(16)

    assert q._packet_ids(error(0)) == []
    with pytest.raises(OSError, match="refused"):
        q._packet_ids(error(-1))


def test_a_verdict_names_the_queue_and_accepts_the_packet() -> None:
    message = q._message(q._MSG_VERDICT, 7, q._attr(q._VERDICT_HDR, struct.pack("!II", q._NF_ACCEPT, 42)), 5)
    length, kind, _, seq, _ = struct.unpack_from("=IHHII", message)
    assert (length, kind, seq) == (len(message), (3 << 8) | 1, 5)
    assert struct.unpack_from("!BBH", message, 16) == (0, 0, 7)
    assert struct.unpack_from("!II", message, 24) == (1, 42)


def test_both_directions_of_the_peer_port_are_queued_and_removed_alike() -> None:
    added, deleted = _rules("-I"), _rules("-D")
    ports = [r[r.index("-p") + 2:r.index("-p") + 4] for r in added]
    assert ports == [["--dport", "2380"], ["--sport", "2380"]]
    assert [r[2:] for r in added] == [r[2:] for r in deleted]
    assert all("--queue-bypass" in r for r in added)  # no holder: packets pass, never stall
    assert PeerLinkDelay(("h1", "h2"), 50).name == "50 ms on the etcd peer links of h1, h2"
