"""Pod Security admission on a real API server, driven by stock kubectl: a restricted
namespace refuses a privileged pod with upstream's message and admits a compliant one;
warn=baseline admits a hostPath pod with upstream's warning; a Deployment whose template
violates the namespace's level is warned about; tightening a namespace's enforce label
warns with the pods already there; exemptions from an admission configuration file (a
second server on the shared etcd, started with --admission-control-config-file), and the
audit annotations each decision leaves in the audit log."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from kprov.local.control_plane import apiserver_argv
from kprov.local.ports import free_port, wait_for_port
from tests.integration.apiserver._http import request, ssl_context

PRIVILEGED_POD = """apiVersion: v1
kind: Pod
metadata: {name: priv}
spec:
  containers:
    - name: c
      image: busybox
      securityContext: {privileged: true}
"""
RESTRICTED_POD = """apiVersion: v1
kind: Pod
metadata: {name: fine}
spec:
  securityContext:
    runAsNonRoot: true
    seccompProfile: {type: RuntimeDefault}
  containers:
    - name: c
      image: busybox
      securityContext:
        allowPrivilegeEscalation: false
        capabilities: {drop: [ALL]}
"""
HOSTPATH_POD = """apiVersion: v1
kind: Pod
metadata: {name: hostpath}
spec:
  containers:
    - {name: c, image: busybox}
  volumes:
    - name: h
      hostPath: {path: /tmp}
"""
PRIVILEGED_DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {name: priv}
spec:
  selector: {matchLabels: {app: priv}}
  template:
    metadata: {labels: {app: priv}}
    spec:
      containers:
        - name: c
          image: busybox
          securityContext: {privileged: true}
"""
RESTRICTED_MESSAGE = (
    'pods "priv" is forbidden: violates PodSecurity "restricted:latest": '
    'privileged (container "c" must not set securityContext.privileged=true), '
    "allowPrivilegeEscalation != false "
    '(container "c" must set securityContext.allowPrivilegeEscalation=false), '
    'unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]), '
    'runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), '
    'seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" '
    'or "Localhost")'
)


def test_restricted_refuses_a_privileged_pod_and_admits_a_compliant_one(kubectl, namespace: str):
    kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted")
    refused = kubectl("apply", "-n", namespace, "-f", "-", input=PRIVILEGED_POD, check=False)
    assert refused.returncode != 0
    assert (
        f'Error from server (Forbidden): error when creating "STDIN": {RESTRICTED_MESSAGE}' in refused.stderr
    )
    admitted = kubectl("apply", "-n", namespace, "-f", "-", input=RESTRICTED_POD)
    assert "pod/fine created" in admitted.stdout and "Warning" not in admitted.stderr


def test_warn_baseline_admits_a_hostpath_pod_with_upstreams_warning(kubectl, namespace: str):
    kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/warn=baseline")
    created = kubectl("apply", "-n", namespace, "-f", "-", input=HOSTPATH_POD)
    assert "pod/hostpath created" in created.stdout
    assert created.stderr.strip() == (
        'Warning: would violate PodSecurity "baseline:latest": hostPath volumes (volume "h")'
    )


def test_a_deployment_violating_the_namespace_level_is_warned_not_refused(kubectl, namespace: str):
    kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=baseline")
    created = kubectl("apply", "-n", namespace, "-f", "-", input=PRIVILEGED_DEPLOYMENT)
    assert "deployment.apps/priv created" in created.stdout
    assert created.stderr.strip() == (
        'Warning: would violate PodSecurity "baseline:latest": '
        'privileged (container "c" must not set securityContext.privileged=true)'
    )


def test_tightening_enforce_warns_with_the_pods_already_there(kubectl, namespace: str):
    kubectl("apply", "-n", namespace, "-f", "-", input=PRIVILEGED_POD)
    kubectl("apply", "-n", namespace, "-f", "-", input=RESTRICTED_POD)
    dry = kubectl(
        "label",
        "--dry-run=server",
        "--overwrite",
        "namespace",
        namespace,
        "pod-security.kubernetes.io/enforce=baseline",
    )
    assert dry.stderr.splitlines() == [
        f'Warning: existing pods in namespace "{namespace}" violate the new PodSecurity enforce level '
        '"baseline:latest"',
        "Warning: priv: privileged",
    ]
    labels = json.loads(kubectl("get", "namespace", namespace, "-o", "json").stdout)["metadata"].get(
        "labels", {}
    )
    assert "pod-security.kubernetes.io/enforce" not in labels  # a dry run
    kubectl("label", "--overwrite", "namespace", namespace, "pod-security.kubernetes.io/enforce=baseline")
    kubectl("label", "pod", "-n", namespace, "priv", "x=y")  # not a significant update: not checked
    changed = kubectl("set", "image", "-n", namespace, "pod/priv", "c=busybox:1.36", check=False)
    assert changed.returncode != 0 and 'violates PodSecurity "baseline:latest": privileged' in changed.stderr
    bad = kubectl(
        "label", "--overwrite", "namespace", namespace, "pod-security.kubernetes.io/enforce=strict",
        check=False,
    )
    assert bad.returncode != 0
    assert (
        f'The Namespace "{namespace}" is invalid: metadata.labels[pod-security.kubernetes.io/enforce]: '
        'Invalid value: "strict": must be one of privileged, baseline, restricted'
    ) in bad.stderr


