"""The API server and etcd members coming and going: it moves on from a member that is
down to the next one listed, and outlives an etcd restart (not ready while etcd is away,
ready again with its watch cache reloaded once it is back, as in a rolling restart)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from kprov.cluster.storage import EtcdConfig, EtcdKV
from kprov.local.certs import write_identity_kubeconfig
from kprov.local.control_plane import apiserver_argv
from kprov.local.ports import free_port, wait_for_port
from kprov.pki import ADMIN_CN, MASTERS_GROUP


def _etcd(data: Path, client: int, peer: int) -> subprocess.Popen[bytes]:
    argv = [
        "etcd", "--name", "restart", "--data-dir", str(data),
        "--listen-client-urls", f"http://127.0.0.1:{client}",
        "--advertise-client-urls", f"http://127.0.0.1:{client}",
        "--listen-peer-urls", f"http://127.0.0.1:{peer}",
        "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
        "--initial-cluster", f"restart=http://127.0.0.1:{peer}",
        "--listen-metrics-urls", "", "--log-level", "warn", "--logger", "zap",
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert wait_for_port("127.0.0.1", client, 30)
    return proc


def _readyz(kubeconfig: Path) -> str:
    proc = subprocess.run(
        ["kubectl", "--kubeconfig", str(kubeconfig), "--request-timeout=3s", "get", "--raw", "/readyz"],
        capture_output=True, text=True, timeout=20,
    )
    return proc.stdout.strip() if proc.returncode == 0 else f"error: {proc.stderr.strip()[-200:]}"


def _wait(kubeconfig: Path, want_ok: bool, seconds: float) -> str:
    deadline = time.monotonic() + seconds
    state = _readyz(kubeconfig)
    while (state == "ok") != want_ok and time.monotonic() < deadline:
        time.sleep(0.3)
        state = _readyz(kubeconfig)
    return state


def _stop(server: subprocess.Popen[bytes], log: Path) -> None:
    """SIGTERM and wait for the exit; the server's log in the failure if it does not come."""
    server.terminate()
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        server.kill()
        tail = log.read_text()[-3000:]
        raise AssertionError(f"no exit 30 s after SIGTERM; its log ends:\n{tail}") from None


def test_ready_again_after_etcd_comes_back(control_plane, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    client, peer, port = free_port(), free_port(), free_port()
    etcd = _etcd(tmp_path / "etcd", client, peer)
    pki = control_plane.plane.pki
    log = tmp_path / "apiserver.log"
    with log.open("wb") as out:
        argv = apiserver_argv(pki, f"http://127.0.0.1:{client}", port)
        server = subprocess.Popen(argv, stdout=out, stderr=out)
    kubeconfig = write_identity_kubeconfig(
        pki, f"https://127.0.0.1:{port}", ADMIN_CN, [MASTERS_GROUP], file_name="etcd-restart-admin"
    )
    try:
        assert wait_for_port("127.0.0.1", port, 30)
        assert _wait(kubeconfig, True, 20) == "ok"
        etcd.terminate()
        etcd.wait(10)
        assert _wait(kubeconfig, False, 20) != "ok"  # away long enough for reloads to fail
        time.sleep(3)
        etcd = _etcd(tmp_path / "etcd", client, peer)
        assert _wait(kubeconfig, True, 30) == "ok"
        create = subprocess.run(
            ["kubectl", "--kubeconfig", str(kubeconfig), "create", "configmap", "after-restart"],
            capture_output=True, text=True, timeout=20,
        )
        assert create.returncode == 0, create.stderr
    finally:
        _stop(server, log)
        etcd.terminate()
        etcd.wait(10)


async def test_storage_moves_on_from_a_member_that_is_down(control_plane) -> None:  # type: ignore[no-untyped-def]
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    kv = EtcdKV(EtcdConfig([dead, control_plane.etcd_url], timeout_s=5.0))
    await kv.connect()
    try:
        assert kv.server == dead
        revision = await kv.put(b"/kprov-test/failover", b"1")  # never reached the dead one: retried
        assert kv.server == control_plane.etcd_url
        assert (await kv.range(b"/kprov-test/failover")).kvs[0].mod_revision == revision
    finally:
        await kv.client.delete(b"/kprov-test/failover")
        await kv.close()


def test_api_server_serves_with_the_first_listed_member_down(control_plane, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    pki = control_plane.plane.pki
    servers = f"http://127.0.0.1:{free_port()},{control_plane.etcd_url}"
    log = tmp_path / "apiserver.log"
    with log.open("wb") as out:
        server = subprocess.Popen(apiserver_argv(pki, servers, port), stdout=out, stderr=out)
    kubeconfig = write_identity_kubeconfig(
        pki, f"https://127.0.0.1:{port}", ADMIN_CN, [MASTERS_GROUP], file_name="first-member-down-admin"
    )
    try:
        assert wait_for_port("127.0.0.1", port, 30)
        assert _wait(kubeconfig, True, 20) == "ok"
    finally:
        _stop(server, log)
