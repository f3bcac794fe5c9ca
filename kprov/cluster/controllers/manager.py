"""The controller manager: build the enabled controllers, start the shared informers,
wait for their caches, and run every controller's workers side by side.

``--controllers`` follows kube-controller-manager: ``*`` enables the defaults, ``name``
adds one, ``-name`` removes one (e.g. ``*,-garbagecollector``).
"""

from __future__ import annotations

import asyncio
import logging

from kprov.cluster.client.events import EventRecorder
from kprov.cluster.client.rest import ApiClient
from kprov.cluster.controllers.admission.policy_status import ValidatingAdmissionPolicyStatusController
from kprov.cluster.controllers.autoscaling.podautoscaler import PodAutoscalerController
from kprov.cluster.controllers.base import Controller, ControllerContext, ControllerOptions
from kprov.cluster.controllers.housekeeping.disruption import DisruptionController
from kprov.cluster.controllers.housekeeping.garbagecollector import GarbageCollector
from kprov.cluster.controllers.housekeeping.namespace import NamespaceController
from kprov.cluster.controllers.housekeeping.nodelifecycle import NodeLifecycleController
from kprov.cluster.controllers.housekeeping.resourcequota import ResourceQuotaController
from kprov.cluster.controllers.identity.clusterrole_aggregation import ClusterRoleAggregationController
from kprov.cluster.controllers.identity.csr_approving import CSRApprovingController
from kprov.cluster.controllers.identity.csr_cleaner import CSRCleanerController
from kprov.cluster.controllers.identity.csr_signing import CSRSigningController
from kprov.cluster.controllers.identity.kubelet_serving_approver import KubeletServingApprover
from kprov.cluster.controllers.identity.rootca import RootCaPublisher
from kprov.cluster.controllers.identity.sa_credentials import ControllerCredentials
from kprov.cluster.controllers.identity.satoken import TokenSecretController
from kprov.cluster.controllers.identity.serviceaccount import ServiceAccountController
from kprov.cluster.controllers.informers import SharedInformers
from kprov.cluster.controllers.network.endpoints import EndpointsController
from kprov.cluster.controllers.network.endpointslice import EndpointSliceController
from kprov.cluster.controllers.network.endpointslicemirroring import EndpointSliceMirroringController
from kprov.cluster.controllers.network.lbipam import LoadBalancerIpamController
from kprov.cluster.controllers.network.nodeipam import NodeIpamController
from kprov.cluster.controllers.storage.localpath import LocalPathProvisioner
from kprov.cluster.controllers.storage.pvbinder import PVBinderController
from kprov.cluster.controllers.storage.volumeprotection import PVCProtectionController, PVProtectionController
from kprov.cluster.controllers.workloads.cronjob import CronJobController
from kprov.cluster.controllers.workloads.daemonset import DaemonSetController
from kprov.cluster.controllers.workloads.deployment import DeploymentController
from kprov.cluster.controllers.workloads.job import JobController
from kprov.cluster.controllers.workloads.replicaset import ReplicaSetController
from kprov.cluster.controllers.workloads.replicationcontroller import ReplicationControllerController
from kprov.cluster.controllers.workloads.statefulset import StatefulSetController
from kprov.cluster.controllers.workloads.ttlafterfinished import TTLAfterFinishedController

__all__ = ["CONTROLLERS", "ControllerManager", "select_controllers"]

log = logging.getLogger(__name__)

CONTROLLERS: dict[str, type[Controller]] = {
    cls.name: cls
    for cls in (
        ReplicaSetController,
        ReplicationControllerController,
        DeploymentController,
        StatefulSetController,
        DaemonSetController,
        JobController,
        CronJobController,
        DisruptionController,
        ResourceQuotaController,
        TTLAfterFinishedController,
        PodAutoscalerController,
        PVBinderController,
        LocalPathProvisioner,
        PVCProtectionController,
        PVProtectionController,
        EndpointsController,
        EndpointSliceController,
        EndpointSliceMirroringController,
        NodeLifecycleController,
        NamespaceController,
        GarbageCollector,
        NodeIpamController,
        LoadBalancerIpamController,
        ServiceAccountController,
        ClusterRoleAggregationController,
        RootCaPublisher,
        TokenSecretController,
        CSRApprovingController,
        CSRSigningController,
        CSRCleanerController,
        KubeletServingApprover,
        ValidatingAdmissionPolicyStatusController,
    )
}


def select_controllers(spec: str) -> list[str]:
    """Resolve a --controllers value into controller names, in registry order."""
    chosen: set[str] = set()
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        if item == "*":
            chosen |= set(CONTROLLERS)
            continue
        name = item[1:] if item.startswith("-") else item
        if name not in CONTROLLERS:
            raise ValueError(f"--controllers: unknown controller {name!r}; known: {', '.join(CONTROLLERS)}")
        if item.startswith("-"):
            chosen.discard(name)
        else:
            chosen.add(name)
    return [n for n in CONTROLLERS if n in chosen]


class ControllerManager:
    """The enabled controllers over one set of shared informers (the manager's own identity).

    With ``credentials`` each controller acts as its ServiceAccount (``Controller.identity``,
    as --use-service-account-credentials); the clients are made when the manager starts
    leading, since making them writes ServiceAccounts and asks for tokens.
    """

    def __init__(
        self,
        client: ApiClient,
        names: list[str],
        options: ControllerOptions | None = None,
        credentials: ControllerCredentials | None = None,
    ) -> None:
        self.client = client
        self.informers = SharedInformers(client)
        self.options = options or ControllerOptions()
        self.credentials = credentials
        if "nodeipam" in names and not self.options.allocate_node_cidrs:
            names = [n for n in names if n != "nodeipam"]
        self.names = names
        self.controllers: list[Controller] = []
        if credentials is None:
            shared = self._context(client)
            self.controllers = [CONTROLLERS[n](shared) for n in names]

    def _context(self, client: ApiClient) -> ControllerContext:
        return ControllerContext(
            client, self.informers, EventRecorder(client, "kprov-controller-manager"), self.options
        )

    async def _build(self, credentials: ControllerCredentials) -> list[Controller]:
        contexts: dict[str, ControllerContext] = {}
        built: list[Controller] = []
        for name in self.names:
            cls = CONTROLLERS[name]
            if cls.identity not in contexts:
                client = await credentials.client_for(cls.identity) if cls.identity else self.client
                contexts[cls.identity] = self._context(client)
            built.append(cls(contexts[cls.identity]))
        return built

    async def run(self) -> None:
        if self.credentials is not None and not self.controllers:
            self.controllers = await self._build(self.credentials)
        self.informers.start()
        try:
            await self.informers.wait_synced()
            log.info("caches synced; running %s", ", ".join(c.name for c in self.controllers))
            await asyncio.gather(*(c.run() for c in self.controllers))
        finally:
            for c in self.controllers:
                c.queue.shutdown()
            await self.informers.stop()
            if self.credentials is not None:
                await self.credentials.close()
