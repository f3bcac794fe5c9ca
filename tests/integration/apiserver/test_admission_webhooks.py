"""Admission webhooks against a real API server: an HTTPS webhook run by the test (its own
CA in caBundle) denies and mutates objects; failurePolicy decides what an unreachable
webhook means; webhook configurations themselves are never sent to webhooks."""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from kprov.local.ports import free_port

from ._http import request, ssl_context


class _Handler(BaseHTTPRequestHandler):
    calls: list[dict[str, Any]] = []
    paths: list[str] = []

    def do_POST(self) -> None:  # noqa: N802 - the http.server hook
        review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).calls.append(review)
        type(self).paths.append(self.path)
        if self.path.startswith("/slow"):
            time.sleep(2)
        req = review["request"]
        labels = ((req.get("object") or {}).get("metadata") or {}).get("labels") or {}
        response: dict[str, Any] = {"uid": req["uid"], "allowed": True}
        if self.path.startswith("/validate") and labels.get("deny") == "true":
            response = {
                "uid": req["uid"],
                "allowed": False,
                "status": {"code": 403, "message": "no denied objects"},
            }
        if self.path.startswith("/mutate"):
            patch = [{"op": "add", "path": "/metadata/labels/mutated", "value": "yes"}]
            if not labels:
                patch = [{"op": "add", "path": "/metadata/labels", "value": {"mutated": "yes"}}]
            response["patchType"] = "JSONPatch"
            response["patch"] = base64.b64encode(json.dumps(patch).encode()).decode()
        body = json.dumps(
            {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def webhook_server(tmp_path_factory) -> Iterator[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(base URL, caBundle) of an HTTPS webhook on loopback with its own CA."""
    work: Path = tmp_path_factory.mktemp("webhook")
    ca_key, ca_crt, key, csr, crt = (work / n for n in ("ca.key", "ca.crt", "tls.key", "tls.csr", "tls.crt"))

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        str(ca_key),
        "-out",
        str(ca_crt),
        "-days",
        "1",
        "-subj",
        "/CN=webhook-ca",
    )
    run(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        str(key),
        "-out",
        str(csr),
        "-subj",
        "/CN=127.0.0.1",
    )
    ext = work / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1\n")
    run(
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(ca_crt),
        "-CAkey",
        str(ca_key),
        "-CAcreateserial",
        "-out",
        str(crt),
        "-days",
        "1",
        "-extfile",
        str(ext),
    )
    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(crt), str(key))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{port}", base64.b64encode(ca_crt.read_bytes()).decode()
    finally:
        server.shutdown()


def _raw(control_plane, method: str, path: str, body: Any = None, content_type: str = "application/json"):  # type: ignore[no-untyped-def]
    context = ssl_context(control_plane.admin_kubeconfig, control_plane.ca_file)
    return request(
        control_plane.server,
        context,
        method,
        path,
        None if body is None else json.dumps(body).encode(),
        content_type,
    )


def _config(kind: str, name: str, url: str, ca: str, namespace: str, policy: str = "Fail") -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": name},
        "webhooks": [
            {
                "name": f"{name}.example.com",
                "clientConfig": {"url": url, "caBundle": ca},
                "rules": [
                    {
                        "operations": ["CREATE", "UPDATE"],
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "resources": ["configmaps"],
                    }
                ],
                "namespaceSelector": {"matchLabels": {"webhook-test": namespace}},
                "failurePolicy": policy,
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "timeoutSeconds": 5,
            }
        ],
    }


def _configmap(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}, "data": {}}


def test_validating_and_mutating_webhooks(control_plane, kubectl, namespace, webhook_server):
    base, ca = webhook_server
    kubectl("label", "namespace", namespace, f"webhook-test={namespace}")
    configs = "/apis/admissionregistration.k8s.io/v1"
    vname, mname = f"deny-{namespace}", f"label-{namespace}"
    status, _, made = _raw(
        control_plane,
        "POST",
        f"{configs}/validatingwebhookconfigurations",
        _config("ValidatingWebhookConfiguration", vname, f"{base}/validate", ca, namespace),
    )
    assert status == 201, made
    assert made["webhooks"][0]["matchPolicy"] == "Equivalent" and made["webhooks"][0]["objectSelector"] == {}
    cms = f"/api/v1/namespaces/{namespace}/configmaps"
    status, _, denied = _raw(control_plane, "POST", cms, _configmap("a", deny="true"))
    assert status == 403, denied
    assert (
        denied["message"] == f'admission webhook "{vname}.example.com" denied the request: no denied objects'
    )
    status, _, allowed = _raw(control_plane, "POST", cms, _configmap("b", deny="false"))
    assert status == 201, allowed
    review = _Handler.calls[-1]
    assert review["apiVersion"] == "admission.k8s.io/v1" and review["request"]["operation"] == "CREATE"
    assert review["request"]["resource"] == {"group": "", "version": "v1", "resource": "configmaps"}
    # dry run reaches a webhook without side effects; objects elsewhere are not sent at all
    calls = len(_Handler.calls)
    status, _, _ = _raw(
        control_plane,
        "POST",
        "/api/v1/namespaces/default/configmaps?dryRun=All",
        _configmap("c", deny="true"),
    )
    assert status == 201 and len(_Handler.calls) == calls

    status, _, _ = _raw(
        control_plane,
        "POST",
        f"{configs}/mutatingwebhookconfigurations",
        _config("MutatingWebhookConfiguration", mname, f"{base}/mutate", ca, namespace),
    )
    assert status == 201
    status, _, mutated = _raw(control_plane, "POST", cms, _configmap("d"))
    assert status == 201 and mutated["metadata"]["labels"] == {"mutated": "yes"}
    kubectl("label", "configmap", "b", "-n", namespace, "extra=1")
    labels = json.loads(kubectl("get", "configmap", "b", "-n", namespace, "-o", "json").stdout)["metadata"][
        "labels"
    ]
    assert labels == {"deny": "false", "extra": "1", "mutated": "yes"}

    kubectl("delete", "validatingwebhookconfiguration", vname)
    kubectl("delete", "mutatingwebhookconfiguration", mname)
    status, _, _ = _raw(control_plane, "POST", cms, _configmap("e", deny="true"))
    assert status == 201


def test_failure_policy_when_the_webhook_is_down(control_plane, kubectl, namespace, webhook_server):
    _, ca = webhook_server
    kubectl("label", "namespace", namespace, f"webhook-test={namespace}")
    down = f"https://127.0.0.1:{free_port()}/validate"
    configs = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
    name = f"down-{namespace}"
    status, _, _ = _raw(
        control_plane,
        "POST",
        configs,
        _config("ValidatingWebhookConfiguration", name, down, ca, namespace, "Ignore"),
    )
    assert status == 201
    cms = f"/api/v1/namespaces/{namespace}/configmaps"
    assert _raw(control_plane, "POST", cms, _configmap("ignored"))[0] == 201
    kubectl(
        "patch",
        "validatingwebhookconfiguration",
        name,
        "--type=json",
        "-p",
        '[{"op":"replace","path":"/webhooks/0/failurePolicy","value":"Fail"}]',
    )
    status, _, failed = _raw(control_plane, "POST", cms, _configmap("failed"))
    assert status == 500 and failed["reason"] == "InternalError"
    assert failed["message"].startswith(
        f'Internal error occurred: failed calling webhook "{name}.example.com": '
        f'failed to call webhook: Post "{down}?timeout=5s": '
    )
    kubectl("delete", "validatingwebhookconfiguration", name)  # never blocked by the broken webhook
    assert _raw(control_plane, "POST", cms, _configmap("after"))[0] == 201


def test_timeout_seconds_bounds_the_call(control_plane, kubectl, namespace, webhook_server):
    """A webhook slower than its timeoutSeconds fails the request under Fail with upstream's
    words (the URL carries ?timeout=), and is skipped under Ignore."""
    base, ca = webhook_server
    kubectl("label", "namespace", namespace, f"webhook-test={namespace}")
    configs = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
    name = f"slow-{namespace}"
    config = _config("ValidatingWebhookConfiguration", name, f"{base}/slow", ca, namespace)
    config["webhooks"][0]["timeoutSeconds"] = 1
    assert _raw(control_plane, "POST", configs, config)[0] == 201
    cms = f"/api/v1/namespaces/{namespace}/configmaps"
    status, _, failed = _raw(control_plane, "POST", cms, _configmap("slow"))
    assert status == 500, failed
    assert failed["message"] == (
        f'Internal error occurred: failed calling webhook "{name}.example.com": failed to call webhook: '
        f'Post "{base}/slow?timeout=1s": context deadline exceeded'
    )
    assert _Handler.paths[-1] == "/slow?timeout=1s"
    kubectl(
        "patch",
        "validatingwebhookconfiguration",
        name,
        "--type=json",
        "-p",
        '[{"op":"replace","path":"/webhooks/0/failurePolicy","value":"Ignore"}]',
    )
    assert _raw(control_plane, "POST", cms, _configmap("slow-ignored"))[0] == 201
    kubectl("delete", "validatingwebhookconfiguration", name)


def test_match_conditions_ask_the_authorizer_for_the_requests_user(
    control_plane, kubectl, namespace, webhook_server
):  # type: ignore[no-untyped-def]
    """A webhook whose matchCondition reads ``authorizer`` is called for a user RBAC lets
    delete secrets (the admin: the unreachable webhook fails the request under Fail) and
    skipped for one it does not (the create goes through)."""
    _, ca = webhook_server
    kubectl("label", "namespace", namespace, f"webhook-test={namespace}")
    down = f"https://127.0.0.1:{free_port()}/validate"
    name = f"authz-{namespace}"
    config = _config("ValidatingWebhookConfiguration", name, down, ca, namespace)
    condition = (
        "authorizer.group('').resource('secrets').namespace(request.namespace).check('delete').allowed()"
    )
    config["webhooks"][0]["matchConditions"] = [{"name": "secret-deleters", "expression": condition}]
    status, _, made = _raw(
        control_plane, "POST", "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations", config
    )
    assert status == 201, made
    cms = f"/api/v1/namespaces/{namespace}/configmaps"
    status, _, failed = _raw(control_plane, "POST", cms, _configmap("by-admin"))
    assert status == 500 and f'failed calling webhook "{name}.example.com"' in failed["message"]
    dave = control_plane.kubeconfig_for("webhook-dave", ["webhook-devs"])
    kubectl("create", "role", "cm-maker", "-n", namespace, "--verb=create", "--resource=configmaps")
    kubectl("create", "rolebinding", "cm-makers", "-n", namespace, "--role=cm-maker", "--group=webhook-devs")
    deadline = time.monotonic() + 10
    while True:  # (RBAC's index follows the watch cache)
        made_by_dave = kubectl(
            "create", "configmap", "by-dave", "-n", namespace, kubeconfig=dave, check=False
        )
        if made_by_dave.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert made_by_dave.returncode == 0, made_by_dave.stderr
    kubectl("delete", "validatingwebhookconfiguration", name)


def test_a_binding_is_reviewed_as_a_create_of_pods_binding(control_plane, kubectl, namespace, webhook_server):
    """As upstream: a webhook whose rule names ``pods/binding`` is sent the Binding (kind
    Binding, resource pods, subResource binding, the pod's name) and can refuse the bind."""
    base, ca = webhook_server
    kubectl("label", "namespace", namespace, f"webhook-test={namespace}")
    name = f"bind-{namespace}"
    config = _config("ValidatingWebhookConfiguration", name, f"{base}/validate", ca, namespace)
    config["webhooks"][0]["rules"][0].update(operations=["CREATE"], resources=["pods/binding"])
    configs = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
    assert _raw(control_plane, "POST", configs, config)[0] == 201
    pods = f"/api/v1/namespaces/{namespace}/pods"
    for pod in ("refused", "bound"):
        body = {"metadata": {"name": pod}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
        assert _raw(control_plane, "POST", pods, body)[0] == 201
    calls = len(_Handler.calls)
    binding = {"apiVersion": "v1", "kind": "Binding", "target": {"kind": "Node", "name": "node-a"}}
    status, _, denied = _raw(control_plane, "POST", f"{pods}/refused/binding",
                             {**binding, "metadata": {"name": "refused", "labels": {"deny": "true"}}})
    assert status == 403, denied
    refusal = f'admission webhook "{name}.example.com" denied the request: no denied objects'
    assert denied["message"] == refusal
    assert "nodeName" not in _raw(control_plane, "GET", f"{pods}/refused")[2]["spec"]
    bound = {**binding, "metadata": {"name": "bound"}}
    status, _, _ = _raw(control_plane, "POST", f"{pods}/bound/binding", bound)
    assert status == 201
    assert _raw(control_plane, "GET", f"{pods}/bound")[2]["spec"]["nodeName"] == "node-a"
    reviews = [c["request"] for c in _Handler.calls[calls:]]
    assert len(reviews) == 2  # the pods' creates were not sent: the rule names the subresource only
    request = reviews[-1]
    assert request["kind"] == {"group": "", "version": "v1", "kind": "Binding"}
    assert request["resource"] == {"group": "", "version": "v1", "resource": "pods"}
    assert request["subResource"] == "binding" and request["operation"] == "CREATE"
    assert (request["name"], request["namespace"]) == ("bound", namespace)
    assert request["object"]["target"] == {"kind": "Node", "name": "node-a"}
    assert request["options"]["kind"] == "CreateOptions"
    kubectl("delete", "validatingwebhookconfiguration", name)


def test_an_eviction_is_reviewed_as_a_create_of_pods_eviction(  # type: ignore[no-untyped-def]
    control_plane, kubectl, namespace, webhook_server
):
    """As upstream: a webhook whose rule names ``pods/eviction`` is sent the Eviction (kind
    policy/v1 Eviction, resource pods, subResource eviction) and can refuse it: the pod stays."""
    base, ca = webhook_server
    kubectl("label", "namespace", namespace, f"webhook-test={namespace}")
    name = f"evict-{namespace}"
    config = _config("ValidatingWebhookConfiguration", name, f"{base}/validate", ca, namespace)
    config["webhooks"][0]["rules"][0].update(operations=["CREATE"], resources=["pods/eviction"])
    configs = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
    assert _raw(control_plane, "POST", configs, config)[0] == 201
    pods = f"/api/v1/namespaces/{namespace}/pods"
    for pod in ("kept", "evicted"):
        body = {"metadata": {"name": pod}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
        assert _raw(control_plane, "POST", pods, body)[0] == 201
    calls = len(_Handler.calls)
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction"}
    status, _, denied = _raw(control_plane, "POST", f"{pods}/kept/eviction",
                             {**eviction, "metadata": {"name": "kept", "labels": {"deny": "true"}}})
    assert status == 403, denied
    refusal = f'admission webhook "{name}.example.com" denied the request: no denied objects'
    assert denied["message"] == refusal
    assert _raw(control_plane, "GET", f"{pods}/kept")[0] == 200
    evicted = {**eviction, "metadata": {"name": "evicted"}}
    status, _, _ = _raw(control_plane, "POST", f"{pods}/evicted/eviction", evicted)
    assert status == 201
    assert _raw(control_plane, "GET", f"{pods}/evicted")[0] == 404  # unbound: deleted at once
    reviews = [c["request"] for c in _Handler.calls[calls:]]
    assert len(reviews) == 2
    request = reviews[-1]
    assert request["kind"] == {"group": "policy", "version": "v1", "kind": "Eviction"}
    assert request["resource"] == {"group": "", "version": "v1", "resource": "pods"}
    assert request["subResource"] == "eviction" and request["operation"] == "CREATE"
    assert (request["name"], request["namespace"]) == ("evicted", namespace)
    assert request["object"]["metadata"]["name"] == "evicted"
    kubectl("delete", "validatingwebhookconfiguration", name)
