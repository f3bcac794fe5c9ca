"""Port-forward for clients other than kubectl: the official Python client's
``kubernetes.stream.portforward`` and raw WebSocket clients, through the API server's proxy to
the kubelet's real HTTPS server, whose "pod" is a local HTTP server (pod IP 127.0.0.1; no
container runtime runs here)."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.stream import portforward

from kprov.cluster.kubelet.server import KubeletServer, server_ssl_context
from kprov.local.ports import free_port
from kprov.pki import issue_cert, write_pair
from tests.integration.apiserver._http import ssl_context
from tests.integration.apiserver.test_logs_proxy import _kubectl

PAGE = b"served by the pod\n"
NODE = "pf-node"


@pytest.fixture
async def pod_server() -> AsyncIterator[int]:
    """The pod's HTTP server: answers one request per connection, then closes it."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(PAGE), PAGE))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()


@pytest.fixture
async def forwarding_pod(control_plane: Any, tmp_path: Path) -> AsyncIterator[None]:
    """A node whose kubelet serves on loopback, and a pod ``web`` on it with IP 127.0.0.1
    (both deleted afterwards: each test has its own kubelet)."""
    pki = control_plane.plane.pki
    write_pair(tmp_path, "kubelet", issue_cert(pki.ca(), f"system:node:{NODE}", server=True,
                                               ip_addresses=["127.0.0.1"]))
    pod = {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default", "uid": "u-1"},
        "spec": {"nodeName": NODE, "containers": [{"name": "c", "image": "busybox"}]},
        "status": {"podIP": "127.0.0.1"},
    }
    kubelet = KubeletServer(runtime=None, find_container=None, ctr_path="", containerd_address="",  # type: ignore[arg-type]
                            find_pod=lambda ns, name: pod if (ns, name) == ("default", "web") else None)
    runner = web.AppRunner(kubelet.app())
    await runner.setup()
    port = free_port()
    context = server_ssl_context(str(tmp_path / "kubelet.crt"), str(tmp_path / "kubelet.key"),
                                 str(pki.path("ca", "crt")))
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=context).start()
    cache = tmp_path / "cache"
    node = {
        "apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE},
        "status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                   "daemonEndpoints": {"kubeletEndpoint": {"Port": port}}},
    }
    try:
        for obj in (node, {**pod, "status": {}}):
            rc, _, err = await _kubectl(control_plane, cache, "apply", "-f", "-", stdin=json.dumps(obj))
            assert rc == 0, err
        rc, _, err = await _kubectl(control_plane, cache, "patch", "pod", "web", "--subresource=status",
                                    "--type=merge", "-p", json.dumps({"status": {"podIP": "127.0.0.1"}}))
        assert rc == 0, err
        yield
    finally:
        await _kubectl(control_plane, cache, "delete", "pod", "web", "--grace-period=0", "--force")
        await _kubectl(control_plane, cache, "delete", "node", NODE)
        await runner.cleanup()


def _python_client_get(kubeconfig: Path, port: int) -> bytes:
    """What the official Python client's port-forward carries back for one HTTP request."""
    api = k8s_client.CoreV1Api(k8s_config.new_client_from_config(config_file=str(kubeconfig)))
    forward = portforward(api.connect_get_namespaced_pod_portforward, "web", "default", ports=str(port))
    sock = forward.socket(port)
    sock.settimeout(20)
    sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
    reply = b""
    while chunk := sock.recv(65536):
        reply += chunk
    sock.close()
    assert forward.error(port) is None
    forward.close()
    return reply


async def test_the_python_clients_port_forward_carries_an_http_request(
    control_plane: Any, forwarding_pod: None, pod_server: int
) -> None:
    reply = await asyncio.to_thread(_python_client_get, control_plane.admin_kubeconfig, pod_server)
    assert reply.startswith(b"HTTP/1.0 200 OK") and reply.endswith(PAGE)


async def _frames(ws: aiohttp.ClientWebSocketResponse, until: int) -> list[Any]:
    frames = []
    async for message in ws:
        if message.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT):
            frames.append(message.data)
            if len(frames) >= until:
                break
    return frames


