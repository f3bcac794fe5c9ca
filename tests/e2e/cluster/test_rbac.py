"""RBAC on the lab cluster, through stock kubectl: a ServiceAccount's token is refused with
upstream's Forbidden text until a Role and RoleBinding made with `kubectl create role` /
`kubectl create rolebinding` let it in (on every API server, as each one's authorizer
follows the RBAC objects by watch), impersonation is evaluated as the impersonated user,
and a subject cannot grant permissions it does not hold."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import Cluster, wait_for

pytestmark = pytest.mark.lab
NAMESPACE = "rbac-e2e"
READER = f"system:serviceaccount:{NAMESPACE}:reader"
API_SERVERS = ("h1", "h2", "h3")


@pytest.fixture(scope="module")
def namespace(cluster: Cluster) -> Any:
    cluster.create_namespace(NAMESPACE)
    cluster.kubectl("create", "serviceaccount", "reader", "-n", NAMESPACE)
    yield NAMESPACE
    cluster.kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)


def _token_kubeconfig(cluster: Cluster, tmp_path: Path, account: str) -> Path:
    """A kubeconfig that authenticates with ``account``'s token only (no client certificate),
    one context per API server."""
    admin = yaml.safe_load(cluster.kubeconfig.read_text())
    token = cluster.kubectl("create", "token", account, "-n", NAMESPACE, "--duration=10m").stdout.strip()
    config = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": admin["clusters"],
        "users": [{"name": account, "user": {"token": token}}],
        "contexts": [{"name": c["name"], "context": {**c["context"], "user": account}}
                     for c in admin["contexts"]],
        "current-context": admin["current-context"],
    }
    path = tmp_path / f"{account}.conf"
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


def _kubectl_as(kubeconfig: Path, *args: str, via: str | None = None
                ) -> subprocess.CompletedProcess[str]:
    contexts = {c["name"] for c in yaml.safe_load(kubeconfig.read_text())["contexts"]}
    command = ["kubectl", "--kubeconfig", str(kubeconfig), "--request-timeout=10s"]
    if via:
        (context,) = [c for c in contexts if c.endswith(f"-{via}")]
        command.append(f"--context={context}")
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


def test_a_service_account_is_forbidden_until_a_role_binding_lets_it_list(cluster: Cluster, namespace: str,
                                                                          tmp_path: Path) -> None:
    kubeconfig = _token_kubeconfig(cluster, tmp_path, "reader")
    refused = _kubectl_as(kubeconfig, "get", "pods", "-n", namespace)
    assert refused.returncode == 1
    assert (f'Error from server (Forbidden): pods is forbidden: User "{READER}" cannot list resource "pods" '
            f'in API group "" in the namespace "{namespace}"') in refused.stderr

    cluster.kubectl("create", "role", "pod-reader", "-n", namespace, "--verb=get,list,watch",
                    "--resource=pods")
    cluster.kubectl("create", "rolebinding", "reader-reads", "-n", namespace, "--role=pod-reader",
                    f"--serviceaccount={namespace}:reader")
    for server in API_SERVERS:
        wait_for(f"{server} to let the reader list pods",
                 lambda server=server: _kubectl_as(kubeconfig, "get", "pods", "-n", namespace,
                                                   via=server).returncode == 0, 30)
    # the binding is namespaced: nothing changes one namespace over, nor for writes
    other = _kubectl_as(kubeconfig, "get", "pods", "-n", "default")
    assert 'cannot list resource "pods" in API group "" in the namespace "default"' in other.stderr
    write = _kubectl_as(kubeconfig, "create", "configmap", "x", "-n", namespace)
    assert f'User "{READER}" cannot create resource "configmaps"' in write.stderr, write.stderr


def test_impersonation_is_evaluated_as_the_impersonated_user(cluster: Cluster, namespace: str) -> None:
    nobody = cluster.kubectl("auth", "can-i", "delete", "nodes", "--as=nobody", check=False)
    assert (nobody.returncode, nobody.stdout.strip()) == (1, "no")
    admin = cluster.kubectl("auth", "can-i", "delete", "nodes", check=False)
    assert (admin.returncode, admin.stdout.strip()) == (0, "yes")
    cluster.kubectl("create", "role", "lister", "-n", namespace, "--verb=list", "--resource=configmaps")
    cluster.kubectl("create", "rolebinding", "reader-lists", "-n", namespace, "--role=lister",
                    f"--serviceaccount={namespace}:reader")

    def can_list_configmaps() -> bool:
        return cluster.kubectl("auth", "can-i", "list", "configmaps", "-n", namespace, f"--as={READER}",
                               check=False).stdout.strip() == "yes"

    wait_for("the reader to be allowed to list configmaps", can_list_configmaps, 30)
    denied = cluster.kubectl("get", "secrets", "-n", namespace, f"--as={READER}", check=False)
    assert f'User "{READER}" cannot list resource "secrets"' in denied.stderr


def test_a_subject_cannot_grant_what_it_does_not_hold(cluster: Cluster, namespace: str,
                                                      tmp_path: Path) -> None:
    cluster.kubectl("create", "role", "role-maker", "-n", namespace, "--verb=create,get",
                    "--resource=roles.rbac.authorization.k8s.io")
    cluster.kubectl("create", "rolebinding", "reader-makes-roles", "-n", namespace, "--role=role-maker",
                    f"--serviceaccount={namespace}:reader")
    kubeconfig = _token_kubeconfig(cluster, tmp_path, "reader")

    def attempt(name: str, resource: str) -> subprocess.CompletedProcess[str]:
        return _kubectl_as(kubeconfig, "create", "role", name, "-n", namespace, "--verb=get",
                           f"--resource={resource}")

    # pods/get is held (pod-reader from the first test or granted here), secrets/get is not
    cluster.kubectl("create", "role", "pod-getter", "-n", namespace, "--verb=get", "--resource=pods")
    cluster.kubectl("create", "rolebinding", "reader-gets-pods", "-n", namespace, "--role=pod-getter",
                    f"--serviceaccount={namespace}:reader")
    wait_for("the reader to create a role it holds", lambda: attempt("held", "pods").returncode == 0, 30)
    escalating = attempt("escalating", "secrets")
    assert escalating.returncode == 1
    assert "is attempting to grant RBAC permissions not currently held" in escalating.stderr, \
        escalating.stderr
    assert cluster.kubectl("get", "role", "escalating", "-n", namespace, check=False).returncode == 1
