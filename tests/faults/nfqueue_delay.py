"""A latency fault without sch_netem: packets queued to userspace and accepted N ms later.

This kernel has no netem qdisc, and no nft ``queue`` expression either (``nft_queue`` is
absent: the rule fails with ENOENT), but it has nfnetlink_queue and xtables' NFQUEUE
target, which ``iptables-nft -j NFQUEUE`` adds to an nftables chain. This holder binds one
queue over netfilter netlink (no library: the NFQNL messages are small), asks for packet
metadata only, and gives each packet its ACCEPT verdict ``delay_ms`` after it arrived; FIFO,
so the order of a flow is kept. Run it in the network namespace whose rules queue the
packets (``ip netns exec <ns> python -m tests.faults.nfqueue_delay --queue 7 --delay-ms 50``);
if it exits, the rule's ``--queue-bypass`` lets packets through again.
"""

from __future__ import annotations

import argparse
import heapq
import select
import signal
import socket
import struct
import sys
import time

__all__ = ["DelayQueue"]

_NETLINK_NETFILTER = 12
_NFNL_SUBSYS_QUEUE = 3
_MSG_PACKET, _MSG_VERDICT, _MSG_CONFIG = 0, 1, 2
_CFG_CMD, _CFG_PARAMS = 1, 2
_CMD_BIND = 1
_COPY_META = 1
_PACKET_HDR = 1
_VERDICT_HDR = 2
_NF_ACCEPT = 1
_NLM_F_REQUEST = 1
_NLMSG_ERROR = 2


def _attr(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * (-length % 4)


def _message(msg: int, queue: int, attrs: bytes, seq: int) -> bytes:
    body = struct.pack("!BBH", socket.AF_UNSPEC, 0, queue) + attrs
    kind = (_NFNL_SUBSYS_QUEUE << 8) | msg
    return struct.pack("=IHHII", 16 + len(body), kind, _NLM_F_REQUEST, seq, 0) + body


def _packet_ids(data: bytes) -> list[int]:
    """The packet ids of the NFQNL_MSG_PACKET messages in one netlink datagram."""
    ids = []
    offset = 0
    while offset + 16 <= len(data):
        length, kind = struct.unpack_from("=IH", data, offset)
        if length < 16:
            break
        if kind == (_NFNL_SUBSYS_QUEUE << 8) | _MSG_PACKET:
            at = offset + 20  # after nlmsghdr and nfgenmsg
            while at + 4 <= offset + length:
                alen, akind = struct.unpack_from("=HH", data, at)
                if alen < 4:
                    break
                if akind & 0x7FFF == _PACKET_HDR:
                    ids.append(struct.unpack_from("!I", data, at + 4)[0])
                at += alen + (-alen % 4)
        elif kind == _NLMSG_ERROR:
            code = struct.unpack_from("=i", data, offset + 16)[0]
            if code:
                raise OSError(-code, f"nfnetlink_queue refused: {code}")
        offset += length + (-length % 4)
    return ids


class DelayQueue:
    """Queue ``queue``'s packets are accepted ``delay_ms`` after they arrived."""

    def __init__(self, queue: int, delay_ms: float) -> None:
        self.queue = queue
        self.delay_s = delay_ms / 1000
        self.accepted = 0
        self._seq = 0
        self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, _NETLINK_NETFILTER)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
        self._sock.bind((0, 0))
        self._send(_MSG_CONFIG, _attr(_CFG_CMD, struct.pack("!BxH", _CMD_BIND, socket.AF_INET)))
        self._send(_MSG_CONFIG, _attr(_CFG_PARAMS, struct.pack("!IB", 0, _COPY_META)))

    def _send(self, msg: int, attrs: bytes) -> None:
        self._seq += 1
        self._sock.send(_message(msg, self.queue, attrs, self._seq))

    def run(self, seconds: float | None = None) -> None:
        due: list[tuple[float, int]] = []  # (accept at, packet id), FIFO by arrival
        end = None if seconds is None else time.monotonic() + seconds
        while end is None or time.monotonic() < end:
            now = time.monotonic()
            while due and due[0][0] <= now:
                _, packet = heapq.heappop(due)
                self._send(_MSG_VERDICT, _attr(_VERDICT_HDR, struct.pack("!II", _NF_ACCEPT, packet)))
                self.accepted += 1
            wait = max(0.0, due[0][0] - now) if due else 0.5
            if select.select([self._sock], [], [], wait)[0]:
                arrived = time.monotonic()
                for packet in _packet_ids(self._sock.recv(1 << 16)):
                    heapq.heappush(due, (arrived + self.delay_s, packet))

    def close(self) -> None:
        self._sock.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queue", type=int, required=True)
    parser.add_argument("--delay-ms", type=float, required=True)
    parser.add_argument("--seconds", type=float, default=None)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # print the count on the way out
    holder = DelayQueue(args.queue, args.delay_ms)
    try:
        holder.run(args.seconds)
    finally:
        print(f"accepted={holder.accepted}", flush=True)
        holder.close()


if __name__ == "__main__":
    main()
