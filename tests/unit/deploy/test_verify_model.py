"""verify's pure parts: what each group must run, the smoke objects, the report verdict."""

from __future__ import annotations

import asyncio

from kprov.cluster.api.resources import REGISTRY
from kprov.cluster.api.validation.core import validate
from kprov.deploy.verify.cluster_checks import smoke_test
from kprov.deploy.verify.expectations import expectations_for
from kprov.deploy.verify.report import VerifyReport
from kprov.deploy.verify.smoke import smoke_deployment, smoke_service

GROUPS = {"etcd": {"h1", "h2", "h3"}, "control_plane": {"h1", "h2"}, "workers": {"h4", "h5"}}


def _exp() -> dict:
    return expectations_for(["h1", "h3", "h4"], lambda host, group: host in GROUPS[group])


def test_control_plane_etcd_host_runs_everything_once() -> None:
    h1 = _exp()["h1"]
    assert h1.units == ["kprov-etcd", "kprov-apiserver", "kprov-controller-manager", "kprov-scheduler",
                        "docker-registry", "kprov-registry-loader", "kprov-dns", "kprov-metrics-server",
                        "containerd", "kprov-kubelet", "kprov-proxy"]
    assert h1.ports == [2379, 2380, 6443, 5000, 5001, 53, 9153, 4443, 10250, 10256]
    assert len(h1.certs) == len(set(h1.certs))


def test_etcd_only_and_worker_hosts() -> None:
    exp = _exp()
    assert exp["h3"].units == ["kprov-etcd"]
    assert "kprov-dns" not in exp["h4"].units
    assert "kprov-apiserver" not in exp["h4"].units and "kprov-kubelet" in exp["h4"].units


def test_smoke_objects_are_valid_and_pin_pods_to_distinct_workers() -> None:
    dep = smoke_deployment("ns", ["h4", "h5"])
    info = REGISTRY.by_kind("Deployment", "apps")
    assert info is not None and validate(info, dep) == []
    spec = dep["spec"]["template"]["spec"]
    anti = spec["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
    assert anti["topologyKey"] == "kubernetes.io/hostname"
    assert anti["labelSelector"]["matchLabels"] == dep["spec"]["selector"]["matchLabels"]
    terms = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == ["h4", "h5"]
    svc = smoke_service("ns")
    assert svc["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]
    assert svc["spec"]["ports"][0]["targetPort"] == spec["containers"][0]["ports"][0]["containerPort"]


def test_report_fails_on_any_failed_row_and_when_empty() -> None:
    report = VerifyReport()
    assert not report.ok
    report.add("h1", "unit x", True)
    assert report.ok
    report.add("cluster", "node h4 Ready", False, "NotReady")
    assert not report.ok and [c.name for c in report.failures] == ["node h4 Ready"]
    assert report.to_dict()["checks"][1]["detail"] == "NotReady"


def test_smoke_without_a_worker_fails_and_says_what_to_do() -> None:
    [check] = asyncio.run(smoke_test(None, [], {}, lambda host, command: (0, "")))  # type: ignore[arg-type]
    assert not check.ok and "workers" in check.detail and "--no-smoke" in check.detail


def test_smoke_deployment_for_one_worker() -> None:
    dep = smoke_deployment("ns", ["h4"], 1)
    assert dep["spec"]["replicas"] == 1
    terms = dep["spec"]["template"]["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms[0]["matchExpressions"][0]["values"] == ["h4"]
