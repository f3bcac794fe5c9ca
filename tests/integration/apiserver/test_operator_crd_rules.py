"""Real operators' CRDs with CEL rules on a real API server: cert-manager's and
prometheus-operator's CRD files that carry x-kubernetes-validations (vendored in
tests/data/operator-crds) install with ``kubectl apply --server-side``; objects breaking
each kind of rule are refused with the rule's own message at the rule's field path, as
kube-apiserver words it (``<path>: Invalid value: "object": <message>``), every failing
rule of an object reported; objects that keep the rules are admitted."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.integration.apiserver.conftest import Kubectl

DATA = Path(__file__).parents[2] / "data" / "operator-crds"
CRDS = (
    "issuers.cert-manager.io",
    "clusterissuers.cert-manager.io",
    "prometheusagents.monitoring.coreos.com",
    "prometheuses.monitoring.coreos.com",
    "alertmanagers.monitoring.coreos.com",
    "scrapeconfigs.monitoring.coreos.com",
    "thanosrulers.monitoring.coreos.com",
    "alertmanagerconfigs.monitoring.coreos.com",
)

# (object, refused?, messages it must carry) -- one per kind of rule
CASES = [
    (  # a rule on a nested object counting fields present (cert-manager)
        "apiVersion: cert-manager.io/v1\nkind: Issuer\nmetadata: {{name: venafi, namespace: {ns}}}\n"
        "spec: {{venafi: {{zone: z}}}}\n",
        [
            'The Issuer "venafi" is invalid: spec.venafi: Invalid value: "object": '
            "exactly one of tpp, cloud, or ngts must be configured"
        ],
    ),
    (
        "apiVersion: cert-manager.io/v1\nkind: Issuer\nmetadata: {{name: venafi-ok, namespace: {ns}}}\n"
        "spec: {{venafi: {{zone: z, cloud: {{apiTokenSecretRef: {{name: s}}}}}}}}\n",
        [],
    ),
    (  # several spec-level rules failing at once: each reported (prometheus-operator)
        "apiVersion: monitoring.coreos.com/v1alpha1\nkind: PrometheusAgent\n"
        "metadata: {{name: agent, namespace: {ns}}}\nspec: {{mode: DaemonSet, replicas: 2, shards: 3}}\n",
        [
            'spec: Invalid value: "object": replicas cannot be set when mode is DaemonSet',
            'spec: Invalid value: "object": shards cannot be greater than 1 when mode is DaemonSet',
        ],
    ),
    (
        "apiVersion: monitoring.coreos.com/v1alpha1\nkind: PrometheusAgent\n"
        "metadata: {{name: agent-ok, namespace: {ns}}}\nspec: {{mode: DaemonSet}}\n",
        [],
    ),
    (  # a rule inside a list's items: the item's index in the path
        "apiVersion: monitoring.coreos.com/v1\nkind: Prometheus\n"
        "metadata: {{name: prom, namespace: {ns}}}\n"
        "spec:\n  remoteWrite:\n    - {{url: 'http://a'}}\n"
        "    - {{url: 'http://b', sigv4: {{externalId: x}}}}\n",
        [
            'spec.remoteWrite[1].sigv4: Invalid value: "object": '
            "externalId can only be used when roleArn is specified"
        ],
    ),
    (  # a rule over sizes of nested optional lists
        "apiVersion: monitoring.coreos.com/v1\nkind: Prometheus\n"
        "metadata: {{name: sharded, namespace: {ns}}}\n"
        "spec: {{shards: 1, shardingStrategy: {{mode: Topology, topology: {{values: [a, b]}}}}}}\n",
        [
            'spec: Invalid value: "object": shards must be greater than or equal to the number of '
            "topology values when sharding strategy mode is Topology"
        ],
    ),
    (  # a string comparison with has()
        "apiVersion: monitoring.coreos.com/v1\nkind: Alertmanager\nmetadata: {{name: am, namespace: {ns}}}\n"
        "spec: {{updateStrategy: {{type: OnDelete, rollingUpdate: {{maxUnavailable: 1}}}}}}\n",
        ['spec.updateStrategy: Invalid value: "object": rollingUpdate requires type to be RollingUpdate'],
    ),
    (  # a filter macro over a list literal
        "apiVersion: monitoring.coreos.com/v1alpha1\nkind: ScrapeConfig\n"
        "metadata: {{name: sc, namespace: {ns}}}\n"
        "spec:\n  basicAuth: {{username: {{name: s, key: u}}}}\n"
        "  authorization: {{credentials: {{name: s, key: t}}}}\n",
        [
            'spec: Invalid value: "object": at most one of basicAuth, authorization, or oauth2 can be '
            "configured"
        ],
    ),
]


@pytest.fixture
def operator_crds(kubectl: Kubectl) -> None:
    for folder in ("cert-manager", "prometheus-operator"):
        kubectl("apply", "--server-side", "-f", str(DATA / folder), timeout=180)
    kubectl("wait", "--for", "condition=Established", "--timeout=60s", *(f"crd/{c}" for c in CRDS))


def test_operator_crd_rules_refuse_with_upstreams_messages(
    kubectl: Kubectl, namespace: str, operator_crds: None
) -> None:
    for template, messages in CASES:
        manifest = template.format(ns=namespace)
        run: subprocess.CompletedProcess[str] = kubectl("create", "-f", "-", input=manifest, check=False)
        if not messages:
            assert run.returncode == 0, (manifest, run.stderr)
            continue
        assert run.returncode != 0, manifest
        for message in messages:
            assert message in run.stderr, (manifest, run.stderr)
