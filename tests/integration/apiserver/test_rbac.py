"""RBAC on a real API server with kubectl: roles and bindings served and printed, a user
refused (403) until a RoleBinding grants it, escalation refused as upstream words it."""

from __future__ import annotations

import json
import time

RBAC = "rbac.authorization.k8s.io/v1"


def _wait_allowed(kubectl, *args: str, kubeconfig) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 5
    while True:
        run = kubectl(*args, kubeconfig=kubeconfig, check=False)
        if run.returncode == 0 or time.monotonic() > deadline:
            assert run.returncode == 0, run.stderr
            return
        time.sleep(0.1)


def test_rolebinding_grants_and_kubectl_prints(kubectl, control_plane, namespace):
    alice = control_plane.kubeconfig_for("rbac-alice", ["rbac-devs"])
    before = kubectl("get", "pods", "-n", namespace, kubeconfig=alice, check=False)
    assert before.returncode == 1
    assert (
        f'pods is forbidden: User "rbac-alice" cannot list resource "pods" in API group "" '
        f'in the namespace "{namespace}"'
    ) in before.stderr
    kubectl("create", "role", "pod-reader", "-n", namespace, "--verb=get,list,watch", "--resource=pods")
    kubectl("create", "rolebinding", "devs-read", "-n", namespace, "--role=pod-reader", "--group=rbac-devs")
    _wait_allowed(kubectl, "get", "pods", "-n", namespace, kubeconfig=alice)
    assert kubectl("auth", "can-i", "list", "pods", "-n", namespace, kubeconfig=alice).stdout.strip() == "yes"
    assert (
        kubectl(
            "auth", "can-i", "delete", "pods", "-n", namespace, kubeconfig=alice, check=False
        ).stdout.strip()
        == "no"
    )
    wide = kubectl("get", "rolebinding", "devs-read", "-n", namespace, "-o", "wide").stdout
    assert wide.split("\n")[0].split() == ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"]
    assert "Role/pod-reader" in wide and "rbac-devs" in wide
    roles = kubectl("get", "roles", "-n", namespace).stdout
    assert roles.split("\n")[0].split() == ["NAME", "CREATED", "AT"]


def test_escalation_is_refused(kubectl, control_plane, namespace):
    bob = control_plane.kubeconfig_for("rbac-bob")
    kubectl(
        "create",
        "role",
        "rb-editor",
        "-n",
        namespace,
        "--verb=create,get,list",
        "--resource=rolebindings,roles",
    )
    kubectl("create", "role", "cm-reader", "-n", namespace, "--verb=get", "--resource=configmaps")
    kubectl("create", "rolebinding", "bob-rb", "-n", namespace, "--role=rb-editor", "--user=rbac-bob")
    # Bob may write rolebindings but holds no configmap rights: binding cm-reader escalates.
    refused = kubectl(
        "create",
        "rolebinding",
        "bob-cm",
        "-n",
        namespace,
        "--role=cm-reader",
        "--user=rbac-bob",
        kubeconfig=bob,
        check=False,
    )
    assert refused.returncode == 1
    assert (
        'rolebindings.rbac.authorization.k8s.io "bob-cm" is forbidden: user "rbac-bob" '
        '(groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n'
        '{APIGroups:[""], Resources:["configmaps"], Verbs:["get"]}'
    ) in refused.stderr
    role = {
        "apiVersion": RBAC,
        "kind": "Role",
        "metadata": {"name": "bob-made", "namespace": namespace},
        "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}],
    }
    made = kubectl("create", "-f", "-", kubeconfig=bob, check=False, input=json.dumps(role))
    assert made.returncode == 1 and "attempting to grant RBAC permissions not currently held" in made.stderr
    # Binding a role whose rules he holds is fine.
    kubectl(
        "create",
        "rolebinding",
        "bob-self",
        "-n",
        namespace,
        "--role=rb-editor",
        "--user=rbac-bob",
        kubeconfig=bob,
    )


def test_validation_uses_upstream_field_paths(kubectl, namespace):
    bad = {
        "apiVersion": RBAC,
        "kind": "RoleBinding",
        "metadata": {"name": "bad", "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Pod", "name": "x"},
        "subjects": [{"kind": "Robot", "name": "r"}],
    }
    run = kubectl("create", "-f", "-", check=False, input=json.dumps(bad))
    assert run.returncode == 1
    assert 'roleRef.kind: Unsupported value: "Pod": supported values: "Role", "ClusterRole"' in run.stderr
    assert 'subjects[0].kind: Unsupported value: "Robot"' in run.stderr
    role = {
        "apiVersion": RBAC,
        "kind": "ClusterRole",
        "metadata": {"name": "system:kprov-test:x"},
        "rules": [{}],
    }
    run = kubectl("create", "-f", "-", check=False, input=json.dumps(role))
    assert "rules[0].verbs: Required value: verbs must contain at least one value" in run.stderr


def test_access_reviews(kubectl, control_plane, namespace):
    carol = control_plane.kubeconfig_for("rbac-carol")
    kubectl("create", "rolebinding", "carol-view", "-n", namespace, "--clusterrole=view", "--user=rbac-carol")
    _wait_allowed(kubectl, "get", "pods", "-n", namespace, kubeconfig=carol)
    listing = kubectl("auth", "can-i", "--list", "-n", namespace, kubeconfig=carol).stdout
    assert "pods " in listing and "selfsubjectaccessreviews.authorization.k8s.io" in listing
    assert kubectl("auth", "can-i", "delete", "nodes", "--as=nobody", check=False).stdout.strip() == "no"
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": "rbac-carol",
            "resourceAttributes": {"namespace": namespace, "verb": "list", "resource": "pods"},
        },
    }
    out = kubectl("create", "--validate=false", "-o", "json", "-f", "-", input=json.dumps(review)).stdout
    assert json.loads(out)["status"]["allowed"] is True
    review["spec"]["resourceAttributes"]["verb"] = "delete"
    out = kubectl("create", "--validate=false", "-o", "json", "-f", "-", input=json.dumps(review)).stdout
    assert json.loads(out)["status"]["allowed"] is False
