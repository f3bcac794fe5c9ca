"""Scale-in: a node dropped from the inventory is drained, its host cleared, its Node deleted.

Which nodes kprov made is recorded in the inventory's PKI: every kubelet it provisioned has
a ``kubelet/<node>/`` directory there. A node that has one but is no longer in the
inventory's node groups (``control_plane``/``workers``) left the cluster, and after the
cluster playbook ``kprov apply`` removes it, in the order ``kubectl drain`` + node removal
use, so no pod is lost on the way:

1. cordon (``spec.unschedulable``), then evict every pod that is not a DaemonSet's or a
   mirror pod (the kubelet's picture of a host unit: evicted, it comes straight back, and
   ``kubectl drain`` leaves them too) through the Eviction API (controllers recreate them
   elsewhere) and wait for them to go;
2. clear the host: one the inventory still lists (an etcd member, or a host its first play
   still prepares) loses the node components (roles/remove-node.yml: kubelet and its
   credentials, kube-proxy, container runtime, a kprov HAProxy and keepalived); one that
   left the inventory, reached at the Node's InternalIP with the inventory's ``all``
   variables, loses everything kprov put there, as ``kprov reset`` does (roles/reset.yml:
   services, /opt/kprov, /var/lib/kprov, /etc/kprov, the packages kprov installed), as
   kubespray's remove-node resets the node;
3. delete the Node (its kubelet is stopped, so it cannot register again) and revoke what
   the cluster holds for it: its heartbeat Lease and the certificate signing requests it
   made (its client certificate cannot be revoked: the host no longer holds its key, nor
   does the operator's PKI); force-delete pods still bound to it, and drop its PKI
   directory so it is not removed twice.

A host that cannot be reached does not stop the removal: its Node is deleted anyway and
the report says so. Nodes kprov never provisioned are never touched.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from kprov.deploy.prepare import REPO_ROOT
from kprov.pki.from_inventory import InventorySources, inventory_sources, pki_dir_for
from kprov.provision.inventory import load_inventory
from kprov.provision.inventory.model import Inventory
from kprov.provision.pipelines import run_playbook

if TYPE_CHECKING:  # the API client is imported only when a node is really removed
    from kprov.cluster.client import ApiClient

__all__ = [
    "REMOVE_NODE_PLAYBOOK", "RESET_PLAYBOOK", "NodeRemoval", "clearing_playbook", "departed_nodes", "drain",
    "drained_away", "remove_departed_nodes", "revoke_node_credentials",
]

REMOVE_NODE_PLAYBOOK = REPO_ROOT / "roles" / "remove-node.yml"
RESET_PLAYBOOK = REPO_ROOT / "roles" / "reset.yml"
NODE_GROUPS = ("control_plane", "workers")
Progress = Callable[[str], None]


@dataclass
class NodeRemoval:
    node: str
    evicted: list[str] = field(default_factory=list)  # namespace/name
    host_cleared: bool = False
    deleted: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.deleted and self.host_cleared and not self.problems


def _node_hosts(inventory: Inventory) -> set[str]:
    return {h for g in NODE_GROUPS if g in inventory.groups for h in inventory.members(g)}


def departed_nodes(inventory_path: InventorySources) -> list[str]:
    """Nodes kprov provisioned (a kubelet directory in the PKI) that the inventory no
    longer lists in its node groups."""
    kubelets = pki_dir_for(inventory_path) / "kubelet"
    if not kubelets.is_dir():
        return []
    current = _node_hosts(load_inventory(*inventory_sources(inventory_path)))
    return sorted(p.name for p in kubelets.iterdir() if p.is_dir() and p.name not in current)


def _owned_by_daemonset(pod: dict[str, Any]) -> bool:
    return any(ref.get("kind") == "DaemonSet" for ref in pod["metadata"].get("ownerReferences") or [])


def _mirror(pod: dict[str, Any]) -> bool:
    return "kubernetes.io/config.mirror" in (pod["metadata"].get("annotations") or {})


def drained_away(pod: dict[str, Any]) -> bool:
    """Whether a drain evicts ``pod``: not a DaemonSet's, not a mirror pod (as kubectl drain)."""
    return not _owned_by_daemonset(pod) and not _mirror(pod)


