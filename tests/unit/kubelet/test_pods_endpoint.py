"""The kubelet's GET /pods on a real TLS server: a v1 PodList of the node's pods for the API
server's kubelet client and system:masters, 403 for anyone else (as the other paths)."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
from pathlib import Path
from typing import Any, cast

from aiohttp import web

from kprov.cluster.kubelet.context import Runtime
from kprov.cluster.kubelet.server import KubeletServer, pod_list, server_ssl_context
from kprov.pki.keypair import KeyPair, issue_cert, new_ca


def _pod(ns: str, name: str) -> dict[str, Any]:
    meta = {"namespace": ns, "name": name, "uid": f"u-{name}"}
    return {"kind": "Pod", "apiVersion": "v1", "metadata": meta,
            "spec": {"nodeName": "h4"}, "status": {"phase": "Running"}}


def test_pod_list_is_a_v1_podlist_sorted_without_item_type_meta() -> None:
    body = pod_list([_pod("web", "b"), _pod("kube-system", "kprov-ingress-h4"), _pod("web", "a")])
    assert {k: body[k] for k in ("kind", "apiVersion", "metadata")} == {"kind": "PodList", "apiVersion": "v1",
                                                                        "metadata": {}}
    assert [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in body["items"]] == [
        ("kube-system", "kprov-ingress-h4"), ("web", "a"), ("web", "b")]
    assert all("kind" not in p and "apiVersion" not in p for p in body["items"])
    assert body["items"][1]["status"] == {"phase": "Running"}
    assert pod_list([])["items"] == []


def _write(tmp: Path, name: str, pair: KeyPair) -> tuple[str, str]:
    cert, key = tmp / f"{name}.crt", tmp / f"{name}.key"
    cert.write_bytes(pair.cert_pem)
    key.write_bytes(pair.key_pem)
    return str(cert), str(key)


def _ask(port: int, ca: str, client: tuple[str, str] | None) -> tuple[int, Any]:
    ctx = ssl.create_default_context(cafile=ca)
    if client:
        ctx.load_cert_chain(*client)
    with socket.create_connection(("127.0.0.1", port)) as raw, \
            ctx.wrap_socket(raw, server_hostname="h4") as tls:
        # a query as long as `kubectl exec` of a 20,000 character command makes (aiohttp's default: 8 KiB)
        tls.sendall(b"GET /pods?" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: h4\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def test_pods_served_only_to_the_api_servers_kubelet_client_and_masters(tmp_path: Path) -> None:
    ca = new_ca("kubernetes")
    ca_file = _write(tmp_path, "ca", ca)[0]
    serving = _write(tmp_path, "serving", issue_cert(ca, "h4", dns_names=["h4"], server=True))
    identities = {
        "apiserver": issue_cert(ca, "kube-apiserver-kubelet-client", ["kubeadm:cluster-admins"], client=True),
        "admin": issue_cert(ca, "kubernetes-admin", ["system:masters"], client=True),
        "node": issue_cert(ca, "system:node:h5", ["system:nodes"], client=True),
    }
    clients = {name: _write(tmp_path, name, pair) for name, pair in identities.items()}
    pods = [_pod("web", "a"), _pod("kube-system", "kprov-ingress-h4")]
    server = KubeletServer(cast(Runtime, None), lambda *_: asyncio.sleep(0, None), "", "",
                           list_pods=lambda: pods)

    async def main() -> dict[str, tuple[int, Any]]:
        runner = server.runner()
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ssl_context(*serving, ca_file))
        await site.start()
        port = runner.addresses[0][1]
        try:
            answers = {name: await asyncio.to_thread(_ask, port, ca_file, c) for name, c in clients.items()}
            answers["anonymous"] = await asyncio.to_thread(_ask, port, ca_file, None)
            return answers
        finally:
            await runner.cleanup()

    answers = asyncio.run(main())
    for name in ("apiserver", "admin"):
        code, body = answers[name]
        assert code == 200 and body["kind"] == "PodList", body
        assert [p["metadata"]["name"] for p in body["items"]] == ["kprov-ingress-h4", "a"]
    for name in ("node", "anonymous"):
        code, body = answers[name]
        assert (code, body["kind"], body["reason"]) == (403, "Status", "Forbidden"), body
