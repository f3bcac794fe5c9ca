"""Bounded fuzz run against a local control plane's API server (real etcd, real TLS).

``python -m tests.fuzz.api_fuzz --requests N --seed S`` starts kprov.local's control plane
(etcd + kprov-apiserver on loopback), sends N generated hostile requests (tests/fuzz/cases.py)
from a few worker threads over keep-alive TLS connections, and prints the figures as the
benches do (``name = value``): requests sent, 5xx replies, client timeouts, server crashes,
replies that are not a Status, and the server's RSS growth (VmRSS after − before).

An answer is good when it is a 4xx in kube-apiserver's Status shape (or a 2xx/3xx for a
request that happened to be valid); a 5xx, a timeout, a dropped connection without a reply
or a server exit is a finding, logged with the case that caused it (first few per class).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import socket
import ssl
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tests.fuzz.cases import NAMESPACE, Case, cases

__all__ = ["FuzzReport", "Target", "run_fuzz", "server_rss_kib"]

_TIMEOUT_S = 20.0
_WATCH_HOLD_S = 0.2
_SHOWN_PER_CLASS = 3
# kube-apiserver answers these with a 500 itself (server-side apply of a field the schema does
# not declare; an object etcd refuses as too large): counted apart, not as findings.
_PARSER_REFUSED_METHODS = ("FOO", "CONNECT")
_UPSTREAM_500S = (
    "failed to create typed patch object",
    "request is too large for etcd",
    "etcdserver: request is too large",
)


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    admin: ssl.SSLContext
    anonymous: ssl.SSLContext
    pid: int

    @classmethod
    def from_kubeconfig(cls, server: str, kubeconfig: Path, ca_file: Path, pid: int) -> Target:
        host, port = server.removeprefix("https://").rsplit(":", 1)
        anonymous = ssl.create_default_context(cafile=str(ca_file))
        admin = ssl.create_default_context(cafile=str(ca_file))
        user = yaml.safe_load(kubeconfig.read_text())["users"][0]["user"]
        with tempfile.TemporaryDirectory(prefix="kprov-fuzz-") as directory:
            cert, key = Path(directory) / "c.crt", Path(directory) / "c.key"
            cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
            key.write_bytes(base64.b64decode(user["client-key-data"]))
            admin.load_cert_chain(str(cert), str(key))
        return cls(host, int(port), admin, anonymous, pid)


@dataclass
class FuzzReport:
    requests: int = 0
    status: Counter[int] = field(default_factory=Counter)
    server_errors: int = 0
    upstream_5xx: int = 0  # 500s kube-apiserver answers too (_UPSTREAM_500S)
    timeouts: int = 0
    dropped: int = 0  # connection closed with no reply
    not_status: int = 0  # a 4xx whose body is not a Status with that code
    crashes: int = 0
    rss_growth_mib: float = 0.0
    findings: dict[str, list[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, finding: str, case: Case, detail: str) -> None:
        shown = self.findings.setdefault(f"{finding} {case.kind}", [])
        if len(shown) < _SHOWN_PER_CLASS:
            shown.append(
                f"{case.method} {case.target[:160]} {case.headers[:3]!r:.200} body={case.body[:80]!r}"
                f" -> {detail[:300]}"
            )

    def figures(self) -> dict[str, float]:
        return {
            "api_fuzz_requests": self.requests,
            "api_fuzz_5xx": self.server_errors,
            "api_fuzz_5xx_as_upstream": self.upstream_5xx,
            "api_fuzz_timeouts": self.timeouts,
            "api_fuzz_crashes": self.crashes,
            "api_fuzz_dropped": self.dropped,
            "api_fuzz_not_status": self.not_status,
            "api_fuzz_rss_growth_mib": round(self.rss_growth_mib, 1),
        }


def server_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class _Connection:
    """One keep-alive TLS connection; reopened when the server closes it."""

    def __init__(self, target: Target, identity: str) -> None:
        self.target, self.identity = target, identity
        self.sock: ssl.SSLSocket | None = None
        self.buffer = b""
        self.used = False  # a request was answered on this connection already

    def open(self) -> ssl.SSLSocket:
        if self.sock is None:
            context = self.target.admin if self.identity == "admin" else self.target.anonymous
            raw = socket.create_connection((self.target.host, self.target.port), timeout=_TIMEOUT_S)
            self.sock = context.wrap_socket(raw, server_hostname=self.target.host)
            self.buffer, self.used = b"", False
        return self.sock

    def close(self) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.close()
        self.sock, self.buffer = None, b""

    def _fill(self) -> None:
        assert self.sock is not None
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionResetError("closed by the server")
        self.buffer += chunk

    def _take(self, count: int) -> bytes:
        while len(self.buffer) < count:
            self._fill()
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def _line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            self._fill()
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def read_reply(self, method: str, head_only: bool = False) -> tuple[int, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        code = int(lines[0].split()[1])
        headers = {
            k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:] if ":" in ln)
        }
        if code == 100:
            return self.read_reply(method, head_only)
        if head_only:
            return code, headers, b""
        return code, headers, self.read_body(method, code, headers)

    def read_body(self, method: str, code: int, headers: dict[str, str]) -> bytes:
        if method == "HEAD" or code in (101, 204, 304):
            return b""
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    self._line()
                    return body
                body += self._take(size)
                self._take(2)
        return self._take(int(headers.get("content-length", "0")))


def _may_watch(case: Case) -> bool:
    """A GET that may open a watch stream: a ``watch`` parameter (kube-apiserver reads any
    value but ``false``/``0`` as a watch, on a collection or a named object) or a
    ``/watch/`` path. Its reply is never complete: held and dropped as a watch case is."""
    path, _, query = case.target.partition("?")
    watch_parameter = any(pair.partition("=")[0] == "watch" for pair in query.split("&"))
    return case.method == "GET" and (watch_parameter or "/watch/" in path)


def _request_bytes(case: Case, target: Target, body: bytes) -> bytes:
    lines = [f"{case.method} {case.target} HTTP/1.1", f"Host: {target.host}:{target.port}"]
    lines += [f"{name}: {value}" for name, value in case.headers]
    if case.identity == "bad-token" and not any(n == "Authorization" for n, _ in case.headers):
        lines.append("Authorization: Bearer not-a-real-token")
    if case.body or case.declared_length is not None or case.method in ("POST", "PUT", "PATCH"):
        lines.append(
            f"Content-Length: {case.declared_length if case.declared_length is not None else len(body)}"
        )
    head = "\r\n".join(lines).encode("utf-8", "surrogateescape") + b"\r\n\r\n"
    return head + body


def _judge(report: FuzzReport, case: Case, code: int, headers: dict[str, str], body: bytes) -> None:
    with report.lock:
        report.status[code] += 1
        if (
            code == 500
            and body.startswith(b"{")
            and any(json.loads(body).get("message", "").startswith(words) for words in _UPSTREAM_500S)
        ):
            report.upstream_5xx += 1
        elif code >= 500:
            report.server_errors += 1
            report.note("5xx", case, f"{code} {body[:300]!r}")
        elif code >= 400 and case.method != "HEAD" and not _wire_level(case, code, headers):
            try:
                status = json.loads(body)
                good = status.get("kind") == "Status" and status.get("code") == code
            except (ValueError, AttributeError):
                good = False
            if not good:
                report.not_status += 1
                report.note("not-a-status", case, f"{code} {headers.get('content-type')} {body[:200]!r}")


def _wire_level(case: Case, code: int, headers: dict[str, str]) -> bool:
    """A request the HTTP parser refuses before any handler (too many or too big headers, a
    control character in a header): Go's net/http, and so kube-apiserver, answers those in
    plain text, not with a Status. kprov's parser (httptools) also refuses methods it does
    not know (``FOO``) where Go's server would route them (a 405 Status upstream): a known
    difference, accepted here and named in decision 0031. (CONNECT with a path reaches the
    handler since decision 0038.)"""
    plain = headers.get("content-type", "").startswith("text/plain") and code in (400, 431)
    odd = (
        case.kind.startswith("header")
        or any(not value.isprintable() for _, value in case.headers)
        or case.method in _PARSER_REFUSED_METHODS
    )
    return plain and odd


def _send(conn: _Connection, case: Case, report: FuzzReport, retry: bool = True) -> None:
    data = _request_bytes(case, conn.target, case.body)
    try:
        sock = conn.open()
        if case.mode == "slow":
            head, body = data.split(b"\r\n\r\n", 1)
            sock.sendall(head + b"\r\n\r\n")
            for byte in body[: len(body) // 2]:
                sock.sendall(bytes([byte]))
                time.sleep(0.001)
            conn.close()  # abandoned mid-body: nothing to judge but that the server lives on
            with report.lock:
                report.status[0] += 1
            return
        sock.sendall(data)
        if case.mode == "watch":
            code, headers, _ = conn.read_reply(case.method, head_only=True)
            time.sleep(_WATCH_HOLD_S)
            conn.close()  # dropped with the stream open
            if code >= 400:
                _judge(report, case, code, headers, b'{"kind":"Status","code":%d}' % code)
            else:
                with report.lock:
                    report.status[code] += 1
            return
        code, headers, _ = conn.read_reply(case.method, head_only=True)
        if _may_watch(case) and code < 300:
            time.sleep(_WATCH_HOLD_S)
            conn.close()  # a watch stream (the fuzz's watch cases do the same)
            with report.lock:
                report.status[code] += 1
            return
        body = conn.read_body(case.method, code, headers)
        conn.used = True
        if headers.get("connection", "").lower() == "close":
            conn.close()
        _judge(report, case, code, headers, body)
    except TimeoutError:
        conn.close()
        with report.lock:
            report.timeouts += 1
            report.note("timeout", case, "no reply in time")
    except (ConnectionError, ssl.SSLError, OSError, ValueError, IndexError) as exc:
        stale = conn.used
        conn.close()
        if not _alive(conn.target.pid):
            return
        if stale and retry:  # a keep-alive connection the server had closed: as any client, retry once
            _send(conn, case, report, retry=False)
            return
        if case.declared_length is not None or len(data) > 1_000_000 or case.kind.startswith("header"):
            # The server may answer early and close while a huge request is still being sent
            # (kube-apiserver's Go server does the same); the reply may be lost in the reset.
            with report.lock:
                report.status[-1] += 1
            return
        with report.lock:
            report.dropped += 1
            report.note("dropped", case, repr(exc))


def _worker(
    target: Target, stream: Iterator[Case], budget: list[int], report: FuzzReport, stream_lock: threading.Lock
) -> None:
    conns = {identity: _Connection(target, identity) for identity in ("admin", "anonymous", "bad-token")}
    while True:
        with stream_lock:
            if budget[0] <= 0 or not _alive(target.pid):
                break
            budget[0] -= 1
            case = next(stream)
        _send(conns[case.identity], case, report)
        with report.lock:
            report.requests += 1
    for conn in conns.values():
        conn.close()


def _prepare(target: Target) -> None:
    conn = _Connection(target, "admin")
    body = json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}).encode()
    conn.open().sendall(
        _request_bytes(
            Case("setup", "POST", "/api/v1/namespaces", [("Content-Type", "application/json")], body),
            target,
            body,
        )
    )
    code, _, _ = conn.read_reply("POST")
    conn.close()
    if code not in (201, 409):
        raise RuntimeError(f"creating namespace {NAMESPACE}: {code}")


def run_fuzz(
    target: Target, requests: int, seed: int, workers: int = 4, wrong_types: bool = True
) -> FuzzReport:
    _prepare(target)
    report = FuzzReport()
    before = server_rss_kib(target.pid)
    stream, budget, lock = cases(seed, wrong_types), [requests], threading.Lock()
    threads = [
        threading.Thread(target=_worker, args=(target, stream, budget, report, lock), daemon=True)
        for _ in range(workers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if _alive(target.pid):
        report.rss_growth_mib = (server_rss_kib(target.pid) - before) / 1024
    else:
        report.crashes = 1
    return report


def main(argv: list[str] | None = None) -> int:
    from kprov.local import LocalControlPlane
    from kprov.local.processes import pid_of

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kprov-fuzz-plane-") as directory:
        plane = LocalControlPlane(directory, start_components=False)
        try:
            info = plane.up()
            pid = pid_of(Path(directory), "apiserver")
            assert pid is not None
            target = Target.from_kubeconfig(info.server, Path(info.admin_kubeconfig), Path(info.ca_file), pid)
            started = time.monotonic()
            report = run_fuzz(target, args.requests, args.seed, args.workers)
            elapsed = time.monotonic() - started
        finally:
            log = Path(directory) / "logs" / "apiserver.log"
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            plane.down()
    for finding, shown in sorted(report.findings.items()):
        print(f"# {finding}:", file=sys.stderr)
        for line in shown:
            print(f"#   {line}", file=sys.stderr)
    if report.crashes:
        print(f"# server log tail:\n{tail}", file=sys.stderr)
    print(f"# status codes: {dict(sorted(report.status.items()))} in {elapsed:.0f}s", file=sys.stderr)
    for name, value in report.figures().items():
        print(f"{name} = {value}")
    bad = report.server_errors + report.timeouts + report.crashes + report.dropped + report.not_status
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
