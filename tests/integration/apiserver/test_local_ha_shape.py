"""A local control plane in the HA shape the density bench uses: 3 etcd members and 2 API
servers on loopback. A write through one API server is read through the other, the data
is on every member, and ``down`` stops all five processes."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import pytest

from kprov.cluster.client import ApiClient, resources
from kprov.local import LocalControlPlane
from kprov.local.processes import is_running
from kprov.pki import ADMIN_CN, MASTERS_GROUP


@pytest.mark.skipif(not os.path.exists("/usr/bin/etcd"), reason="etcd is not installed")
def test_three_members_and_two_api_servers(tmp_path: Path) -> None:
    plane = LocalControlPlane(tmp_path, start_components=False, etcd_members=3, apiservers=2)
    try:
        info = plane.up()
        assert len(info.all_servers) == 2 and len(set(info.all_servers)) == 2
        assert len(info.etcd_url.split(",")) == 3
        etcds, servers = plane.core_names()
        assert etcds == ["etcd", "etcd-1", "etcd-2"] and servers == ["apiserver", "apiserver-1"]
        assert all(plane.status()[n] for n in [*etcds, *servers])

        async def write_then_read() -> dict:
            one = plane.kubeconfig_for(ADMIN_CN, [MASTERS_GROUP], server_index=1)
            async with ApiClient.from_kubeconfig(one) as b:
                assert b.server == info.all_servers[1]
                await b.create(resources.CONFIGMAPS, {"metadata": {"name": "ha", "namespace": "default"},
                                                      "data": {"k": "v"}})
            async with ApiClient.from_kubeconfig(info.admin_kubeconfig) as a:
                assert a.server == info.all_servers[0]
                return await a.get(resources.CONFIGMAPS, "ha", "default")

        assert asyncio.run(write_then_read())["data"] == {"k": "v"}
        for url in info.etcd_url.split(","):  # every member answers with the same cluster
            members = subprocess.run(["etcdctl", "--endpoints", url, "member", "list"], capture_output=True,
                                     text=True, timeout=20, env={**os.environ, "ETCDCTL_API": "3"})
            assert members.returncode == 0, members.stderr
            assert len(members.stdout.strip().splitlines()) == 3
    finally:
        stopped = plane.down()
    assert sorted(stopped) == ["apiserver", "apiserver-1", "etcd", "etcd-1", "etcd-2"]
    assert not any(is_running(tmp_path, n) for n in ["etcd", "etcd-1", "etcd-2", "apiserver", "apiserver-1"])