async def test_base64_channels_and_a_refused_port_in_the_kubelets_words(
    control_plane: Any, forwarding_pod: None, pod_server: int
) -> None:
    closed = free_port()
    context = ssl_context(control_plane.admin_kubeconfig, control_plane.ca_file)
    url = f"{control_plane.server}/api/v1/namespaces/default/pods/web/portforward?ports={pod_server},{closed}"
    async with aiohttp.ClientSession() as session, session.ws_connect(
        url, protocols=("v4.base64.channel.k8s.io",), ssl=context
    ) as ws:
        assert ws.protocol == "v4.base64.channel.k8s.io"
        head = await _frames(ws, 4)  # each channel opens with its port, 2 bytes little-endian
        assert head == [
            "0" + base64.b64encode(pod_server.to_bytes(2, "little")).decode(),
            "1" + base64.b64encode(pod_server.to_bytes(2, "little")).decode(),
            "2" + base64.b64encode(closed.to_bytes(2, "little")).decode(),
            "3" + base64.b64encode(closed.to_bytes(2, "little")).decode(),
        ]
        await ws.send_str("0" + base64.b64encode(b"GET / HTTP/1.0\r\n\r\n").decode())
        rest = await _frames(ws, 100)
    by_channel: dict[str, bytes] = {}
    for frame in rest:
        by_channel[frame[0]] = by_channel.get(frame[0], b"") + base64.b64decode(frame[1:])
    assert by_channel["0"].endswith(PAGE)
    assert by_channel["3"].decode().startswith(f"error forwarding port {closed} to pod web, uid u-1: ")


async def test_an_offer_of_no_served_protocol_is_refused_with_a_reason(
    control_plane: Any, forwarding_pod: None, pod_server: int
) -> None:
    context = ssl_context(control_plane.admin_kubeconfig, control_plane.ca_file)
    url = f"{control_plane.server}/api/v1/namespaces/default/pods/web/portforward?ports={pod_server}"
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
            await session.ws_connect(url, protocols=("channel.k8s.io",), ssl=context)
    assert caught.value.status == 403


async def test_kr8s_port_forward_offering_no_subprotocol_carries_an_http_request(
    control_plane: Any, forwarding_pod: None, pod_server: int
) -> None:
    """kr8s offers no subprotocol at all: binary v4 channels, as upstream's kubelet serves it."""
    kr8s = pytest.importorskip("kr8s.asyncio")
    api = await kr8s.api(kubeconfig=str(control_plane.admin_kubeconfig))
    pod = await kr8s.objects.Pod.get("web", namespace="default", api=api)
    async with pod.portforward(remote_port=pod_server, local_port=None) as local_port:
        reader, writer = await asyncio.open_connection("127.0.0.1", local_port)
        writer.write(b"GET / HTTP/1.0\r\n\r\n")
        reply = await asyncio.wait_for(reader.read(), 20)
        writer.close()
    assert reply.startswith(b"HTTP/1.0 200 OK") and reply.endswith(PAGE)


async def test_kubectl_over_plain_spdy_carries_an_http_request(
    control_plane: Any, forwarding_pod: None, pod_server: int, tmp_path: Path
) -> None:
    """client-go before 1.30 (the 1.28 e2e framework, older tools) upgrades to SPDY/3.1 itself;
    kubectl does so too with its WebSocket port-forward switched off."""
    import os
    import subprocess

    running = json.dumps({"status": {"phase": "Running"}})
    rc, _, err = await _kubectl(control_plane, tmp_path / "cache", "patch", "pod", "web",
                                "--subresource=status", "--type=merge", "-p", running)
    assert rc == 0, err  # kubectl forwards only to a running pod
    local = free_port()
    env = {**os.environ, "KUBECTL_PORT_FORWARD_WEBSOCKETS": "false"}
    proc = subprocess.Popen(
        ["/usr/bin/kubectl", "--kubeconfig", str(control_plane.admin_kubeconfig), "--cache-dir",
         str(tmp_path / "cache"), "port-forward", "pod/web", f"{local}:{pod_server}", "-v=6"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )
    try:
        for _ in range(100):
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", local)
                break
            except OSError:
                await asyncio.sleep(0.1)
        else:
            proc.terminate()
            raise AssertionError(f"kubectl never listened: {proc.communicate(timeout=10)[1][-3000:]!r}")
        writer.write(b"GET / HTTP/1.0\r\n\r\n")
        await writer.drain()
        reply = await asyncio.wait_for(reader.read(), 20)
        writer.close()
        assert reply.startswith(b"HTTP/1.0 200 OK") and reply.endswith(PAGE), reply
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
