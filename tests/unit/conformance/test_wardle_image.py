"""The Aggregator test's images: the plan recognises sample-apiserver (a stand-in) and etcd
(a substitute); their roots, written out and entered with chroot, run - the stand-in's
interpreter finds every stdlib module it needs, and the etcd of the etcd image stores and
serves flunders through the v3 JSON gateway the stand-in talks to."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from kprov.conformance.aggregator_images import ETCD_BINARY, etcd_spec, etcd_version, sample_apiserver_spec
from kprov.conformance.images import plan_images
from kprov.conformance.python_root import host_python
from kprov.conformance.wardle.store import Conflict, EtcdStore, Exists
from tests.unit.conformance._image_root import write_root

CHROOT = shutil.which("chroot") or "/usr/sbin/chroot"
_REFS = ["registry.k8s.io/e2e-test-images/sample-apiserver:1.17.7", "registry.k8s.io/etcd:3.5.9-0"]
_ROOT = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (chroot)")


def test_the_plan_provides_both_when_this_machine_has_python_and_etcd() -> None:
    plan = plan_images(_REFS, have_agnhost=False, have_python=True, etcd_version="3.4.23")
    kinds = {p.reference: (p.recipe, p.kind) for p in plan.provided}
    assert kinds == {_REFS[0]: ("sample-apiserver-standin", "stand-in"), _REFS[1]: ("etcd", "substitute")}
    assert "3.4.23" in next(p.note for p in plan.provided if p.recipe == "etcd")
    assert plan_images(_REFS, have_agnhost=True).missing == sorted(_REFS)


@_ROOT
@pytest.mark.skipif(host_python() is None, reason="needs /usr/bin/python3")
def test_the_stand_in_runs_from_its_own_root(tmp_path: Path) -> None:
    spec = sample_apiserver_spec(_REFS[0])
    paths = {f.path for f in spec.files}
    assert "opt/sample-apiserver/wardle/server.py" in paths
    assert not any("site-packages" in p or "dist-packages" in p for p in paths)
    assert sum(len(f.data or b"") for f in spec.files) < 40 << 20  # the stdlib subset, not all of it
    write_root(spec.files, tmp_path)
    env = dict(e.split("=", 1) for e in spec.env)
    ran = subprocess.run([CHROOT, str(tmp_path), *spec.entrypoint, "--help"], capture_output=True, text=True,
                         env=env, timeout=60)
    assert ran.returncode == 0 and "--etcd-servers" in ran.stdout, ran.stderr
    # every module of the program, and a TLS round trip, with the root's files only
    check = ("import ssl, json, http.client, traceback\n"
             "import wardle.server, wardle.store, wardle.auth, wardle.api\n"
             "print(ssl.OPENSSL_VERSION.split()[0], json.dumps({'ok': 1}))\n")
    ran = subprocess.run([CHROOT, str(tmp_path), spec.entrypoint[0], "-S", "-B", "-c", check],
                         capture_output=True, text=True, env=env, timeout=60)
    assert ran.returncode == 0 and ran.stdout == 'OpenSSL {"ok": 1}\n', ran.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@_ROOT
@pytest.mark.skipif(etcd_version() is None, reason=f"needs {ETCD_BINARY} (Debian's etcd-server)")
def test_the_etcd_image_serves_the_stand_ins_store(tmp_path: Path) -> None:
    spec = etcd_spec(_REFS[1])
    write_root(spec.files, tmp_path)
    client, peer = _free_port(), _free_port()
    url = f"http://127.0.0.1:{client}"
    command = [CHROOT, str(tmp_path), *spec.entrypoint, "--data-dir", "/var/lib/etcd/default.etcd",
               "--listen-client-urls", url, "--advertise-client-urls", url,
               "--listen-peer-urls", f"http://127.0.0.1:{peer}", "--initial-advertise-peer-urls",
               f"http://127.0.0.1:{peer}", "--initial-cluster", f"default=http://127.0.0.1:{peer}"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        store = EtcdStore([url], timeout_s=2)
        deadline = time.monotonic() + 30
        while not store.healthy():
            assert time.monotonic() < deadline and proc.poll() is None, "etcd did not start"
            time.sleep(0.2)
        key = "/registry/wardle.example.com/flunders/default/a"
        made = store.create(key, {"metadata": {"name": "a"}})
        with pytest.raises(Exists):
            store.create(key, {})
        assert store.get(key) == ({"metadata": {"name": "a"}}, made)
        changed = store.update(key, {"metadata": {"name": "a"}, "spec": {"x": 1}}, made)
        with pytest.raises(Conflict):
            store.update(key, {}, made)
        store.create("/registry/wardle.example.com/flunders/other/b", {"b": 1})
        items, revision = store.list("/registry/wardle.example.com/flunders/default/")
        assert items == [({"metadata": {"name": "a"}, "spec": {"x": 1}}, changed)] and revision > changed
        gone = store.delete(key)
        assert gone is not None and gone[0]["spec"] == {"x": 1} and store.get(key) is None
        assert store.delete(key) is None
    finally:
        proc.terminate()
        proc.wait(timeout=30)
