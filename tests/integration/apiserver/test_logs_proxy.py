"""kubectl logs (and the log as websocket messages) through the API server's proxy to the
kubelet's real HTTPS server
(kprov.cluster.kubelet.server; the container lookup points at a CRI-format log file, since
no container runtime runs here)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
from aiohttp import web

from kprov.cluster.kubelet.cri.types import ContainerInfo
from kprov.cluster.kubelet.server import KubeletServer, server_ssl_context
from kprov.local.ports import free_port
from kprov.pki import issue_cert, write_pair
from tests.integration.apiserver._http import ssl_context

LOG = (
    "2026-01-01T00:00:00.000000000Z stdout F first line\n"
    "2026-01-01T00:00:01.000000000Z stderr F second line\n"
    "2026-01-01T00:00:02.000000000Z stdout F third line\n"
)


async def _kubectl(control_plane, cache: Path, *args: str, stdin: str = "") -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    proc = await asyncio.create_subprocess_exec(
        "/usr/bin/kubectl",
        "--kubeconfig",
        str(control_plane.admin_kubeconfig),
        "--cache-dir",
        str(cache),
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 60)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_kubectl_logs_reach_the_kubelet(control_plane, tmp_path: Path):
    pki = control_plane.plane.pki
    write_pair(
        tmp_path,
        "kubelet",
        issue_cert(pki.ca(), "system:node:logs-node", server=True, ip_addresses=["127.0.0.1"]),
    )
    log_file = tmp_path / "c.log"
    log_file.write_text(LOG)

    async def find(ns: str, pod: str, name: str, previous: bool) -> ContainerInfo | None:
        if (pod, name) != ("logger", "c"):
            return None
        return ContainerInfo("cid", "sid", name, 0, "CONTAINER_EXITED", 0, log_path=str(log_file))

    kubelet = KubeletServer(runtime=None, find_container=find, ctr_path="", containerd_address="")  # type: ignore[arg-type]
    runner = web.AppRunner(kubelet.app())
    await runner.setup()
    port = free_port()
    context = server_ssl_context(
        str(tmp_path / "kubelet.crt"), str(tmp_path / "kubelet.key"), str(pki.path("ca", "crt"))
    )
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=context).start()
    cache = tmp_path / "cache"
    try:
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "logs-node"},
            "status": {
                "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": port}},
            },
        }
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "logger", "namespace": "default"},
            "spec": {"nodeName": "logs-node", "containers": [{"name": "c", "image": "busybox"}]},
        }
        for obj in (node, pod):
            rc, _, err = await _kubectl(control_plane, cache, "apply", "-f", "-", stdin=json.dumps(obj))
            assert rc == 0, err
        rc, out, err = await _kubectl(control_plane, cache, "logs", "logger")
        assert rc == 0, err
        assert out == "first line\nsecond line\nthird line\n"
        rc, out, _ = await _kubectl(control_plane, cache, "logs", "logger", "--tail=1")
        assert out == "third line\n"
        context = ssl_context(control_plane.admin_kubeconfig, control_plane.ca_file)
        url = control_plane.server + "/api/v1/namespaces/default/pods/logger/log?container=c"
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(url, protocols=("binary.k8s.io",), ssl=context) as ws,
        ):
            assert ws.protocol == "binary.k8s.io"
            received = [m.data async for m in ws if m.type == aiohttp.WSMsgType.BINARY]
        assert b"".join(received) == b"first line\nsecond line\nthird line\n"
        raw = "/api/v1/namespaces/default/pods/logger/log?container=missing"
        rc, _, err = await _kubectl(control_plane, cache, "get", "--raw", raw)
        assert (
            rc == 1 and 'Error from server (NotFound): container "missing" in pod "logger" not found' in err
        )
    finally:
        await runner.cleanup()
