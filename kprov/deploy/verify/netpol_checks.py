"""NetworkPolicy agent checks: on every node, kprov-proxy's agent has synced.

Each node's kprov-proxy serves /metrics on loopback only (127.0.0.1:10249, as kube-proxy),
so the check runs one command per node over SSH that fetches it with the host's python3 and
prints it; :func:`parse_netpol_metrics` (pure) turns the text into the row. A node passes
when ``kprov_netpol_synced`` is 1: the agent listed policies, pods and namespaces and put
the resulting rules in force at least once since it started. Nodes whose inventory turns
the agent off (``kube_proxy_network_policy: false``) are left out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from kprov.deploy.verify.report import Check

__all__ = ["METRICS_SCRIPT", "check_netpol_agents", "parse_netpol_metrics"]

METRICS_SCRIPT = (
    "python3 -c \"import urllib.request as u; "
    "print(u.urlopen('http://127.0.0.1:10249/metrics', timeout=5).read().decode())\""
)
RemoteRun = Callable[[str, str], tuple[int, str]]


def parse_netpol_metrics(node: str, rc: int, text: str) -> Check:
    name = f"NetworkPolicy agent on {node} synced"
    if rc != 0:
        return Check("cluster", name, False, f"kprov-proxy /metrics not readable (rc={rc})")
    values: dict[str, float] = {}
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                values[sample.name] = sample.value
    except ValueError as exc:
        return Check("cluster", name, False, f"unparsable /metrics: {exc}"[:200])
    if "kprov_netpol_synced" not in values:
        return Check("cluster", name, False, "kprov-proxy runs without --network-policy")
    if values["kprov_netpol_synced"] != 1:
        return Check("cluster", name, False, "not synced yet")
    rules = int(values.get("kprov_netpol_rules", 0))
    return Check("cluster", name, True, f"{rules} rules")


def _enabled(host_vars: Mapping[str, Any]) -> bool:
    return str(host_vars.get("kube_proxy_network_policy", True)).lower() not in ("false", "no", "0")


def check_netpol_agents(
    nodes: list[str], host_vars: Mapping[str, Mapping[str, Any]], remote_run: RemoteRun
) -> list[Check]:
    """One row per node with the agent on, read in parallel."""
    chosen = [n for n in nodes if _enabled(host_vars.get(n, {}))]

    def one(node: str) -> Check:
        try:
            rc, out = remote_run(node, METRICS_SCRIPT)
        except Exception as exc:  # noqa: BLE001 - an unreachable node is one failed row
            return Check("cluster", f"NetworkPolicy agent on {node} synced", False, str(exc)[:200])
        return parse_netpol_metrics(node, rc, out)

    if not chosen:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(chosen))) as pool:
        return list(pool.map(one, chosen))
