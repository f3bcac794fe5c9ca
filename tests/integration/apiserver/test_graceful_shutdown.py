"""SIGTERM shuts an API server down as kube-apiserver does with --shutdown-delay-duration:
/readyz fails at once while requests are still answered for the delay, then the port closes
and the process exits 0."""

from __future__ import annotations

import signal
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from kprov.local.control_plane import apiserver_argv
from kprov.local.ports import free_port, wait_for_port


def _get(port: int, path: str) -> int:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    try:
        with urllib.request.urlopen(f"https://127.0.0.1:{port}{path}", context=context, timeout=2) as reply:
            return int(reply.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def test_sigterm_fails_readyz_keeps_serving_for_the_delay_then_exits(control_plane, tmp_path: Path) -> None:
    port = free_port()
    argv = apiserver_argv(control_plane.plane.pki, control_plane.etcd_url, port,
                          "--shutdown-delay-duration", "6s")
    with open(tmp_path / "apiserver.log", "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        assert wait_for_port("127.0.0.1", port, 30), (tmp_path / "apiserver.log").read_text()
        deadline = time.monotonic() + 30
        while _get(port, "/readyz") != 200:
            assert time.monotonic() < deadline, "never ready"
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        # a loaded machine may take a second per TLS request: two pairs fit the 6 s delay
        during = [(_get(port, "/readyz"), _get(port, "/version")) for _ in range(2)]
        assert all(ready == 500 and version == 200 for ready, version in during), during
        assert proc.wait(15) == 0
        assert not wait_for_port("127.0.0.1", port, 0.5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
