"""The stand-in's HTTPS listener and command line.

Design: a threading HTTP/1.1 server whose socket is wrapped in TLS with the serving pair
(``--tls-cert-file``, ``--tls-private-key-file``, the Secret the test mounts) and which asks
for, but does not require, a client certificate verified against the front-proxy CA
(:mod:`.auth`). /healthz and /livez answer ``ok``; /readyz answers ``ok`` once the store
(the etcd sidecar) answers - the test's readiness probe polls it. Every other request is
authenticated (401), authorized (403) and then answered by :class:`.api.WardleAPI`. Request
bodies may come with Content-Length or chunked. Each request is logged to stderr as one
line (method, path, caller, status), which is what ``--audit-log-path=-`` asks for.

``main`` accepts the flags the suite passes to upstream's image (``--etcd-servers``, the two
TLS files, ``--secure-port``; the ``--audit-log-*`` ones are accepted and ignored), waits
until kube-system/extension-apiserver-authentication can be read, then serves.
"""

from __future__ import annotations

import argparse
import json
import socket
import ssl
import sys
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .api import Reply, WardleAPI, attributes, status
from .auth import Authorizer, Caller, InCluster, RequestHeaders
from .store import EtcdStore, MemoryStore, Store, StoreError

__all__ = ["WardleServer", "main", "serving_context"]

_UNAUTHENTICATED = ("/healthz", "/livez", "/readyz")
# (caller, attributes, non-resource) -> (allowed, reason)
Authorize = Callable[[Caller, Mapping[str, str], bool], tuple[bool, str]]


def serving_context(cert_file: str, key_file: str, client_ca: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    if client_ca:
        context.load_verify_locations(cadata=client_ca)
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


class WardleServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], context: ssl.SSLContext, api: WardleAPI, store: Store,
                 headers: RequestHeaders, authorize: Authorize) -> None:
        self.context, self.api, self.store = context, api, store
        self.request_headers, self.authorize = headers, authorize
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        raw, address = super().get_request()
        raw.settimeout(30)
        return self.context.wrap_socket(raw, server_side=True, do_handshake_on_connect=False), address


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: WardleServer

    def setup(self) -> None:
        super().setup()
        try:
            self.connection.do_handshake()  # type: ignore[attr-defined]
        except (ssl.SSLError, OSError) as exc:
            self.log_message("TLS handshake from %s failed: %s", self.client_address[0], exc)
            self.close_connection = True
            self.rfile.close()  # handle() then reads nothing and ends

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silent: :meth:`_send` logs each request once, with the caller."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        sys.stderr.write(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {format % args}\n")

    def _body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, code: int, payload: bytes, content_type: str, who: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
        self.log_message('"%s %s" %s user=%s', self.command, self.path, code, who)

    def _reply(self, reply: Reply, who: str) -> None:
        self._send(reply.status, json.dumps(reply.body).encode(), "application/json", who)

    def _serve(self) -> None:
        url = urlsplit(self.path)
        body = self._body()
        if url.path in _UNAUTHENTICATED:
            ready = url.path != "/readyz" or self.server.store.healthy()
            text = b"ok" if ready else b"[-]etcd failed: reason withheld\nreadyz check failed\n"
            self._send(200 if ready else 500, text, "text/plain; charset=utf-8", "-")
            return
        caller = self.server.request_headers.caller(self.connection.getpeercert(), self.headers)  # type: ignore[attr-defined]
        if caller is None:
            self._reply(status(401, "Unauthorized", "Unauthorized"), "-")
            return
        query = parse_qs(url.query)
        attrs, non_resource = attributes(self.command, url.path, query)
        try:
            allowed, reason = self.server.authorize(caller, attrs, non_resource)
        except Exception as exc:  # the API server could not be asked: upstream answers 500
            self._reply(status(500, "InternalError", f"authorization failed: {exc}"), caller.name)
            return
        if not allowed:
            if non_resource:
                what = f'cannot {attrs["verb"]} path "{attrs["path"]}"'
            else:
                scope = attrs["namespace"]
                what = f'cannot {attrs["verb"]} resource "{attrs["resource"]}"'
                what += f' in API group "{attrs["group"]}"'
                what += f' in the namespace "{scope}"' if scope else " at the cluster scope"
            message = f'forbidden: User "{caller.name}" {what}' + (f": {reason}" if reason else "")
            self._reply(status(403, "Forbidden", message), caller.name)
            return
        try:
            reply = self.server.api.handle(self.command, url.path, query, body,
                                           self.headers.get("Content-Type") or "application/json")
        except StoreError as exc:
            reply = status(500, "InternalError", f"storage: {exc}")
        self._reply(reply, caller.name)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="sample-apiserver (kprov stand-in)")
    parser.add_argument("--etcd-servers", default="")
    parser.add_argument("--tls-cert-file", required=True)
    parser.add_argument("--tls-private-key-file", required=True)
    parser.add_argument("--secure-port", type=int, default=443)
    parser.add_argument("--bind-address", default="0.0.0.0")  # noqa: S104 (a pod's server)
    known, ignored = parser.parse_known_args(argv)
    if ignored:
        sys.stderr.write(f"ignoring flags: {' '.join(ignored)}\n")
    return known


def main(argv: list[str] | None = None) -> int:
    args = _arguments(sys.argv[1:] if argv is None else argv)
    client = InCluster.from_environment()
    while True:
        try:
            headers = RequestHeaders.fetch(client)
            break
        except Exception as exc:
            sys.stderr.write(f"reading kube-system/extension-apiserver-authentication: {exc}; retrying\n")
            time.sleep(2)
    if not headers.client_ca:
        sys.stderr.write("no requestheader-client-ca-file published: no request can be authenticated\n")
    servers = [s for s in args.etcd_servers.split(",") if s]
    store: Store = EtcdStore(servers) if servers else MemoryStore()
    context = serving_context(args.tls_cert_file, args.tls_private_key_file, headers.client_ca)
    server = WardleServer((args.bind_address, args.secure_port), context, WardleAPI(store), store, headers,
                          Authorizer(client).allows)
    sys.stderr.write(f"serving {len(servers) and 'etcd ' + ','.join(servers) or 'memory'}-backed "
                     f"wardle.example.com/v1alpha1 on :{args.secure_port}\n")
    server.serve_forever()
    return 0
