"""--kubelet-certificate-authority: the API server's TLS to a kubelet accepts only a serving
certificate from that CA naming the address it dialled; without the flag, any (upstream's
behaviour). Real handshakes against a local TLS listener."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from kprov.cluster.apiserver.handlers.kubelet_proxy import kubelet_ssl
from kprov.pki import KeyPair, issue_cert, new_ca, write_pair


def _ctx(authority: str) -> Any:
    return SimpleNamespace(config=SimpleNamespace(
        kubelet_certificate_authority=authority, kubelet_client_cert="", kubelet_client_key=""))


async def _handshake(tmp_path: Path, serving: KeyPair, client: ssl.SSLContext) -> None:
    write_pair(tmp_path, "serving", serving)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(tmp_path / "serving.crt", tmp_path / "serving.key")

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # the client hangs up first: a server closing at once can race the client's handshake
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await reader.read()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=server_ctx)
    port = server.sockets[0].getsockname()[1]
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client, server_hostname="127.0.0.1")
        writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await writer.wait_closed()
    finally:
        server.close()
        await server.wait_closed()


async def test_only_the_cluster_ca_and_the_dialled_address_pass(tmp_path: Path) -> None:
    ca, other = new_ca("cluster"), new_ca("elsewhere")
    write_pair(tmp_path, "ca", ca)
    verified = kubelet_ssl(_ctx(str(tmp_path / "ca.crt")))

    def serving(issuer: KeyPair, ip: str) -> KeyPair:
        return issue_cert(issuer, "system:node:h1", ip_addresses=[ip], server=True)

    await _handshake(tmp_path, serving(ca, "127.0.0.1"), verified)
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        await _handshake(tmp_path, serving(other, "127.0.0.1"), verified)
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
        await _handshake(tmp_path, serving(ca, "10.0.0.9"), verified)
    # without the flag nothing is verified
    await _handshake(tmp_path, serving(other, "10.0.0.9"), kubelet_ssl(_ctx("")))
