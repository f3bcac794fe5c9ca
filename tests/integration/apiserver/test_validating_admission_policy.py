"""ValidatingAdmissionPolicy on a real API server, driven by stock kubectl: a policy bound
with Deny refuses a Deployment of 10 replicas with its message as soon as the binding is
created; Warn admits it with kubectl's warning; a policy reading a ConfigMap param; a policy
whose expression does not compile is refused at create; the defaults are upstream's; a policy
on ``pods/binding`` sees the scheduler's Binding."""

from __future__ import annotations

import json
import uuid

from tests.integration.apiserver.conftest import Kubectl

REPLICAS_POLICY = """apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {{name: {name}}}
spec:
  matchConstraints:
    resourceRules:
      - apiGroups: [apps]
        apiVersions: [v1]
        operations: [CREATE, UPDATE]
        resources: [deployments, deployments/scale]  # (a scale is its own subresource, as upstream)
  validations:
    - expression: "object.spec.replicas <= 5"
"""
BINDING = """apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {{name: {name}}}
spec:
  policyName: {policy}
  validationActions: [{action}]
  matchResources:
    namespaceSelector:
      matchLabels: {{kubernetes.io/metadata.name: {namespace}}}
"""
PARAM_POLICY = """apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {{name: {name}}}
spec:
  failurePolicy: Fail
  paramKind: {{apiVersion: v1, kind: ConfigMap}}
  matchConstraints:
    resourceRules:
      - apiGroups: [apps]
        apiVersions: [v1]
        operations: [CREATE]
        resources: ["*"]
  validations:
    - expression: "object.spec.replicas <= int(params.data.maxReplicas)"
      messageExpression: "'replicas must be at most ' + params.data.maxReplicas"
      reason: Forbidden
"""
PARAM_BINDING = """apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {{name: {name}}}
spec:
  policyName: {policy}
  validationActions: [Deny]
  paramRef: {{name: limits, namespace: {namespace}}}
  matchResources:
    namespaceSelector:
      matchLabels: {{kubernetes.io/metadata.name: {namespace}}}
"""


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def test_deny_refuses_ten_replicas_at_once(kubectl: Kubectl, namespace: str) -> None:
    policy, binding = _unique("replicas"), _unique("replicas-binding")
    kubectl("apply", "-f", "-", input=REPLICAS_POLICY.format(name=policy))
    kubectl("create", "deployment", "before", "--image=busybox", "--replicas=10", "-n", namespace)
    kubectl(
        "apply",
        "-f",
        "-",
        input=BINDING.format(name=binding, policy=policy, action="Deny", namespace=namespace),
    )
    refused = kubectl(
        "create", "deployment", "x", "--image=busybox", "--replicas=10", "-n", namespace, check=False
    )
    assert refused.returncode != 0
    assert (
        f"deployments.apps \"x\" is forbidden: ValidatingAdmissionPolicy '{policy}' with binding "
        f"'{binding}' denied request: failed expression: object.spec.replicas <= 5"
    ) in refused.stderr
    raw = kubectl(
        "create", "deployment", "x", "--image=busybox", "--replicas=10", "-n", namespace, "-v=6", check=False
    )
    assert "422 Unprocessable Entity" in raw.stderr
    kubectl("create", "deployment", "small", "--image=busybox", "--replicas=2", "-n", namespace)
    scaled = kubectl("scale", "deployment", "small", "--replicas=7", "-n", namespace, check=False)
    assert scaled.returncode != 0 and "denied request" in scaled.stderr
    kubectl("delete", "validatingadmissionpolicybinding", binding)
    kubectl("delete", "validatingadmissionpolicy", policy)


