"""verify's dual-stack rows: when a cluster counts as dual-stack, the client pod's script (run
by a real busybox sh and wget against an HTTP server on ::1) and the parse of its log."""

from __future__ import annotations

import http.server
import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from kprov.deploy.verify.dual_stack_checks import dual_stack_service, is_dual_stack, parse_fetches, probe_pod


def test_dual_stack_means_a_node_with_a_pod_range_of_each_family() -> None:
    v4 = {"spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"]}}
    dual = {"spec": {"podCIDRs": ["10.244.2.0/24", "fd00:10:244:2::/64"]}}
    assert not is_dual_stack([v4, {"spec": {}}])
    assert is_dual_stack([v4, dual])


def test_the_service_asks_for_both_families() -> None:
    spec = dual_stack_service("ns")["spec"]
    assert spec["ipFamilyPolicy"] == "PreferDualStack" and "clusterIP" not in spec


class _V6Server(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"pod-a\n")

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def ipv6_server() -> Iterator[int]:
    server = _V6Server(("::1", 0), _Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.skipif(not shutil.which("busybox"), reason="needs busybox (the pod image's shell and wget)")
def test_the_client_pods_script_reports_each_url(ipv6_server: int, tmp_path: Path) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        closed = free.getsockname()[1]
    urls = [f"http://[::1]:{ipv6_server}/", f"http://127.0.0.1:{closed}/"]
    script = probe_pod("ns", "h2", urls)["spec"]["containers"][0]["command"]
    assert script[:2] == ["sh", "-c"]
    for applet in ("wget", "timeout", "head"):  # the image's applets are busybox's
        (tmp_path / applet).symlink_to(shutil.which("busybox") or "busybox")
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ.get('PATH', '')}"}
    out = subprocess.run(["busybox", "sh", "-c", script[2]], capture_output=True, text=True, timeout=30,
                         env=env).stdout
    assert parse_fetches(out) == {urls[0]: "pod-a", urls[1]: ""}
