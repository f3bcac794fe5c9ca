"""A stub upstream resolver on a lab address, so DNS tests never reach the machine's own
resolvers: it knows ``*.kprov-upstream.test`` (A 192.0.2.x, x from the first label's
length) and answers NXDOMAIN for everything else. Runs in a thread (``StubResolver``) or as
``python -m tests.e2e.cluster.dns_stub ADDRESS`` for manual tries.
"""

from __future__ import annotations

import socket
import sys
import threading

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

__all__ = ["KNOWN_NAME", "KNOWN_SUFFIX", "StubResolver", "known_address"]

KNOWN_SUFFIX = "kprov-upstream.test"
KNOWN_NAME = f"outside.{KNOWN_SUFFIX}"


def known_address(name: str) -> str:
    return f"192.0.2.{len(name.split('.')[0]) % 250 + 1}"


def answer(wire: bytes) -> bytes | None:
    try:
        query = dns.message.from_wire(wire)
    except Exception:  # noqa: BLE001 - not a DNS message: ignore it
        return None
    response = dns.message.make_response(query)
    question = query.question[0]
    name = question.name.to_text().lower().rstrip(".")
    if name.endswith("." + KNOWN_SUFFIX):
        if question.rdtype == dns.rdatatype.A:
            response.answer.append(dns.rrset.from_text(question.name, 30, "IN", "A", known_address(name)))
    else:
        response.set_rcode(dns.rcode.NXDOMAIN)
    return response.to_wire()


class StubResolver:
    def __init__(self, address: str, port: int = 53) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((address, port))
        self.sock.settimeout(0.5)
        self.questions: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                wire, peer = self.sock.recvfrom(4096)
            except OSError:
                continue
            out = answer(wire)
            if out is not None:
                with_name = dns.message.from_wire(wire).question[0].name.to_text()
                self.questions.append(with_name)
                self.sock.sendto(out, peer)

    def __enter__(self) -> StubResolver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


if __name__ == "__main__":
    with StubResolver(sys.argv[1]) as stub:
        threading.Event().wait()
