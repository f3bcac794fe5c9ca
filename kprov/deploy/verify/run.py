"""Run every verify check for an inventory and collect one report.

Rows in order: host checks (parallel, SSH), etcd (quorum, leader, each member's quorum read
time), the API VIP (one holder that can serve it), API servers, nodes,
metrics, every node's NetworkPolicy agent synced, every worker's Ingress and every Gateway of
kprov's class answering from outside, the smoke workload, and config drift (a
check-mode run of the cluster playbook must report nothing to change, i.e. every file is as
rendered). The host and etcd checks run in a thread
while the API checks run (they share nothing), and the smoke workload is deployed while the
nodes are being checked (its pods need the time to start anyway): the same checks, overlapped.

The checks that reach hosts through the API side wait until every host's own SSH connect has
ended (:mod:`reach_checks`; all at once, bounded by the connect timeout); a host that did not
answer is its one failed row and every other check leaves it out (no wait for its node, no
smoke pod, Ingress or NetworkPolicy agent on it, no check-mode run on it), so a powered-off
host costs one connect timeout, not one per check. The VIP's state is read by each
control-plane host's own checks on their SSH connection and judged once all are in.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from kprov.cluster.client import ApiClient, KubeconfigError, load_kubeconfig
from kprov.deploy.prepare import SITE_PLAYBOOK, prepare_cluster
from kprov.deploy.verify.cluster_checks import check_api_servers, check_nodes, smoke_test
from kprov.deploy.verify.diagnose import aguard, describe_error, guard, quiet_library_logs
from kprov.deploy.verify.dual_stack_checks import check_dual_stack
from kprov.deploy.verify.etcd_checks import etcd_checks
from kprov.deploy.verify.expectations import NODE_LB_PORT, VIP_PORT, VipPorts, expectations_for
from kprov.deploy.verify.gateway_checks import check_gateways
from kprov.deploy.verify.host_checks import HostOutcome, check_hosts, testinfra_host
from kprov.deploy.verify.ingress_checks import check_ingress
from kprov.deploy.verify.metrics_checks import check_metrics
from kprov.deploy.verify.netpol_checks import check_netpol_agents
from kprov.deploy.verify.reach_checks import Reachability
from kprov.deploy.verify.report import Check, VerifyReport
from kprov.deploy.verify.vip_checks import vip_rows
from kprov.pki.from_inventory import InventorySources, pki_dir_for
from kprov.provision.connect.reach import rendered_host_vars
from kprov.provision.inventory import load_inventory
from kprov.provision.pipelines import run_playbook

__all__ = ["admin_kubeconfig_path", "verify_cluster"]


def admin_kubeconfig_path(inventory: InventorySources) -> Path:
    return pki_dir_for(inventory) / "kubeconfigs" / "admin.conf"


def _remote_runner(host_vars: Mapping[str, Mapping[str, Any]]) -> Any:
    def run(host: str, command: str) -> tuple[int, str]:
        with tempfile.TemporaryDirectory(prefix="kprov-verify-") as tmp:
            result = testinfra_host(host, host_vars[host], Path(tmp)).run(command)
            return result.rc, result.stdout
    return run


async def _api_checks(inventory: str | Path, nodes: list[str], workers: list[str],
                      host_vars: Mapping[str, Mapping[str, Any]], smoke: bool,
                      unreachable: Future[dict[str, str]]) -> list[Check]:
    try:
        config = load_kubeconfig(admin_kubeconfig_path(inventory))
    except (KubeconfigError, OSError) as exc:
        return [Check("cluster", "admin kubeconfig", False, str(exc))]
    checks = await aguard("cluster", "API servers ready", check_api_servers(config))
    if not any(c.ok for c in checks):  # nothing below could get an answer: one row, not one per check
        return checks + [Check("cluster", "checks through the API", False,
                               "skipped: no API server is ready (see the rows above)")]
    down = await asyncio.wrap_future(unreachable)  # hosts that did not answer: their rows say so
    answering = [n for n in nodes if n not in down]
    all_nodes, nodes, workers = nodes, answering, [w for w in workers if w not in down]
    async with ApiClient(config, timeout=10.0) as client:
        ips = {w: str(host_vars[w].get("ansible_host", w)) for w in workers}
        domain = str(next(iter(host_vars.values()), {}).get("kprov_cluster_domain", "cluster.local"))
        smoking = asyncio.create_task(aguard("cluster", "smoke deployment", smoke_test(
            client, workers, ips, _remote_runner(host_vars), domain=domain))) if smoke else None
        checks += await aguard("cluster", "list nodes", check_nodes(client, all_nodes, unreachable=down))
        checks += await aguard("cluster", "metrics API", check_metrics(config, client, nodes))
        checks += await aguard("cluster", "NetworkPolicy agents", asyncio.to_thread(
            check_netpol_agents, nodes, host_vars, _remote_runner(host_vars)))
        checks += await aguard("cluster", "Ingress on every worker", check_ingress(workers, host_vars))
        checks += await aguard("cluster", "Gateways", check_gateways(client, workers, host_vars))
        if smoking is not None:
            checks += await smoking
            checks += await aguard("cluster", "dual-stack checks", check_dual_stack(
                client, workers, _remote_runner(host_vars), domain=domain))
    return checks


def _drift_check(inventory: str | Path, unreachable: Mapping[str, str]) -> Check:
    prepared = prepare_cluster(inventory)
    limit = ":".join(["all", *(f"!{h}" for h in unreachable)]) if unreachable else None
    report = run_playbook(str(inventory), SITE_PLAYBOOK, extra_vars=prepared.extra_vars, check=True,
                          limit=limit)
    changed = [f"{r.host}: {r.task}" for r in report.results if r.status == "changed"]
    failed = [f"{r.host}: {r.task}" for r in report.results if r.status in ("failed", "unreachable")]
    detail = "; ".join((changed + failed)[:8])
    if unreachable:
        detail += ("; " if detail else "") + f"not checked (unreachable): {', '.join(unreachable)}"
    return Check("cluster", "hosts match the playbook (check mode: 0 changed)",
                 report.ok and not changed, detail)


def verify_cluster(inventory: str | Path, *, smoke: bool = True, drift: bool = True) -> VerifyReport:
    """Every check as a row; a check that raises is a failed row with its cause (never a crash)."""
    with quiet_library_logs():
        return _verify_cluster(inventory, smoke, drift)


def _verify_cluster(inventory: str | Path, smoke: bool, drift: bool) -> VerifyReport:
    start = time.monotonic()
    report = VerifyReport()
    try:
        inv = load_inventory(inventory)
        # addresses as a run reaches them: a templated ansible_host rendered, never raw
        host_vars = {h: rendered_host_vars(inv, h) for h in inv.hosts}
    except Exception as exc:  # noqa: BLE001 - the inventory itself is the first check
        report.add("cluster", "inventory loads", False, describe_error(exc))
        report.duration_s = time.monotonic() - start
        return report
    members = {g: set(inv.members(g)) for g in ("etcd", "control_plane", "workers")}
    any_vars: Mapping[str, Any] = next(iter(host_vars.values()), {})
    vip = str(any_vars.get("apiserver_vip") or "")
    ports = VipPorts(int(any_vars.get("kprov_node_lb_port", NODE_LB_PORT)),
                     int(any_vars.get("kprov_apiserver_vip_port", VIP_PORT))) if vip else None
    expectations = expectations_for(inv.hosts, lambda host, group: host in members[group], ports)
    nodes = [h for h in inv.hosts if h in members["control_plane"] | members["workers"]]
    workers = [h for h in inv.hosts if h in members["workers"]]
    control_plane = [h for h in inv.hosts if h in members["control_plane"]]

    reach = Reachability(expectations)

    def on_hosts_checks() -> list[Check]:
        outcomes: dict[str, HostOutcome] = {}

        def hosts() -> list[Check]:
            outcomes.update(check_hosts(host_vars, expectations, vip, reach))
            return [c for outcome in outcomes.values() for c in outcome.rows]
        try:
            rows = guard("cluster", "host checks", hosts)
        finally:  # the API side waits for every host's report: never leave it waiting
            for host in expectations:
                reach.report(host, None)
        down = reach.unreachable.result()
        # etcd's checks run on a member: the first that answered
        member = next((h for h in inv.hosts if h in members["etcd"] and h not in down), None)
        rows += etcd_checks(inventory, host_vars[member] if member else {})
        if vip:
            rows += guard("cluster", f"API VIP {vip}", lambda: vip_rows(
                vip, {h: outcomes.get(h, HostOutcome()).vip_state for h in control_plane}))
        return rows

    with ThreadPoolExecutor(max_workers=1) as pool:
        on_hosts = pool.submit(on_hosts_checks)
        api_checks = asyncio.run(aguard("cluster", "checks through the API", _api_checks(
            inventory, nodes, workers, host_vars, smoke, reach.unreachable)))
        report.checks += on_hosts.result()
    report.checks += api_checks
    if drift:
        report.checks += guard("cluster", "hosts match the playbook (check mode: 0 changed)",
                               lambda: [_drift_check(inventory, reach.unreachable.result())])
    report.duration_s = time.monotonic() - start
    return report
