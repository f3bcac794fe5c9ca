"""The kubelet process: register the node, heartbeat, run a worker per bound pod, serve.

:class:`Kubelet` ties the pieces together: an informer over pods with
``spec.nodeName=<node>`` feeds :class:`~kprov.cluster.kubelet.pods.podworker.PodWorker` tasks
(one per pod uid); a relist loop (the "PLEG") lists the runtime's containers every second
and wakes the workers of pods whose containers changed state; a heartbeat renews the node
Lease every 10 s and posts NodeStatus when it changed, else every 5 min; the HTTPS server
answers logs and exec. After the first pod list, sandboxes of pods the API no longer has
are torn down. A new pod whose host ports an admitted pod holds is rejected
(:mod:`.pods.admission`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import ssl
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

import kprov
from kprov.cluster.client import ApiClient, EventHandler, Informer
from kprov.cluster.client.lease_renewal import renew_lease
from kprov.cluster.client.resources import NODES, PODS
from kprov.cluster.client.store import object_key
from kprov.cluster.dns.resolvconf import ResolvConf, read_resolv_conf
from kprov.cluster.kubelet.context import KubeletContext
from kprov.cluster.kubelet.cri.client import CRIClient
from kprov.cluster.kubelet.cri.types import ContainerInfo
from kprov.cluster.kubelet.node.apiaccess import KubeletApi
from kprov.cluster.kubelet.node.cert_rotation import (
    CertificateRotator,
    load_current,
    reload_serving,
    serving_spec,
)
from kprov.cluster.kubelet.node.host_services import MIRROR_ANNOTATION, unit_of
from kprov.cluster.kubelet.node.metrics import KubeletMetrics
from kprov.cluster.kubelet.node.mirror_pods import MirrorPods
from kprov.cluster.kubelet.node.registration import (
    KUBELET_PORT,
    HostFacts,
    host_facts,
    lease_object,
    node_allocatable,
    node_object,
    node_status,
    status_changed,
)
from kprov.cluster.kubelet.node.stats import ContainerSample, StatsProvider, cri_samples
from kprov.cluster.kubelet.node.storage_eviction import LocalStorageEviction
from kprov.cluster.kubelet.pods import labels as L
from kprov.cluster.kubelet.pods.admission import refusal
from kprov.cluster.kubelet.pods.podconfig import NodeSettings
from kprov.cluster.kubelet.pods.podworker import PodWorker
from kprov.cluster.kubelet.pods.securitycontext import apparmor_enabled
from kprov.cluster.kubelet.server import KubeletServer, server_ssl_context
from kprov.cluster.kubelet.volumes.localvolumes import sweep_forever

__all__ = ["Kubelet", "KubeletConfig"]

log = logging.getLogger(__name__)


@dataclass
class KubeletConfig:
    node_name: str
    node_ip: str
    kubeconfig: str
    node_ips: tuple[str, ...] = ()  # --node-ip v4,v6: every family's, node_ip (the primary) first
    runtime_endpoint: str = "unix:///run/containerd/containerd.sock"
    tls_cert_file: str = ""
    tls_private_key_file: str = ""
    client_ca_file: str = ""
    node_labels: dict[str, str] = field(default_factory=dict)
    taints: list[dict[str, str]] = field(default_factory=list)
    root_dir: str = "/var/lib/kprov/kubelet"
    pod_log_root: str = "/var/log/pods"
    cluster_dns: tuple[str, ...] = ()
    cluster_domain: str = "cluster.local"
    resolv_conf: str = ""  # the host's, for pods' DNS (empty: the runtime's default)
    address: str = "0.0.0.0"
    port: int = KUBELET_PORT
    ctr_path: str = "ctr"
    heartbeat_s: float = 10.0
    startup_status_s: float = 0.25  # until first Ready (upstream's fast status update: 100 ms)
    startup_grace_s: float = 120.0  # ... or this long after the start (upstream's nodeReadyGracePeriod)
    status_report_s: float = 300.0  # post an unchanged status this often (upstream: 5 min)
    relist_s: float = 1.0
    local_volumes_dir: str = "/var/lib/kprov/volumes"  # local-path volumes' directories
    seccomp_default: bool = False  # RuntimeDefault seccomp for pods that name no profile
    allowed_unsafe_sysctls: tuple[str, ...] = ()  # patterns beyond the safe set
    rotate_server_certificates: bool = False  # serving certificate through kubelet-serving CSRs
    cert_dir: str = ""  # where rotated certificates live (default: <root_dir>/pki)
    publish_host_services: bool = False  # mirror pods in kube-system for the host's kprov units
    # (unit, the host ports its mirror pod declares)
    host_service_ports: tuple[tuple[str, tuple[int, ...]], ...] = ()


async def _no_install(cert_pem: bytes, key_pem: bytes) -> None:
    """The first serving certificate is read back from its file."""


class Kubelet:
    def __init__(self, config: KubeletConfig, client: ApiClient, runtime: CRIClient) -> None:
        self.config = config
        self.client = client
        self.runtime = runtime
        self.api = KubeletApi(client, config.node_name)
        root = Path(config.root_dir)
        root.mkdir(parents=True, exist_ok=True)
        settings = NodeSettings(
            config.node_name, config.pod_log_root, config.cluster_dns, config.cluster_domain,
            host_dns=read_resolv_conf(config.resolv_conf) if config.resolv_conf else ResolvConf(),
            seccomp_default=config.seccomp_default,
            seccomp_root=str(root / "seccomp"),
            allowed_unsafe_sysctls=config.allowed_unsafe_sysctls,
            apparmor=apparmor_enabled(),
        )
        self.ctx = KubeletContext(runtime, self.api, settings, root, config.node_ip,
                                  node_ips=config.node_ips)
        self.ctx.allocatable = node_allocatable(host_facts(config.root_dir))
        self.informer = Informer(client, PODS, field_selector=f"spec.nodeName={config.node_name}")
        # its own Node, as upstream's node lister: the heartbeat compares with it, no GET per beat
        self.node_informer = Informer(client, NODES, field_selector=f"metadata.name={config.node_name}")
        self.workers: dict[str, PodWorker] = {}
        self.metrics = KubeletMetrics(lambda: [w.pod for w in list(self.workers.values())])
        self.stats = StatsProvider(config.node_name, self._container_samples)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._finished: set[str] = set()
        self._fingerprints: dict[str, frozenset[tuple[str, str]]] = {}
        self._runtime_version = ""
        self._ready = False

    # ---- pods ---------------------------------------------------------------------------
    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _on_pod(self, pod: dict[str, Any]) -> None:
        meta = pod.get("metadata") or {}
        uid = meta.get("uid", "")
        if not uid or uid in self._finished or MIRROR_ANNOTATION in (meta.get("annotations") or {}):
            return  # a mirror pod shows what runs elsewhere (a host unit): nothing to run
        self.metrics.pod_seen(pod)
        worker = self.workers.get(uid)
        if worker is not None:
            worker.update(pod)
            return
        if self._reject(pod):
            return
        worker = PodWorker(self.ctx, pod)
        self.workers[uid] = worker
        task = self._spawn(worker.run())
        task.add_done_callback(lambda _t: self._worker_done(uid))

    def _reject(self, pod: dict[str, Any]) -> bool:
        """A new pod the node refuses (another OS, host ports an admitted pod holds) is
        failed, not started (:mod:`.pods.admission`)."""
        phase = (pod.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed") or (pod.get("metadata") or {}).get("deletionTimestamp"):
            return False
        refused = refusal(pod, [w.pod for w in self.workers.values() if not w.gone])
        if refused is None:
            return False
        self._finished.add(pod["metadata"]["uid"])
        reason, message = refused

        async def fail() -> None:
            await self.api.record_event(pod, "Warning", reason, message)
            status = {"phase": "Failed", "reason": reason, "message": message}
            try:
                await self.api.write_pod_status(pod, status)
            except Exception as err:  # the informer sees the pod again on relist; retry then
                self._finished.discard(pod["metadata"]["uid"])
                log.warning("pod %s: rejection not written: %s", pod["metadata"].get("name"), err)

        self._spawn(fail())
        return True

    def _worker_done(self, uid: str) -> None:
        self.workers.pop(uid, None)
        self._finished.add(uid)
        self.metrics.pod_gone(uid)

    def _on_pod_deleted(self, pod: dict[str, Any]) -> None:
        worker = self.workers.get((pod.get("metadata") or {}).get("uid", ""))
        if worker is not None:
            worker.mark_gone()

    async def _remove_orphans(self) -> None:
        known = set(self.workers)
        for sandbox in await self.runtime.list_sandboxes({L.MANAGED_BY: L.MANAGED_BY_VALUE}):
            if sandbox.pod_uid in known or sandbox.pod_uid in self._finished:
                continue
            grace = int(sandbox.annotations.get(L.TERMINATION_GRACE, "30") or 30)
            pod = {
                "metadata": {
                    "uid": sandbox.pod_uid,
                    "name": sandbox.pod_name,
                    "namespace": sandbox.pod_namespace,
                },
                "spec": {"terminationGracePeriodSeconds": grace},
            }
            worker = PodWorker(self.ctx, pod)
            worker.gone = True
            known.add(sandbox.pod_uid)
            log.info(
                "removing orphaned pod %s/%s (%s)", sandbox.pod_namespace, sandbox.pod_name, sandbox.pod_uid
            )
            self._spawn(worker.run())

    async def _relist(self) -> None:
        """Wake the workers of pods whose containers changed state since the last look."""
        while True:
            try:
                containers = await self.runtime.list_containers({L.MANAGED_BY: L.MANAGED_BY_VALUE})
                by_pod: dict[str, set[tuple[str, str]]] = {}
                for c in containers:
                    by_pod.setdefault(c.labels.get(L.POD_UID, ""), set()).add((c.id, c.state))
                current = {uid: frozenset(v) for uid, v in by_pod.items()}
                for uid in set(current) | set(self._fingerprints):
                    if current.get(uid) != self._fingerprints.get(uid) and uid in self.workers:
                        self.workers[uid].wake()
                self._fingerprints = current
            except Exception as err:
                log.warning("relist failed: %s", err)
            await asyncio.sleep(self.config.relist_s)

    def find_pod(self, namespace: str, pod: str) -> dict[str, Any] | None:
        """The pod as this node's informer last saw it."""
        return self.informer.store.get(object_key({"metadata": {"namespace": namespace, "name": pod}}))

    async def find_container(
        self, namespace: str, pod: str, name: str, previous: bool
    ) -> ContainerInfo | None:
        obj = self.informer.store.get(object_key({"metadata": {"namespace": namespace, "name": pod}}))
        if obj is None:
            return None
        uid = obj["metadata"]["uid"]
        found = await self.runtime.list_containers({L.POD_UID: uid, L.CONTAINER_NAME: name})
        found.sort(key=lambda c: (c.attempt, c.created_at_ns), reverse=True)
        index = 1 if previous else 0
        if len(found) <= index:
            return None
        return await self.runtime.container_status(found[index].id)

    # ---- node ---------------------------------------------------------------------------
    async def _heartbeat(self) -> None:
        """Every ``heartbeat_s``: renew the Lease, and post the node's status when it says
        something the Node does not (heartbeat times aside) or ``status_report_s`` passed
        since the last post (upstream's nodeStatusUpdateFrequency and
        nodeStatusReportFrequency). The first beat after a start always posts: the kubelet
        role's ready check waits for a heartbeat newer than the start.

        Until this start first posts Ready (for ``startup_grace_s`` at most), the runtime's
        conditions are read every ``startup_status_s`` and a change is posted at once
        (upstream's fastStatusUpdateOnce): the CNI config kube-proxy writes a few seconds after
        the start would otherwise wait up to a whole heartbeat to make the node Ready.
        """
        facts, name = host_facts(self.config.root_dir), self.config.node_name
        lease: dict[str, Any] | None = None
        last_post = last_beat = -math.inf
        posted_ready = False
        fast_until = time.monotonic() + self.config.startup_grace_s
        while True:
            try:
                conditions = await self.runtime.runtime_conditions()
                ready = bool(conditions.get("RuntimeReady")) and bool(conditions.get("NetworkReady"))
                beat_due = time.monotonic() - last_beat >= self.config.heartbeat_s
                if beat_due or ready != self._ready:
                    self._ready = ready
                    node_uid = str(((self._own_node() or {}).get("metadata") or {}).get("uid", ""))
                    body = lease_object(name, name, datetime.now(UTC), node_uid)
                    lease = await renew_lease(self.client, body, lease)
                    last_beat = time.monotonic()
                    message = f"runtime not ready: {conditions}"
                    if ready:
                        message = "kubelet is posting ready status"
                    last_post = await self._post_status(facts, message, last_post)
                    posted_ready = posted_ready or ready
            except Exception as err:
                log.warning("node heartbeat failed: %s", err)
            fast = not posted_ready and time.monotonic() < fast_until
            await asyncio.sleep(self.config.startup_status_s if fast else self.config.heartbeat_s)

    async def _post_status(self, facts: HostFacts, message: str, last_post: float) -> float:
        """Post the node's status when it changed or a report is due; when it last posted."""
        name = self.config.node_name
        node = self._own_node() or await self.api.get_node(name)
        posted = (node or {}).get("status") or {}
        status = node_status(
            name, facts, self.ctx.host_ips, self._runtime_version, self._ready, message,
            posted.get("conditions") or [],
        )
        due = time.monotonic() - last_post >= self.config.status_report_s
        if node is None or due or status_changed(posted, status):
            await self.api.patch_node_status(name, status)
            return time.monotonic()
        return last_post

    async def _pod_netns(self, uid: str) -> str | None:
        """The network namespace of the pod's newest ready sandbox (None: no such sandbox)."""
        ready = [s for s in await self.runtime.list_sandboxes({L.POD_UID: uid}) if s.ready]
        if not ready:
            return None
        return await self.runtime.sandbox_netns(max(ready, key=lambda s: s.created_at_ns).id)

    def _own_node(self) -> dict[str, Any] | None:
        """The Node as the node informer last saw it (None before it listed)."""
        if not self.node_informer.has_synced.is_set():
            return None
        return self.node_informer.store.get(self.config.node_name)

    def _mirror_pods(self) -> MirrorPods:
        def node_uid() -> str:
            node = self._own_node()
            return str(((node or {}).get("metadata") or {}).get("uid", ""))

        return MirrorPods(self.client, self.config.node_name, self.ctx.host_ips, kprov.__version__,
                          node_uid, self.informer.store.items, ports=dict(self.config.host_service_ports))

    async def _register(self) -> None:
        cfg = self.config
        node = node_object(cfg.node_name, host_facts(cfg.root_dir), cfg.node_labels, cfg.taints)
        delay = 0.5
        while True:
            try:
                await self.api.register_node(node)
                log.info("node %s registered", cfg.node_name)
                return
            except Exception as err:
                log.warning("registering node %s failed: %s; retrying", cfg.node_name, err)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    # ---- run ----------------------------------------------------------------------------
    async def _container_samples(self) -> list[ContainerSample]:
        return cri_samples(await self.runtime.list_container_stats())

    async def _serve(self) -> web.AppRunner:
        cfg = self.config
        address = cfg.runtime_endpoint.removeprefix("unix://")
        server = KubeletServer(
            self.runtime, self.find_container, cfg.ctr_path, address, lambda: True, find_pod=self.find_pod,
            metrics_text=self.metrics.exposition, stats_summary=self.stats.summary,
            list_pods=self.informer.store.items, pod_netns=self._pod_netns,
        )
        if cfg.publish_host_services:
            node = cfg.node_name
            server.host_service_unit = lambda ns, pod, container: unit_of(ns, pod, container, node)
        runner = server.runner()
        await runner.setup()
        ssl_ctx = None
        if cfg.rotate_server_certificates:
            ssl_ctx = await self._serving_by_csr()
        elif cfg.tls_cert_file:
            ssl_ctx = server_ssl_context(
                cfg.tls_cert_file, cfg.tls_private_key_file, cfg.client_ca_file or None
            )
        site = web.TCPSite(runner, cfg.address, cfg.port, ssl_context=ssl_ctx, reuse_address=True)
        await site.start()
        return runner

    async def _serving_by_csr(self) -> ssl.SSLContext:
        """The serving certificate from <cert-dir>, kept renewed through kubelet-serving CSRs
        (the next handshakes present each new one). With none there yet, the first is asked
        for now: served meanwhile with --tls-cert-file when given, else waited for."""
        cfg = self.config
        cert_dir = Path(cfg.cert_dir or Path(cfg.root_dir) / "pki")
        spec = serving_spec(cfg.node_name, self.ctx.host_ips)
        current = load_current(cert_dir, "server")
        if current is None and not cfg.tls_cert_file:
            await CertificateRotator(self.client, spec, cert_dir, None, _no_install).rotate()
            current = load_current(cert_dir, "server")
        if current is not None:
            chain, key = str(cert_dir / "kubelet-server-current.pem"), ""
        else:
            chain, key = cfg.tls_cert_file, cfg.tls_private_key_file
        ssl_ctx = server_ssl_context(chain, key, cfg.client_ca_file or None)
        rotator = CertificateRotator(
            self.client, spec, cert_dir, current[0] if current else None, reload_serving(ssl_ctx, cert_dir)
        )
        self._spawn(rotator.run())
        return ssl_ctx

    async def run(self) -> None:
        version = await self.runtime.version()
        self._runtime_version = f"{version.runtime_name}://{version.runtime_version}"
        await self._register()
        runner = await self._serve()
        self.informer.add_handler(
            EventHandler(
                on_add=self._on_pod,
                on_update=lambda _old, new: self._on_pod(new),
                on_delete=self._on_pod_deleted,
            )
        )
        background = [
            self._spawn(self.informer.run()), self._spawn(self.node_informer.run()),
            self._spawn(self._heartbeat()), self._spawn(self.stats.run()),
        ]
        try:
            await self.informer.wait_synced()
            await self._remove_orphans()
            background.append(self._spawn(self._relist()))
            workers = lambda: list(self.workers.values())  # noqa: E731
            storage = LocalStorageEviction(self.runtime, self.ctx.root_dir, workers)
            background.append(self._spawn(storage.run()))
            if self.config.publish_host_services:
                background.append(self._spawn(self._mirror_pods().run()))
            if self.config.local_volumes_dir:
                volumes_dir = Path(self.config.local_volumes_dir)
                background.append(self._spawn(sweep_forever(volumes_dir, self.api.get_volume)))
            await asyncio.Event().wait()
        finally:
            for task in list(self._tasks):
                task.cancel()
            with contextlib.suppress(Exception):
                await asyncio.gather(*self._tasks, return_exceptions=True)
            await runner.cleanup()
