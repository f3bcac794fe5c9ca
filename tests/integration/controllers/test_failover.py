"""Two kprov-controller-manager processes: killing the leader (SIGKILL) hands the lease
to the other within 15 s, which then does the work (a new ReplicaSet gets its pods).

The lease has its own name (the module's manager holds kube-controller-manager), so the
manager's identity is granted it by a Role, as an operator renaming the lease would: the
bootstrap role allows only the lease named kube-controller-manager."""

from __future__ import annotations

import contextlib
import signal
from pathlib import Path

from kprov.cluster.client import ApiClient, resources
from kprov.cluster.client.errors import AlreadyExists
from kprov.cluster.client.resources import Resource
from tests.integration.controllers.failover import holder, process_for, wait_new_holder
from tests.integration.controllers.hollow import ensure_namespace, start_component, stop_component, wait_for

LEASE = "failover-controller-manager"
_RBAC = "rbac.authorization.k8s.io"
ROLES = Resource(_RBAC, "v1", "roles", "Role", True)
ROLE_BINDINGS = Resource(_RBAC, "v1", "rolebindings", "RoleBinding", True)


async def _grant_lease(admin: ApiClient) -> None:
    meta = {"name": LEASE, "namespace": "kube-system"}
    role = {"metadata": meta, "rules": [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "update"],
         "resourceNames": [LEASE]},
    ]}
    binding = {
        "metadata": meta,
        "roleRef": {"apiGroup": _RBAC, "kind": "Role", "name": LEASE},
        "subjects": [{"apiGroup": _RBAC, "kind": "User", "name": "system:kube-controller-manager"}],
    }
    for res, body in ((ROLES, role), (ROLE_BINDINGS, binding)):
        with contextlib.suppress(AlreadyExists):
            await admin.create(res, body)


def _rs(name: str) -> dict:
    return {
        "metadata": {"name": name, "namespace": "cmfo"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "registry.invalid/x:1"}]},
            },
        },
    }


async def test_controller_manager_failover(control_plane, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    args = (
        "--controllers=replicaset",
        "--use-service-account-credentials=true",
        f"--leader-elect-resource-name={LEASE}",
        "--leader-elect-lease-duration=6s",
        "--leader-elect-renew-deadline=4s",
        "--leader-elect-retry-period=1s",
    )
    kubeconfig = control_plane.controller_manager_kubeconfig()
    procs = [
        start_component("kprov.cluster.controllers", kubeconfig, tmp_path, f"cm{i}", *args) for i in (1, 2)
    ]
    try:
        async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin:
            await ensure_namespace(admin, "cmfo")
            await _grant_lease(admin)

            async def pods(app: str) -> bool:
                items, _ = await admin.list_all(resources.PODS, "cmfo", label_selector=f"app={app}")
                return len(items) == 2

            leader = await wait_for(lambda: holder(admin, LEASE), 20, what="a leader")
            await admin.create(resources.REPLICASETS, _rs("first"))
            await wait_for(lambda: pods("first"), 20, what="pods from the first leader")

            victim = process_for(procs, leader)
            victim.send_signal(signal.SIGKILL)
            victim.wait(5)
            new_leader, took = await wait_new_holder(admin, LEASE, leader, 20)
            assert took < 15, f"takeover took {took:.1f}s"
            await admin.create(resources.REPLICASETS, _rs("second"))
            await wait_for(lambda: pods("second"), 20, what="pods from the new leader")
            items, _ = await admin.list_all(resources.PODS, "cmfo", label_selector="app=first")
            assert len(items) == 2  # the new leader did not duplicate the old one's work
    finally:
        for proc in procs:
            stop_component(proc)