def _namespace_terminating(error: Any) -> bool:
    """An eviction refused because the pod's namespace is being deleted (403 with the
    NamespaceTerminating cause, as kube-apiserver's NamespaceLifecycle answers)."""
    causes = ((error.status or {}).get("details") or {}).get("causes") or []
    return error.code == 403 and any(c.get("reason") == "NamespaceTerminating" for c in causes)


async def _pods_on(client: ApiClient, node: str) -> list[dict[str, Any]]:
    from kprov.cluster.client import resources

    pods, _ = await client.list_all(resources.PODS, field_selector=f"spec.nodeName={node}")
    return pods


async def drain(client: ApiClient, node: str, timeout_s: float = 90.0) -> list[str]:
    """Cordon ``node`` and evict its pods (DaemonSet and mirror pods stay); wait until they are gone.
    Returns the evicted pods; raises TimeoutError if some are still there at the deadline."""
    import asyncio  # here, as the API client: an apply that removes no node never loads it

    from kprov.cluster.client import ApiError, resources

    await client.patch(resources.NODES, node, {"spec": {"unschedulable": True}})
    evicted: dict[str, str] = {}  # uid -> namespace/name
    deadline = time.monotonic() + timeout_s
    while True:
        pods = [p for p in await _pods_on(client, node) if drained_away(p)]
        waiting = [p for p in pods if p["metadata"].get("uid") in evicted]
        for pod in pods:
            meta = pod["metadata"]
            if meta.get("uid") in evicted:
                continue
            body = {
                "apiVersion": "policy/v1",
                "kind": "Eviction",
                "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
            }
            try:
                path = resources.PODS.path(meta["namespace"], meta["name"], "eviction")
                await client.request("POST", path, body=body)
            except ApiError as exc:
                if exc.code == 404:
                    continue
                if _namespace_terminating(exc) and meta.get("deletionTimestamp"):
                    waiting.append(pod)  # its namespace's deletion removes it (as kubectl drain)
                    continue
                if exc.code != 429:  # 429: a disruption budget says not yet; try again
                    raise
                waiting.append(pod)
                continue
            evicted[meta["uid"]] = f"{meta['namespace']}/{meta['name']}"
            waiting.append(pod)
        if not waiting:
            return sorted(evicted.values())
        if time.monotonic() > deadline:
            names = ", ".join(f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in waiting)
            raise TimeoutError(f"pods still on {node} after {timeout_s:.0f}s: {names}")
        await asyncio.sleep(1.0)


def _address(node: dict[str, Any]) -> str | None:
    for entry in (node.get("status") or {}).get("addresses") or []:
        if entry.get("type") == "InternalIP":
            return str(entry.get("address"))
    return None


def clearing_playbook(inventory: Inventory, node: str) -> Path:
    """remove-node.yml for a host the inventory still lists (an etcd member, or a host the
    playbook's first play still prepares), else reset.yml: nothing of kprov's is left on a
    host that left the inventory."""
    return REMOVE_NODE_PLAYBOOK if node in inventory.hosts else RESET_PLAYBOOK


def _clear_host(
    inventory_path: InventorySources, inventory: Inventory, node: str, address: str | None
) -> str:
    """Clear the node's host (clearing_playbook); returns '' or what went wrong."""
    if node in inventory.hosts:
        playbook = clearing_playbook(inventory, node)
        sources: list[str | Path] = [*inventory_sources(inventory_path)]
        report = run_playbook(sources, playbook, limit=node)
    elif address:
        with tempfile.TemporaryDirectory(prefix="kprov-remove-node-") as tmp:
            transient = Path(tmp) / "hosts.yml"
            all_vars = {**inventory.groups["all"].vars, **inventory.groups["all"].file_vars}
            transient.write_text(yaml.safe_dump(
                {"all": {"vars": all_vars, "hosts": {node: {"ansible_host": address}}}}
            ))
            report = run_playbook(transient, RESET_PLAYBOOK)
    else:
        return f"{node} is not in the inventory and its Node has no InternalIP: clear the host by hand"
    if report.ok:
        return ""
    failed = [f"{r.task}: {r.msg}" for r in report.results if r.status in ("failed", "unreachable")]
    return f"clearing {node}: " + "; ".join(failed[:3])


