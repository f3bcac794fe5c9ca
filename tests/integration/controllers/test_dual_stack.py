"""Dual-stack controllers on a dual-stack local control plane: the node IPAM controller gives
each node a range of both cluster CIDRs, and a dual-stack Service gets one EndpointSlice per
family while its Endpoints keep the primary family."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path

import pytest

from kprov.cluster.client import ApiClient, NotFound, resources
from kprov.local import LocalControlPlane
from kprov.pki import CONTROLLER_MANAGER_CN
from tests.integration.conftest import ETCD
from tests.integration.controllers.hollow import (
    create_node,
    ensure_namespace,
    simple_pod,
    start_component,
    stop_component,
    wait_for,
)

POD_V4, POD_V6 = "10.244.0.0/16", "fd00:10:244::/56"


@pytest.fixture(scope="module")
def dual_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalControlPlane]:
    if not Path(ETCD).exists():
        pytest.skip("etcd is not installed (Debian package etcd-server)")
    plane = LocalControlPlane(tmp_path_factory.mktemp("dual-cm"), start_components=False,
                              apiserver_args=("--service-cluster-ip-range", "10.96.0.0/16,fd00:10:96::/112"))
    plane.up()
    logs = tmp_path_factory.mktemp("dual-cm-logs")
    proc = start_component(
        "kprov.cluster.controllers", plane.kubeconfig_for(CONTROLLER_MANAGER_CN), logs, "cm",
        "--leader-elect=false", "--use-service-account-credentials=true",
        f"--service-account-private-key-file={plane.pki.path('sa', 'key')}",
        f"--cluster-cidr={POD_V4},{POD_V6}",
    )
    try:
        yield plane
    finally:
        stop_component(proc)
        plane.down()


def _admin(plane: LocalControlPlane) -> ApiClient:
    info = plane.info()
    assert info is not None
    return ApiClient.from_kubeconfig(Path(info.admin_kubeconfig))


async def test_nodes_get_a_pod_range_of_each_family(dual_plane: LocalControlPlane) -> None:
    async with _admin(dual_plane) as admin:
        await create_node(admin, "ds-node")

        async def allocated() -> list[str] | None:
            return (await admin.get(resources.NODES, "ds-node"))["spec"].get("podCIDRs")

        cidrs = await wait_for(allocated, 20, what="pod CIDRs of both families")
        v4, v6 = (ipaddress.ip_network(c) for c in cidrs)
        assert v4.subnet_of(ipaddress.ip_network(POD_V4)) and v4.prefixlen == 24  # type: ignore[arg-type]
        assert v6.subnet_of(ipaddress.ip_network(POD_V6)) and v6.prefixlen == 64  # type: ignore[arg-type]
        assert (await admin.get(resources.NODES, "ds-node"))["spec"]["podCIDR"] == cidrs[0]


async def test_dual_stack_service_has_a_slice_per_family(dual_plane: LocalControlPlane) -> None:
    async with _admin(dual_plane) as admin:
        await ensure_namespace(admin, "ds")
        pod = await admin.create(resources.PODS, simple_pod("web-0", "ds", labels={"app": "web"}))
        status = {"phase": "Running", "podIP": "10.244.1.5",
                  "podIPs": [{"ip": "10.244.1.5"}, {"ip": "fd00:10:244:1::5"}],
                  "conditions": [{"type": "Ready", "status": "True"}]}
        await admin.update_status(resources.PODS, {**pod, "status": status})
        await admin.create(resources.SERVICES, {
            "metadata": {"name": "web", "namespace": "ds"},
            "spec": {"selector": {"app": "web"}, "ipFamilyPolicy": "RequireDualStack",
                     "ports": [{"port": 80, "targetPort": 8080}]}})

        async def slices() -> dict[str, list[str]] | None:
            items, _ = await admin.list_all(resources.ENDPOINTSLICES, "ds")
            found = {s["addressType"]: [a for e in s.get("endpoints") or [] for a in e["addresses"]]
                     for s in items}
            return found if len(items) == 2 and all(found.values()) else None

        found = await wait_for(slices, 20, what="an EndpointSlice per family")
        assert found == {"IPv4": ["10.244.1.5"], "IPv6": ["fd00:10:244:1::5"]}

        async def endpoints() -> list[str] | None:
            try:
                ep = await admin.get(resources.ENDPOINTS, "web", "ds")
            except NotFound:
                return None
            ips = [a["ip"] for s in ep.get("subsets") or [] for a in s.get("addresses") or []]
            return ips or None

        assert await wait_for(endpoints, 20, what="Endpoints") == ["10.244.1.5"]