ADMISSION_CONFIG = """apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
  - name: PodSecurity
    configuration:
      apiVersion: pod-security.admission.config.k8s.io/v1
      kind: PodSecurityConfiguration
      defaults:
        enforce: baseline
      exemptions:
        namespaces: [{exempt}]
        usernames: [psa-exempt-user]
        runtimeClasses: [psa-exempt-class]
"""


def test_defaults_and_exemptions_from_the_admission_configuration(control_plane, tmp_path: Path):
    exempt_ns, plain_ns = f"psa-ex-{uuid.uuid4().hex[:6]}", f"psa-pl-{uuid.uuid4().hex[:6]}"
    config = tmp_path / "admission.yaml"
    config.write_text(ADMISSION_CONFIG.replace("{exempt}", exempt_ns))
    port = free_port()
    policy, log = tmp_path / "audit-policy.yaml", tmp_path / "audit.log"
    policy.write_text("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n  - level: Metadata\n")
    argv = apiserver_argv(
        control_plane.plane.pki,
        control_plane.etcd_url,
        port,
        f"--admission-control-config-file={config}",
        f"--audit-policy-file={policy}",
        f"--audit-log-path={log}",
    )
    with open(tmp_path / "apiserver.log", "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        assert wait_for_port("127.0.0.1", port, 60), (tmp_path / "apiserver.log").read_text()
        server = f"https://127.0.0.1:{port}"
        admin = ssl_context(control_plane.admin_kubeconfig, control_plane.ca_file)
        deadline = time.monotonic() + 30
        while request(server, admin, "GET", "/readyz")[0] != 200:
            assert time.monotonic() < deadline
            time.sleep(0.2)

        def create_pod(ns: str, name: str, ctx: Any = admin, runtime_class: str = "") -> tuple[int, Any]:
            container = {"name": "c", "image": "busybox", "securityContext": {"privileged": True}}
            spec: dict[str, Any] = {"containers": [container]}
            if runtime_class:
                spec["runtimeClassName"] = runtime_class
            body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}
            path = f"/api/v1/namespaces/{ns}/pods"
            status, _, answer = request(server, ctx, "POST", path, json.dumps(body).encode())
            return status, answer

        for ns in (exempt_ns, plain_ns):
            body = json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}).encode()
            assert request(server, admin, "POST", "/api/v1/namespaces", body)[0] == 201
        status, refused = create_pod(plain_ns, "p1")  # the cluster default: enforce=baseline
        assert status == 403, refused
        assert refused["message"].startswith(
            'pods "p1" is forbidden: violates PodSecurity "baseline:latest": '
        )
        assert create_pod(exempt_ns, "p2")[0] == 201  # an exempt namespace
        user = ssl_context(
            control_plane.kubeconfig_for("psa-exempt-user", ["system:masters"]), control_plane.ca_file
        )
        assert create_pod(plain_ns, "p3", user)[0] == 201  # an exempt user
        rc = {
            "apiVersion": "node.k8s.io/v1",
            "kind": "RuntimeClass",
            "metadata": {"name": "psa-exempt-class"},
            "handler": "runc",
        }
        status, _, _ = request(
            server, admin, "POST", "/apis/node.k8s.io/v1/runtimeclasses", json.dumps(rc).encode()
        )
        assert status in (201, 409)
        exempt_class = create_pod(plain_ns, "p4", runtime_class="psa-exempt-class")
        assert exempt_class[0] == 201, exempt_class
        # the audit annotations of the four pod creates, in order, as upstream's events carry them
        wanted = [
            {"pod-security.kubernetes.io/enforce-policy": "baseline:latest"},
            {"pod-security.kubernetes.io/exempt": "namespace"},
            {"pod-security.kubernetes.io/exempt": "user"},
            {"pod-security.kubernetes.io/exempt": "runtimeClass"},
        ]
        found: list[Any] = []
        deadline = time.monotonic() + 10
        while len(found) < len(wanted) and time.monotonic() < deadline:
            time.sleep(0.2)
            events = [json.loads(line) for line in (log.read_text().splitlines() if log.exists() else [])]
            found = [
                e.get("annotations")
                for e in events
                if e["verb"] == "create" and e.get("objectRef", {}).get("resource") == "pods"
            ]
        assert found == wanted
        # and upstream's counters
        _, _, exposition = request(server, admin, "GET", "/metrics")
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(exposition)
            for s in family.samples
            if s.name.startswith("pod_security_")
        }
        common = (("request_operation", "create"), ("resource", "pod"), ("subresource", ""))
        denied = (("decision", "deny"), ("mode", "enforce"))
        denied += (("policy_level", "baseline"), ("policy_version", "latest"))
        key = ("pod_security_evaluations_total", tuple(sorted(denied + common)))
        assert samples[key] == 1
        assert samples[("pod_security_exemptions_total", common)] == 3
    finally:
        proc.terminate()
        proc.wait(10)
