"""The ``python`` stand-in is a working interpreter on its own: built into an archive by the
stand-ins' builder (as ``kprov images standins --name python:3.12`` does), its layer unpacked
and run in a chroot with nothing of this machine's, it imports the standard library's
extension modules (their shared objects came along) and serves a TCP socket, as the official
Python client's port-forward test asks of ``python -u /opt/port-server.py``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from kprov.images.python_root import python_version
from kprov.images.recipes import BUSYBOX_PATH
from kprov.images.standins import build_standins
from tests.integration.images.oci_layer import unpack

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not python_version() or not BUSYBOX_PATH.is_file() or shutil.which("chroot") is None,
    reason="needs root, chroot, Debian's python3 and busybox-static",
)

_CHROOT = shutil.which("chroot") or "chroot"
_SCRIPT = r"""
import bz2, ctypes, decimal, hashlib, json, lzma, socket, sqlite3, ssl, sys, threading, uuid, zlib
server = socket.create_server(("127.0.0.1", 0))
def echo():
    conn, _ = server.accept()
    conn.sendall(conn.recv(100).upper())
    conn.close()
threading.Thread(target=echo).start()
with socket.create_connection(server.getsockname()) as client:
    client.sendall(b"forwarded")
    reply = client.recv(100)
print(json.dumps({"reply": reply.decode(), "version": "%d.%d" % sys.version_info[:2],
                  "sha256": hashlib.sha256(b"x").hexdigest()[:8], "ssl": ssl.OPENSSL_VERSION.split()[0]}))
"""


def test_python_stand_in_runs_alone_in_a_chroot(tmp_path: Path) -> None:
    archive = tmp_path / "standins.tar"
    digests = build_standins(archive, None, ["python:3.12"])
    reference = "docker.io/library/python:3.12"
    assert reference in digests
    root = tmp_path / "root"
    assert unpack(archive, reference, root)["config"]["Cmd"] == ["python3"]
    (root / "opt").mkdir(exist_ok=True)
    (root / "opt" / "port-server.py").write_text(_SCRIPT)
    done = subprocess.run([_CHROOT, str(root), "/usr/local/bin/python", "-u", "/opt/port-server.py"],
                          capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["reply"] == "FORWARDED"
    assert found["version"] == python_version()
    assert found["sha256"] == "2d711642" and found["ssl"] == "OpenSSL"
    path = {"PATH": "/usr/local/bin:/usr/bin:/bin"}
    shell = subprocess.run([_CHROOT, str(root), "/bin/sh", "-c", "python3 -c 'print(6 * 7)'"],
                           capture_output=True, text=True, timeout=60, env=path)
    assert shell.stdout.strip() == "42", shell.stderr
