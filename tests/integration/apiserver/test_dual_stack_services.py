"""Dual-stack Services through stock kubectl: a local control plane started with two
service ranges gives PreferDualStack and RequireDualStack Services an address of each
family; the single-stack one refuses RequireDualStack in kube-apiserver's words."""

from __future__ import annotations

import ipaddress
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kprov.local import LocalControlPlane
from tests.integration.apiserver.conftest import Kubectl
from tests.integration.conftest import ETCD

V4, V6 = "10.96.0.0/16", "fd00:10:96::/112"


def _service(name: str, **spec: object) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                       "spec": {"selector": {"app": name}, "ports": [{"port": 80}], **spec}})


@pytest.fixture(scope="module")
def dual_admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    if not Path(ETCD).exists():
        pytest.skip("etcd is not installed (Debian package etcd-server)")
    plane = LocalControlPlane(tmp_path_factory.mktemp("dual-stack"), start_components=False,
                              apiserver_args=("--service-cluster-ip-range", f"{V4},{V6}"))
    try:
        yield Path(plane.up().admin_kubeconfig)
    finally:
        plane.down()


def test_require_dual_stack_refused_on_single_stack(kubectl: Kubectl) -> None:
    name = f"rds-{uuid.uuid4().hex[:6]}"
    body = _service(name, ipFamilyPolicy="RequireDualStack")
    result = kubectl("create", "-f", "-", input=body, check=False)
    assert result.returncode != 0
    assert (f'The Service "{name}" is invalid: spec.ipFamilyPolicy: Invalid value: "RequireDualStack": '
            "this cluster is not configured for dual-stack services") in result.stderr
    assert kubectl("get", "service", name, check=False).returncode != 0


def test_single_stack_service_stays_ipv4(kubectl: Kubectl) -> None:
    name = f"v4-{uuid.uuid4().hex[:6]}"
    kubectl("create", "-f", "-", input=_service(name, ipFamilyPolicy="PreferDualStack"))
    spec = json.loads(kubectl("get", "service", name, "-o", "json").stdout)["spec"]
    assert spec["ipFamilies"] == ["IPv4"] and spec["clusterIPs"] == [spec["clusterIP"]]
    kubectl("delete", "service", name)


@pytest.mark.parametrize("policy", ["PreferDualStack", "RequireDualStack"])
def test_dual_stack_services_get_both_families(kubectl: Kubectl, dual_admin: Path, policy: str) -> None:
    name = f"ds-{policy.lower()[:7]}-{uuid.uuid4().hex[:6]}"
    kubectl("create", "-f", "-", input=_service(name, ipFamilyPolicy=policy), kubeconfig=dual_admin)
    spec = json.loads(kubectl("get", "service", name, "-o", "json", kubeconfig=dual_admin).stdout)["spec"]
    assert spec["ipFamilies"] == ["IPv4", "IPv6"] and spec["ipFamilyPolicy"] == policy
    v4, v6 = (ipaddress.ip_address(ip) for ip in spec["clusterIPs"])
    assert v4 in ipaddress.ip_network(V4) and v6 in ipaddress.ip_network(V6)
    table = kubectl("get", "service", name, kubeconfig=dual_admin).stdout
    assert spec["clusterIP"] in table.splitlines()[1].split()
    # downgrade: SingleStack keeps the primary, releases the secondary for someone else
    single = '{"spec":{"ipFamilyPolicy":"SingleStack"}}'
    kubectl("patch", "service", name, "-p", single, kubeconfig=dual_admin)
    after = json.loads(kubectl("get", "service", name, "-o", "json", kubeconfig=dual_admin).stdout)["spec"]
    assert after["clusterIPs"] == spec["clusterIPs"][:1] and after["ipFamilies"] == ["IPv4"]
    taker = f"take-{uuid.uuid4().hex[:6]}"
    kubectl("create", "-f", "-", kubeconfig=dual_admin, input=_service(
        taker, ipFamilyPolicy="SingleStack", ipFamilies=["IPv6"],
        clusterIP=spec["clusterIPs"][1], clusterIPs=[spec["clusterIPs"][1]]))
    kubectl("delete", "service", name, taker, kubeconfig=dual_admin)


def test_ipv6_only_service_on_dual_stack(kubectl: Kubectl, dual_admin: Path) -> None:
    name = f"v6-{uuid.uuid4().hex[:6]}"
    kubectl("create", "-f", "-", input=_service(name, ipFamilies=["IPv6"]), kubeconfig=dual_admin)
    spec = json.loads(kubectl("get", "service", name, "-o", "json", kubeconfig=dual_admin).stdout)["spec"]
    assert spec["ipFamilyPolicy"] == "SingleStack" and spec["ipFamilies"] == ["IPv6"]
    assert ipaddress.ip_address(spec["clusterIP"]) in ipaddress.ip_network(V6)



def test_kubernetes_service_is_single_stack_of_the_primary_family(kubectl: Kubectl, dual_admin: Path) -> None:
    spec = json.loads(kubectl("get", "service", "kubernetes", "-n", "default", "-o", "json",
                              kubeconfig=dual_admin).stdout)["spec"]
    assert spec["ipFamilyPolicy"] == "SingleStack" and spec["ipFamilies"] == ["IPv4"]
    assert spec["clusterIPs"] == [str(ipaddress.ip_network(V4).network_address + 1)]


def test_external_name_round_trip_releases_and_reallocates_both(kubectl: Kubectl, dual_admin: Path) -> None:
    name = f"rt-{uuid.uuid4().hex[:6]}"
    dual = _service(name, ipFamilyPolicy="RequireDualStack")
    kubectl("create", "-f", "-", input=dual, kubeconfig=dual_admin)
    before = json.loads(kubectl("get", "service", name, "-o", "json", kubeconfig=dual_admin).stdout)["spec"]
    to_ext = '{"spec":{"type":"ExternalName","externalName":"example.com","clusterIP":""}}'
    kubectl("patch", "service", name, "-p", to_ext, kubeconfig=dual_admin)
    ext = json.loads(kubectl("get", "service", name, "-o", "json", kubeconfig=dual_admin).stdout)["spec"]
    assert not [f for f in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy") if ext.get(f)]
    reuse = f"reuse-{uuid.uuid4().hex[:6]}"  # the released IPv6 address is free again
    kubectl("create", "-f", "-", kubeconfig=dual_admin, input=_service(
        reuse, ipFamilyPolicy="SingleStack", ipFamilies=["IPv6"],
        clusterIP=before["clusterIPs"][1], clusterIPs=[before["clusterIPs"][1]]))
    back = '{"spec":{"type":"ClusterIP","externalName":null,"ipFamilyPolicy":"RequireDualStack"}}'
    kubectl("patch", "service", name, "-p", back, kubeconfig=dual_admin)
    after = json.loads(kubectl("get", "service", name, "-o", "json", kubeconfig=dual_admin).stdout)["spec"]
    assert after["ipFamilies"] == ["IPv4", "IPv6"] and len(after["clusterIPs"]) == 2
    assert after["clusterIPs"][1] != before["clusterIPs"][1]
    kubectl("delete", "service", name, reuse, kubeconfig=dual_admin)