CSRS = "/apis/certificates.k8s.io/v1/certificatesigningrequests"


async def revoke_node_credentials(client: ApiClient, node: str) -> list[str]:
    """Delete what the cluster holds for a removed node: its Lease in kube-node-lease and the
    CSRs its kubelet made (spec.username system:node:<node>). Returns what was deleted."""
    from kprov.cluster.client import ApiError, resources

    deleted: list[str] = []
    try:
        await client.delete(resources.LEASES, node, "kube-node-lease")
        deleted.append(f"lease kube-node-lease/{node}")
    except ApiError as exc:
        if exc.code != 404:
            raise
    try:
        listed = await client.request("GET", CSRS)
    except ApiError as exc:
        if exc.code != 404:  # a server without the certificates API: nothing to revoke
            raise
        return deleted
    for csr in (listed or {}).get("items") or []:
        if (csr.get("spec") or {}).get("username") == f"system:node:{node}":
            name = csr["metadata"]["name"]
            try:
                await client.request("DELETE", f"{CSRS}/{name}")
                deleted.append(f"certificatesigningrequest {name}")
            except ApiError as exc:
                if exc.code != 404:
                    raise
    return deleted


async def _remove(
    client: ApiClient, inventory_path: InventorySources, inventory: Inventory, name: str, progress: Progress
) -> NodeRemoval:
    from kprov.cluster.client import ApiError, resources

    removal = NodeRemoval(name)
    try:
        node: dict[str, Any] | None = await client.get(resources.NODES, name)
    except ApiError as exc:
        if exc.code != 404:
            raise
        node = None
    if node is not None:
        progress(f"draining node {name}")
        try:
            removal.evicted = await drain(client, name)
        except TimeoutError as exc:
            removal.problems.append(str(exc))
    progress(f"clearing the node components off {name}")
    import asyncio

    trouble = await asyncio.to_thread(
        _clear_host, inventory_path, inventory, name, _address(node) if node else None
    )
    removal.host_cleared = not trouble
    if trouble:
        removal.problems.append(trouble)
    if node is not None:
        progress(f"deleting node {name}")
        await client.delete(resources.NODES, name)
        await revoke_node_credentials(client, name)
        for pod in await _pods_on(client, name):  # its kubelet is gone: nobody else ends them
            meta = pod["metadata"]
            try:
                await client.delete(resources.PODS, meta["name"], meta["namespace"], grace_period_seconds=0)
            except ApiError as exc:
                if exc.code != 404:
                    raise
    removal.deleted = True
    if removal.host_cleared:
        shutil.rmtree(pki_dir_for(inventory_path) / "kubelet" / name, ignore_errors=True)
    return removal


def remove_departed_nodes(
    inventory_path: InventorySources, progress: Progress = lambda _: None
) -> list[NodeRemoval]:
    """Remove every node that left the inventory (see the module doc); one report each."""
    names = departed_nodes(inventory_path)
    if not names:
        return []
    import asyncio

    from kprov.cluster.client import ApiClient
    from kprov.cluster.client.kubeconfig import load_kubeconfig
    from kprov.deploy.verify.run import admin_kubeconfig_path

    inventory = load_inventory(*inventory_sources(inventory_path))
    config = load_kubeconfig(admin_kubeconfig_path(inventory_path))

    async def run() -> list[NodeRemoval]:
        async with ApiClient(config, timeout=30.0) as client:
            return [await _remove(client, inventory_path, inventory, name, progress) for name in names]

    return asyncio.run(run())
