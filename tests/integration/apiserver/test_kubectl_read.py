"""Stock kubectl reading from our API server: version, discovery, tables, yaml/json, describe."""

from __future__ import annotations

import json
import re

import yaml

NODE = """
apiVersion: v1
kind: Node
metadata: {name: %(name)s, labels: {kubernetes.io/hostname: %(name)s}}
status:
  addresses: [{type: InternalIP, address: 10.9.9.9}]
  nodeInfo: {kubeletVersion: v1.32.0, osImage: Debian GNU/Linux 12, kernelVersion: "6.1", architecture: amd64,
             containerRuntimeVersion: "containerd://1.7", operatingSystem: linux, bootID: "", machineID: "",
             systemUUID: "", kubeProxyVersion: ""}
  conditions: [{type: Ready, status: "True", reason: KubeletReady, message: ready,
                lastHeartbeatTime: "2026-01-01T00:00:00Z", lastTransitionTime: "2026-01-01T00:00:00Z"}]
"""

POD = """
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: %(ns)s, labels: {app: web}}
spec:
  nodeName: %(node)s
  containers: [{name: c, image: busybox:1.36, command: [sleep, "1000"], ports: [{containerPort: 80}]}]
"""


def test_version_reports_1_32(kubectl):
    out = kubectl("version").stdout
    assert "Server Version: v1.32.0" in out


def test_api_resources_lists_core_and_apps(kubectl):
    out = kubectl("api-resources").stdout
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert "po" in lines["pods"] and "true" in lines["pods"]
    assert "apps/v1" in lines["deployments"] and "deploy" in lines["deployments"]
    assert "namespaces" in lines and "false" in lines["namespaces"]


def test_get_nodes_and_pods_wide_show_familiar_columns(kubectl, namespace):
    kubectl("apply", "-f", "-", input=NODE % {"name": "node-read"})
    kubectl("apply", "-f", "-", input=POD % {"ns": namespace, "node": "node-read"})
    nodes = kubectl("get", "nodes", "-o", "wide").stdout
    header = nodes.splitlines()[0].split()
    assert header[:5] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"] and "INTERNAL-IP" in header
    row = next(line for line in nodes.splitlines() if line.startswith("node-read"))
    assert "Ready" in row and "10.9.9.9" in row
    pods = kubectl("get", "pods", "-A", "-o", "wide").stdout
    header = pods.splitlines()[0].split()
    assert header[:6] == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"] and "NODE" in header
    row = next(line for line in pods.splitlines() if line.startswith(namespace))
    assert row.split()[1] == "web" and "node-read" in row and "0/1" in row


def test_get_yaml_and_json_carry_server_fields(kubectl, namespace):
    kubectl("create", "configmap", "cfg", "-n", namespace, "--from-literal=k=v")
    as_yaml = yaml.safe_load(kubectl("get", "cm", "cfg", "-n", namespace, "-o", "yaml").stdout)
    as_json = json.loads(kubectl("get", "cm", "cfg", "-n", namespace, "-o", "json").stdout)
    assert as_yaml == as_json
    meta = as_json["metadata"]
    assert as_json["data"] == {"k": "v"} and meta["uid"] and int(meta["resourceVersion"]) > 0
    assert meta["creationTimestamp"].endswith("Z")


def test_describe_pod_deployment_node(kubectl, namespace):
    kubectl("apply", "-f", "-", input=NODE % {"name": "node-desc"})
    kubectl("apply", "-f", "-", input=POD % {"ns": namespace, "node": "node-desc"})
    kubectl("create", "deployment", "d1", "-n", namespace, "--image=nginx:1.27", "--replicas=2")
    pod = kubectl("describe", "pod", "web", "-n", namespace).stdout
    assert re.search(r"Node:\s+node-desc", pod) and re.search(r"Port:\s+80/TCP", pod)
    deploy = kubectl("describe", "deployment", "d1", "-n", namespace).stdout
    assert "Replicas:" in deploy and "2 desired" in deploy and "RollingUpdate" in deploy
    node = kubectl("describe", "node", "node-desc").stdout
    assert re.search(r"InternalIP:\s+10.9.9.9", node) and "KubeletReady" in node


def test_cluster_info_and_raw_readyz(kubectl, control_plane):
    assert f"Kubernetes control plane is running at {control_plane.server}" in kubectl("cluster-info").stdout
    assert kubectl("get", "--raw", "/readyz").stdout.strip() == "ok"


def test_health_endpoints_list_upstreams_checks_when_verbose(kubectl):
    for path in ("/healthz", "/livez", "/readyz"):
        lines = kubectl("get", "--raw", f"{path}?verbose=1").stdout.splitlines()
        assert lines[-1] == f"{path[1:]} check passed"
        for check in ("ping", "log", "etcd", "poststarthook/crd-informer-synced", "autoregister-completion",
                      "poststarthook/start-kube-apiserver-admission-initializer"):
            assert f"[+]{check} ok" in lines, (path, lines)
        assert ("[+]informer-sync ok" in lines) == (path == "/readyz")
    lines = kubectl("get", "--raw", "/readyz?verbose&exclude=etcd").stdout.splitlines()
    assert "[+]etcd ok" not in lines and "[+]ping ok" in lines


def test_default_namespaces_and_kubernetes_service(kubectl):
    names = kubectl("get", "ns", "-o", "name").stdout.split()
    for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
        assert f"namespace/{ns}" in names
    svc = json.loads(kubectl("get", "svc", "kubernetes", "-o", "json").stdout)
    assert svc["spec"]["clusterIP"] == "10.96.0.1" and svc["spec"]["ports"][0]["port"] == 443
    ep = json.loads(kubectl("get", "endpoints", "kubernetes", "-o", "json").stdout)
    assert ep["subsets"][0]["addresses"][0]["ip"] == "127.0.0.1"
