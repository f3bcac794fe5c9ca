"""`kprov verify --cis`: read every host's evidence in one round trip each (the engine's
parallel SSH, as `kprov exec`), the cluster's through the API as the administrator, and
evaluate the controls."""

from __future__ import annotations

import asyncio
from pathlib import Path

from kprov.cluster.client import ApiClient, KubeconfigError, load_kubeconfig
from kprov.deploy.verify.cis.cluster_evidence import read_cluster_evidence
from kprov.deploy.verify.cis.controls_cluster import CLUSTER_CONTROLS
from kprov.deploy.verify.cis.controls_hosts import HOST_CONTROLS, evidence_spec
from kprov.deploy.verify.cis.engine import CisReport, evaluate
from kprov.deploy.verify.cis.host_evidence import evidence_command, parse_evidence
from kprov.deploy.verify.cis.model import ClusterEvidence, HostEvidence
from kprov.pki.from_inventory import pki_dir_for
from kprov.provision.execute.context import RunOptions
from kprov.provision.inventory import load_inventory
from kprov.provision.pipelines import exec_command

__all__ = ["verify_cis"]


def _scopes(inventory: list[str]) -> dict[str, set[str]]:
    inv = load_inventory(*inventory)
    members = {g: set(inv.members(g)) for g in ("etcd", "control_plane", "workers")}
    scopes: dict[str, set[str]] = {}
    for host in inv.hosts:
        scope = {g for g in ("etcd", "control_plane") if host in members[g]}
        if host in members["control_plane"] | members["workers"]:
            scope.add("node")
        scopes[host] = scope
    return scopes


async def _cluster(inventory: str, node: str) -> ClusterEvidence:
    try:
        config = load_kubeconfig(pki_dir_for(inventory) / "kubeconfigs" / "admin.conf")
    except (KubeconfigError, OSError) as exc:
        return ClusterEvidence(error=f"admin kubeconfig: {exc}")
    async with ApiClient(config, timeout=10.0) as client:
        return await read_cluster_evidence(client, node)


def verify_cis(inventory: list[str] | str | Path) -> CisReport:
    sources = [str(inventory)] if isinstance(inventory, (str, Path)) else [str(i) for i in inventory]
    scopes = _scopes(sources)
    outcome = exec_command(sources, evidence_command(evidence_spec()), RunOptions(), become=True)
    hosts: dict[str, HostEvidence] = {}
    for host in scopes:
        result = outcome.outputs.get(host)
        hosts[host] = (
            parse_evidence(host, result.rc, result.stdout, result.stderr)
            if result is not None
            else HostEvidence(host, error="unreachable: no evidence read")
        )
    nodes = sorted(h for h, s in scopes.items() if "node" in s)
    cluster = asyncio.run(_cluster(sources[0], nodes[0] if nodes else ""))
    return evaluate(HOST_CONTROLS, CLUSTER_CONTROLS, hosts, scopes, cluster)
