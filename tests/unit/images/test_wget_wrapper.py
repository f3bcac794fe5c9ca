"""bin/wget of the busybox roots: busybox's wget, with -T (which Debian's build crashes on) as a
bound on the whole download. Run with this machine's busybox against a loopback server."""

from __future__ import annotations

import http.server
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from kprov.images.recipes import busybox_files

BUSYBOX = shutil.which("busybox")


@pytest.mark.skipif(BUSYBOX is None, reason="no busybox on this machine (apt-get install busybox-static)")
def test_wget_with_a_short_timeout_fetches_and_fails_as_busyboxs(tmp_path: Path) -> None:
    (entry,) = [f for f in busybox_files(Path(str(BUSYBOX))) if f.path == "bin/wget"]
    script = tmp_path / "wget"
    script.write_bytes(entry.data or b"")
    (tmp_path / "index.html").write_text("hello from the pod\n")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(*args, directory=str(tmp_path), **kwargs)

        def log_message(self, *_args) -> None:  # type: ignore[no-untyped-def]
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/index.html"
        run = subprocess.run([str(BUSYBOX), "sh", str(script), "-q", "-T", "1", "-O", "-", url],
                             capture_output=True, text=True, timeout=30)
        assert (run.returncode, run.stdout) == (0, "hello from the pod\n"), run.stderr
        refused = subprocess.run([str(BUSYBOX), "sh", str(script), "-q", "-T1", "-O", "-", "http://127.0.0.1:1/"],
                                 capture_output=True, text=True, timeout=30)
        assert refused.returncode == 1 and "can't connect" in refused.stderr
    finally:
        server.shutdown()


@pytest.mark.skipif(BUSYBOX is None, reason="no busybox on this machine (apt-get install busybox-static)")
def test_printenv_prints_the_named_variables_and_fails_for_an_unset_one(tmp_path: Path) -> None:
    (entry,) = [f for f in busybox_files(Path(str(BUSYBOX))) if f.path == "bin/printenv"]
    script = tmp_path / "printenv"
    script.write_bytes(entry.data or b"")
    env = {"PATH": "/usr/bin:/bin", "KUBERNETES_SERVICE_HOST": "10.96.0.1"}
    found = subprocess.run([str(BUSYBOX), "sh", str(script), "KUBERNETES_SERVICE_HOST"],
                           capture_output=True, text=True, env=env, timeout=30)
    assert (found.returncode, found.stdout) == (0, "10.96.0.1\n")
    missing = subprocess.run([str(BUSYBOX), "sh", str(script), "NOPE"], capture_output=True, text=True,
                             env=env, timeout=30)
    assert (missing.returncode, missing.stdout) == (1, "")
