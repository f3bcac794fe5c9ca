"""Metrics checks: each API server's /metrics (asked on its own) and each node's kubelet
/metrics (through the API server's node proxy) are scraped once and must parse as
Prometheus text with the component's upstream names; the API server rows report its error
rate (5xx answers / all answers in ``apiserver_request_total`` since it started)."""

from __future__ import annotations

import asyncio
import dataclasses

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from kprov.cluster.client import ApiClient, ApiError, ClientConfig
from kprov.deploy.verify.report import Check

__all__ = ["check_metrics", "error_rate"]

_API_NAMES = {"apiserver_request", "apiserver_request_duration_seconds", "etcd_request_duration_seconds"}
_KUBELET_NAMES = {"kubelet_running_pods", "kubelet_pod_start_duration_seconds"}


def error_rate(text: str) -> tuple[set[str], float, int]:
    """(family names, share of 5xx answers, answers) of one API server's /metrics text."""
    names, total, errors = set(), 0.0, 0.0
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        if family.name == "apiserver_request":
            for sample in family.samples:
                if sample.name == "apiserver_request_total":
                    total += sample.value
                    if sample.labels.get("code", "").startswith("5"):
                        errors += sample.value
    return names, (errors / total if total else 0.0), int(total)


async def _raw(client: ApiClient, path: str) -> str:
    body = await client.request("GET", path)
    return body if isinstance(body, str) else str(body)


async def _api_server(config: ClientConfig, server: str) -> Check:
    name = f"API server {server} /metrics"
    try:
        async with ApiClient(dataclasses.replace(config, servers=(server,)), timeout=10.0) as client:
            names, rate, answers = error_rate(await _raw(client, "/metrics"))
    except (TimeoutError, ApiError, aiohttp.ClientError, OSError, ValueError) as exc:
        return Check("cluster", name, False, str(exc)[:200])
    missing = _API_NAMES - names
    detail = f"missing {sorted(missing)}" if missing else f"error rate {rate:.2%} of {answers} requests"
    return Check("cluster", name, not missing, detail)


async def _kubelet(client: ApiClient, node: str) -> Check:
    name = f"kubelet {node} /metrics"
    try:
        names = {f.name for f in text_string_to_metric_families(
            await _raw(client, f"/api/v1/nodes/{node}/proxy/metrics"))}
    except (TimeoutError, ApiError, aiohttp.ClientError, OSError, ValueError) as exc:
        return Check("cluster", name, False, str(exc)[:200])
    missing = _KUBELET_NAMES - names
    return Check("cluster", name, not missing, f"missing {sorted(missing)}" if missing else "parsed")


async def check_metrics(config: ClientConfig, client: ApiClient, nodes: list[str]) -> list[Check]:
    rows = [_api_server(config, s) for s in config.servers] + [_kubelet(client, n) for n in nodes]
    return list(await asyncio.gather(*rows))
