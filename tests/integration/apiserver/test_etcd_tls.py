"""The store talks to a TLS-only etcd with a client certificate (how clusters run etcd)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from kprov.cluster.storage import Codec, EtcdConfig, EtcdKV, StorageUnavailableError, Store
from kprov.local.ports import free_port, wait_for_port
from kprov.pki import issue_cert, new_ca, write_pair


@pytest.fixture
def tls_etcd(tmp_path: Path):  # type: ignore[no-untyped-def]
    if not os.path.exists("/usr/bin/etcd"):
        pytest.skip("etcd is not installed")
    ca = new_ca("etcd-ca")
    write_pair(tmp_path, "ca", ca)
    write_pair(
        tmp_path, "server", issue_cert(ca, "etcd", server=True, client=True, ip_addresses=["127.0.0.1"])
    )
    write_pair(tmp_path, "client", issue_cert(ca, "kube-apiserver-etcd-client", client=True))
    port, peer = free_port(), free_port()
    argv = [
        "/usr/bin/etcd",
        "--name",
        "t",
        "--data-dir",
        str(tmp_path / "data"),
        "--listen-client-urls",
        f"https://127.0.0.1:{port}",
        "--advertise-client-urls",
        f"https://127.0.0.1:{port}",
        "--listen-peer-urls",
        f"http://127.0.0.1:{peer}",
        "--initial-advertise-peer-urls",
        f"http://127.0.0.1:{peer}",
        "--initial-cluster",
        f"t=http://127.0.0.1:{peer}",
        "--cert-file",
        str(tmp_path / "server.crt"),
        "--key-file",
        str(tmp_path / "server.key"),
        "--trusted-ca-file",
        str(tmp_path / "ca.crt"),
        "--client-cert-auth",
        "--log-level",
        "error",
    ]
    with subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as proc:
        try:
            assert wait_for_port("127.0.0.1", port, 30)
            yield EtcdConfig(
                [f"https://127.0.0.1:{port}"],
                cafile=str(tmp_path / "ca.crt"),
                certfile=str(tmp_path / "client.crt"),
                keyfile=str(tmp_path / "client.key"),
            )
        finally:
            proc.terminate()
            proc.wait(10)


async def test_store_over_mutual_tls(tls_etcd):
    kv = EtcdKV(tls_etcd)
    await kv.connect()
    try:
        store = Store(kv, Codec())
        made = await store.create("/registry/configmaps/default/tls", {"metadata": {"name": "tls"}})
        got = await store.get("/registry/configmaps/default/tls")
        assert got is not None and got.revision == made.revision
    finally:
        await kv.close()


async def test_no_client_certificate_is_refused(tls_etcd):
    kv = EtcdKV(EtcdConfig(tls_etcd.servers, cafile=tls_etcd.cafile, timeout_s=3))
    await kv.connect()
    try:
        with pytest.raises(StorageUnavailableError):
            await Store(kv, Codec()).get("/registry/x")
    finally:
        await kv.close()
