"""Asking the kubelets for their /stats/summary, all at once, on request.

Design: one GET per node (its InternalIP and daemonEndpoints port), concurrently, ``timeout_s``
each, with a client certificate the kubelets accept; a node that does not answer is left out,
as metrics-server leaves out a node it could not scrape. Nothing is kept between requests.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterable, Mapping
from typing import Any

import aiohttp

__all__ = ["kubelet_client_ssl", "kubelet_summary_url", "summaries"]


def kubelet_client_ssl(cert_file: str, key_file: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # kubelet serving certificates name their host only
    if cert_file:
        context.load_cert_chain(cert_file, key_file or None)
    return context


def kubelet_summary_url(node: Mapping[str, Any]) -> str | None:
    status = node.get("status") or {}
    addresses = status.get("addresses") or []
    address = next((a["address"] for a in addresses if a.get("type") == "InternalIP"), None)
    if address is None:
        return None
    port = (((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")) or 10250
    host = f"[{address}]" if ":" in address else address
    return f"https://{host}:{port}/stats/summary"


async def summaries(
    session: aiohttp.ClientSession, nodes: Iterable[Mapping[str, Any]], context: ssl.SSLContext,
    timeout_s: float = 2.0,
) -> dict[str, dict[str, Any]]:
    timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def one(node: Mapping[str, Any]) -> tuple[str, dict[str, Any] | None]:
        name = str((node.get("metadata") or {}).get("name", ""))
        url = kubelet_summary_url(node)
        if url is None:
            return name, None
        try:
            async with session.get(url, ssl=context, timeout=timeout) as reply:
                if reply.status != 200:
                    return name, None
                return name, await reply.json()
        except (aiohttp.ClientError, TimeoutError, ValueError, OSError):
            return name, None

    found = await asyncio.gather(*(one(n) for n in nodes))
    return {name: doc for name, doc in found if doc is not None}
