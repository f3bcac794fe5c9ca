from __future__ import annotations

import pytest

from kprov.cluster.kubelet.cri.generated import api_pb2 as pb
from kprov.cluster.kubelet.pods import labels as L
from kprov.cluster.kubelet.pods.podconfig import NodeSettings, container_config, grace_period, sandbox_config
from kprov.cluster.kubelet.pods.resources import linux_resources
from kprov.cluster.kubelet.volumes.pod_volumes import MountSpec

POD = {
    "metadata": {
        "name": "web",
        "namespace": "shop",
        "uid": "u-1",
        "labels": {"app": "web"},
        "annotations": {"note": "x"},
    },
    "spec": {
        "containers": [
            {
                "name": "c1",
                "image": "kprov.local/busybox:1",
                "command": ["sh", "-c", "echo $(GREETING) $$(NOT)"],
                "args": ["$(MISSING)"],
                "workingDir": "/w",
                "ports": [{"containerPort": 80, "hostPort": 8080}],
                "resources": {"requests": {"cpu": "250m"}, "limits": {"cpu": "500m", "memory": "64Mi"}},
            }
        ],
        "terminationGracePeriodSeconds": 12,
    },
}


def test_sandbox_config_carries_identity_log_dir_and_ports() -> None:
    cfg = sandbox_config(NodeSettings("n1"), POD, attempt=2)
    assert (cfg.metadata.name, cfg.metadata.namespace, cfg.metadata.uid, cfg.metadata.attempt) == (
        "web",
        "shop",
        "u-1",
        2,
    )
    assert cfg.labels[L.POD_UID] == "u-1" and cfg.labels["app"] == "web"
    assert cfg.annotations["note"] == "x" and cfg.annotations[L.TERMINATION_GRACE] == "12"
    assert cfg.log_directory == "/var/log/pods/shop_web_u-1"
    assert cfg.hostname == "web"
    assert [(p.container_port, p.host_port) for p in cfg.port_mappings] == [(80, 8080)]
    assert cfg.linux.security_context.namespace_options.network == pb.POD
    assert not cfg.HasField("dns_config")


def test_cluster_dns_and_host_network() -> None:
    settings = NodeSettings("n1", cluster_dns=("10.96.0.10",))
    cfg = sandbox_config(settings, POD, 0)
    assert list(cfg.dns_config.servers) == ["10.96.0.10"]
    assert list(cfg.dns_config.searches) == ["shop.svc.cluster.local", "svc.cluster.local", "cluster.local"]
    host_pod = {**POD, "spec": {**POD["spec"], "hostNetwork": True}}
    host_cfg = sandbox_config(settings, host_pod, 0)
    assert host_cfg.linux.security_context.namespace_options.network == pb.NODE
    assert host_cfg.hostname == "" and not host_cfg.HasField("dns_config")


def test_container_config_expands_env_and_sets_resources_mounts_labels() -> None:
    container = POD["spec"]["containers"][0]
    cfg = container_config(
        POD,
        container,
        3,
        [("GREETING", "hi")],
        [MountSpec("/h", "/c", True)],
        kind=L.KIND_INIT,
        image_ref="sha256:abc",
    )
    assert list(cfg.command) == ["sh", "-c", "echo hi $(NOT)"]
    assert list(cfg.args) == ["$(MISSING)"]
    assert cfg.working_dir == "/w"
    assert cfg.image.image == "sha256:abc"
    assert [(e.key, e.value) for e in cfg.envs] == [("GREETING", "hi")]
    assert [(m.host_path, m.container_path, m.readonly) for m in cfg.mounts] == [("/h", "/c", True)]
    assert cfg.metadata.attempt == 3 and cfg.log_path == "c1/3.log"
    assert cfg.labels[L.CONTAINER_NAME] == "c1" and cfg.labels[L.CONTAINER_KIND] == L.KIND_INIT
    res = cfg.linux.resources
    assert (res.cpu_shares, res.cpu_quota, res.cpu_period, res.memory_limit_in_bytes) == (
        256,
        50_000,
        100_000,
        64 * 1024 * 1024,
    )


def test_resources_defaults_and_errors() -> None:
    assert linux_resources(None).cpu_shares == 2
    limit_only = linux_resources({"limits": {"cpu": "2"}})
    assert limit_only.cpu_shares == 2048 and limit_only.cpu_quota == 200_000
    assert linux_resources({"limits": {"cpu": "1m"}}).cpu_quota == 1000
    with pytest.raises(ValueError, match="containers.c: .*quantities"):
        linux_resources({"limits": {"memory": "lots"}}, "containers.c")


def test_grace_period_prefers_deletion_grace() -> None:
    assert grace_period(POD) == 12
    assert grace_period({"metadata": {"deletionGracePeriodSeconds": 3}, "spec": {}}) == 3
    assert grace_period({"metadata": {}, "spec": {}}) == 30
