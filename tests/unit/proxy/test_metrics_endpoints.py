"""kprov-proxy's metrics port answers what kube-proxy's does besides /metrics."""

from __future__ import annotations

import aiohttp

from kprov.cluster.proxy.metrics import ProxyMetrics, start_metrics
from kprov.local.ports import free_port


async def test_proxy_mode_healthz_and_livez_on_the_metrics_port() -> None:
    port = free_port()
    runner = await start_metrics(ProxyMetrics(), f"127.0.0.1:{port}")
    assert runner is not None
    try:
        async with aiohttp.ClientSession() as session:
            answers = {}
            for path in ("/proxyMode", "/healthz", "/livez"):
                async with session.get(f"http://127.0.0.1:{port}{path}") as reply:
                    answers[path] = (reply.status, await reply.text())
            async with session.get(f"http://127.0.0.1:{port}/metrics") as reply:
                assert "kubeproxy_sync_proxy_rules_duration_seconds" in await reply.text()
    finally:
        await runner.cleanup()
    assert answers == {"/proxyMode": (200, "nftables"), "/healthz": (200, "ok"), "/livez": (200, "ok")}