def test_warn_admits_with_a_warning(kubectl: Kubectl, namespace: str) -> None:
    policy, binding = _unique("warned"), _unique("warned-binding")
    kubectl("apply", "-f", "-", input=REPLICAS_POLICY.format(name=policy))
    kubectl(
        "apply",
        "-f",
        "-",
        input=BINDING.format(name=binding, policy=policy, action="Warn", namespace=namespace),
    )
    created = kubectl("create", "deployment", "big", "--image=busybox", "--replicas=10", "-n", namespace)
    assert (
        f"Warning: Validation failed for ValidatingAdmissionPolicy '{policy}' with binding '{binding}': "
        "failed expression: object.spec.replicas <= 5"
    ) in created.stderr
    kubectl("delete", "validatingadmissionpolicybinding", binding)
    kubectl("delete", "validatingadmissionpolicy", policy)


def test_configmap_param(kubectl: Kubectl, namespace: str) -> None:
    policy, binding = _unique("limited"), _unique("limited-binding")
    kubectl("create", "configmap", "limits", "--from-literal=maxReplicas=3", "-n", namespace)
    kubectl("apply", "-f", "-", input=PARAM_POLICY.format(name=policy))
    kubectl("apply", "-f", "-", input=PARAM_BINDING.format(name=binding, policy=policy, namespace=namespace))
    kubectl("create", "deployment", "three", "--image=busybox", "--replicas=3", "-n", namespace)
    refused = kubectl(
        "create",
        "deployment",
        "four",
        "--image=busybox",
        "--replicas=4",
        "-n",
        namespace,
        "-v=6",
        check=False,
    )
    assert "denied request: replicas must be at most 3" in refused.stderr
    assert "403 Forbidden" in refused.stderr  # reason Forbidden
    kubectl("delete", "configmap", "limits", "-n", namespace)
    missing = kubectl("create", "deployment", "five", "--image=busybox", "-n", namespace, check=False)
    assert (
        "denied request: failed to configure binding: no params found for policy binding with "
        "`Deny` parameterNotFoundAction"
    ) in missing.stderr
    kubectl("delete", "validatingadmissionpolicybinding", binding)
    kubectl("delete", "validatingadmissionpolicy", policy)


def test_policy_that_does_not_compile_is_refused(kubectl: Kubectl) -> None:
    bad = REPLICAS_POLICY.format(name=_unique("broken")).replace(
        "object.spec.replicas <= 5", "object.spec.replicas <="
    )
    refused = kubectl("create", "-f", "-", input=bad, check=False)
    assert refused.returncode != 0
    assert (
        'spec.validations[0].expression: Invalid value: "object.spec.replicas <=": compilation failed: '
        in (refused.stderr)
    )
    undeclared = REPLICAS_POLICY.format(name=_unique("undeclared")).replace(
        "object.spec.replicas <= 5", "params.max > 1"
    )
    refused = kubectl("create", "-f", "-", input=undeclared, check=False)
    assert "undeclared reference to 'params'" in refused.stderr


def test_defaults_and_binding_validation(kubectl: Kubectl) -> None:
    policy = _unique("defaulted")
    kubectl("apply", "-f", "-", input=REPLICAS_POLICY.format(name=policy))
    shown = json.loads(kubectl("get", "validatingadmissionpolicy", policy, "-o", "json").stdout)
    spec = shown["spec"]
    assert spec["failurePolicy"] == "Fail"
    assert spec["matchConstraints"]["matchPolicy"] == "Equivalent"
    assert spec["matchConstraints"]["namespaceSelector"] == {}
    assert spec["matchConstraints"]["objectSelector"] == {}
    assert spec["matchConstraints"]["resourceRules"][0]["scope"] == "*"
    listed = kubectl("get", "validatingadmissionpolicies", policy).stdout.splitlines()
    assert listed[0].split() == ["NAME", "VALIDATIONS", "PARAMKIND", "AGE"]
    assert listed[1].split()[:3] == [policy, "1", "<unset>"]
    explained = kubectl("explain", "validatingadmissionpolicy.spec.failurePolicy").stdout
    assert "failurePolicy" in explained
    bad_binding = (
        "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicyBinding\n"
        f"metadata: {{name: {_unique('b')}}}\nspec: {{policyName: {policy}}}\n"
    )
    refused = kubectl("create", "-f", "-", input=bad_binding, check=False)
    assert "spec.validationActions: Required value: at least one validation action is required" in (
        refused.stderr
    )
    kubectl("delete", "validatingadmissionpolicy", policy)


