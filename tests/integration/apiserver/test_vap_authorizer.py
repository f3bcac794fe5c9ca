"""Kubernetes' authorizer library in a ValidatingAdmissionPolicy on a real API server, asked
of its real RBAC for the request's user: a user may create configmaps labelled
``approved`` only while RBAC lets it ``approve`` them (refused with the policy's message,
then admitted once a Role grants it: the same object, so no memo on object fields kept
the first outcome); ``authorizer.requestResource``, a path check and ``serviceAccount``
answer as RBAC does; a check on a type without it is refused at creation."""

from __future__ import annotations

import time
import uuid

from tests.integration.apiserver.conftest import Kubectl

POLICY = """apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {{name: {name}}}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
      - apiGroups: [""]
        apiVersions: [v1]
        operations: [CREATE]
        resources: [configmaps]
  validations:
    - expression: >-
        !has(object.metadata.labels) || !('approved' in object.metadata.labels) ||
        authorizer.group('').resource('configmaps').namespace(object.metadata.namespace)
        .check('approve').allowed()
      messageExpression: "'user ' + request.userInfo.username + ' may not approve configmaps'"
      reason: Forbidden
    - expression: "authorizer.requestResource.check('create').allowed()"
    - expression: "authorizer.path('/healthz').check('get').allowed()"
    - expression: >-
        !authorizer.serviceAccount(object.metadata.namespace, 'default')
        .group('').resource('secrets').namespace(object.metadata.namespace).check('list').allowed()
    - expression: "!authorizer.group('').resource('pods').check('get').errored()"
"""
BINDING = """apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {{name: {name}}}
spec:
  policyName: {policy}
  validationActions: [Deny]
  matchResources:
    namespaceSelector:
      matchLabels: {{kubernetes.io/metadata.name: {namespace}}}
"""


def test_authorizer_checks_ask_rbac_for_the_requests_user(
    kubectl: Kubectl, control_plane, namespace: str
) -> None:  # type: ignore[no-untyped-def]
    policy, binding = f"approval-{uuid.uuid4().hex[:6]}", f"approval-b-{uuid.uuid4().hex[:6]}"
    kubectl("apply", "-f", "-", input=POLICY.format(name=policy))
    kubectl("apply", "-f", "-", input=BINDING.format(name=binding, policy=policy, namespace=namespace))
    carol = control_plane.kubeconfig_for("vap-carol", ["vap-devs"])
    kubectl("create", "role", "cm-writer", "-n", namespace, "--verb=create,get", "--resource=configmaps")
    kubectl("create", "rolebinding", "cm-writers", "-n", namespace, "--role=cm-writer", "--group=vap-devs")
    labelled = (
        "apiVersion: v1\nkind: ConfigMap\n"
        f"metadata: {{name: approved-one, namespace: {namespace}, labels: {{approved: 'yes'}}}}\n"
    )
    deadline = time.monotonic() + 10
    while True:  # (RBAC's index follows the watch cache: the binding may be a moment late)
        refused = kubectl("create", "-f", "-", input=labelled, kubeconfig=carol, check=False)
        if "cannot create" not in refused.stderr or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert refused.returncode != 0
    assert (
        f"ValidatingAdmissionPolicy '{policy}' with binding '{binding}' denied request: "
        "user vap-carol may not approve configmaps"
    ) in refused.stderr
    plain = kubectl("create", "configmap", "plain-one", "-n", namespace, kubeconfig=carol, check=False)
    assert plain.returncode == 0, plain.stderr  # requestResource, path and serviceAccount checks hold
    kubectl("create", "role", "cm-approver", "-n", namespace, "--verb=approve", "--resource=configmaps")
    kubectl(
        "create", "rolebinding", "cm-approvers", "-n", namespace, "--role=cm-approver", "--user=vap-carol"
    )
    deadline = time.monotonic() + 10
    while True:
        admitted = kubectl("create", "-f", "-", input=labelled, kubeconfig=carol, check=False)
        if admitted.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert admitted.returncode == 0, admitted.stderr
    # the default service account may not list secrets until a Role says so: the policy's
    # fourth validation (it must NOT be allowed) now refuses
    kubectl("create", "role", "secret-lister", "-n", namespace, "--verb=list", "--resource=secrets")
    kubectl(
        "create", "rolebinding", "sa-secrets", "-n", namespace, "--role=secret-lister",
        f"--serviceaccount={namespace}:default",
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while True:
        refused = kubectl("create", "configmap", "after-sa", "-n", namespace, check=False)
        if refused.returncode != 0 or time.monotonic() > deadline:
            break
        kubectl("delete", "configmap", "after-sa", "-n", namespace)
        time.sleep(0.2)
    assert "failed expression: !authorizer.serviceAccount(" in refused.stderr
    kubectl("delete", "validatingadmissionpolicybinding", binding)
    kubectl("delete", "validatingadmissionpolicy", policy)


def test_a_check_on_the_wrong_type_is_refused_at_creation(kubectl: Kubectl) -> None:
    bad = POLICY.format(name=f"bad-{uuid.uuid4().hex[:6]}").replace(
        "authorizer.requestResource.check('create').allowed()", "authorizer.check('create').allowed()"
    )
    refused = kubectl("create", "-f", "-", input=bad, check=False)
    assert refused.returncode != 0
    assert "spec.validations[1].expression: Invalid value" in refused.stderr
    assert "found no matching overload for 'check' applied to '" in refused.stderr
    assert "kubernetes.authorization.Authorizer" in refused.stderr