BINDING_POLICY = """apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {{name: {name}}}
spec:
  matchConstraints:
    resourceRules:
      - apiGroups: [""]
        apiVersions: [v1]
        operations: [CREATE]
        resources: [pods/binding]
  validations:
    - expression: "request.kind.kind == 'Binding' && object.target.name != 'quarantined'"
      message: "no pods on the quarantined node"
"""


def test_a_policy_on_pods_binding_refuses_a_bind(kubectl: Kubectl, admin, namespace: str) -> None:  # type: ignore[no-untyped-def]
    """As upstream, a bind is a CREATE of ``pods/binding`` whose object is the Binding: a
    policy matching it refuses the bind with its message (the pod's create is not matched)."""
    policy, binding = _unique("bind"), _unique("bind-binding")
    kubectl("apply", "-f", "-", input=BINDING_POLICY.format(name=policy))
    bound = BINDING.format(name=binding, policy=policy, action="Deny", namespace=namespace)
    kubectl("apply", "-f", "-", input=bound)
    pods = f"/api/v1/namespaces/{namespace}/pods"
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
    assert admin("POST", pods, json.dumps(pod).encode())[0] == 201
    body = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p"}}
    body["target"] = {"name": "quarantined"}
    status, _, refused = admin("POST", f"{pods}/p/binding", json.dumps(body).encode())
    assert status == 422, refused
    assert refused["message"] == (
        f"pods \"p\" is forbidden: ValidatingAdmissionPolicy '{policy}' with binding '{binding}' "
        "denied request: no pods on the quarantined node"
    )
    assert "nodeName" not in admin("GET", f"{pods}/p")[2]["spec"]
    body["target"] = {"kind": "Node", "name": "node-a"}
    assert admin("POST", f"{pods}/p/binding", json.dumps(body).encode())[0] == 201
    kubectl("delete", "validatingadmissionpolicybinding", binding)
    kubectl("delete", "validatingadmissionpolicy", policy)


EVICTION_POLICY = """apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {{name: {name}}}
spec:
  matchConstraints:
    resourceRules:
      - apiGroups: [""]
        apiVersions: [v1]
        operations: [CREATE]
        resources: [pods/eviction]
  validations:
    - expression: "request.kind.group == 'policy' && request.kind.kind == 'Eviction'"
      message: "not an Eviction of policy/v1"
    - expression: "request.name != 'pinned'"
      message: "pinned pods stay"
"""


def test_a_policy_on_pods_eviction_refuses_an_eviction(kubectl: Kubectl, admin, namespace: str) -> None:  # type: ignore[no-untyped-def]
    """An eviction is a CREATE of ``pods/eviction`` whose object is a policy/v1 Eviction: a
    policy matching it refuses the eviction with its message, and the pod stays."""
    policy, binding = _unique("evict"), _unique("evict-binding")
    kubectl("apply", "-f", "-", input=EVICTION_POLICY.format(name=policy))
    bound = BINDING.format(name=binding, policy=policy, action="Deny", namespace=namespace)
    kubectl("apply", "-f", "-", input=bound)
    pods = f"/api/v1/namespaces/{namespace}/pods"
    for name in ("pinned", "free"):
        pod = {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
        assert admin("POST", pods, json.dumps(pod).encode())[0] == 201
    for name, code in (("pinned", 422), ("free", 201)):
        body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name}}
        status, _, reply = admin("POST", f"{pods}/{name}/eviction", json.dumps(body).encode())
        assert status == code, reply
        if name == "pinned":
            assert reply["message"].endswith("denied request: pinned pods stay")
    assert reply["status"] == "Success"
    assert admin("GET", f"{pods}/pinned")[0] == 200 and admin("GET", f"{pods}/free")[0] == 404
    kubectl("delete", "validatingadmissionpolicybinding", binding)
    kubectl("delete", "validatingadmissionpolicy", policy)
