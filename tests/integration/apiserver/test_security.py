"""HTTPS with client certificates: no certificate -> 401, node identities limited to their
own node's objects, 403 worded like the real server, Secrets encrypted in etcd."""

from __future__ import annotations

import asyncio
import json
import ssl

import aetcd
import pytest

from tests.integration.apiserver._http import request, ssl_context

NODE = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "%s"}}


def _pod(name: str, node: str, secret: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "nodeName": node,
            "containers": [{"name": "c", "image": "busybox"}],
            "volumes": [{"name": "s", "secret": {"secretName": secret}}],
        },
    }


@pytest.fixture
def nodes_and_secrets(kubectl, namespace):  # type: ignore[no-untyped-def]
    for node in ("sec-n1", "sec-n2"):
        kubectl("apply", "-f", "-", input=json.dumps({**NODE, "metadata": {"name": node}}))
    for name in ("s1", "s2"):
        kubectl("create", "secret", "generic", name, "-n", namespace, f"--from-literal=password=top-{name}")
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(_pod("p1", "sec-n1", "s1")))
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(_pod("p2", "sec-n2", "s2")))
    return namespace


def test_no_client_certificate_is_401_but_health_is_public(control_plane):
    context = ssl_context(None, control_plane.ca_file)
    status, _, body = request(control_plane.server, context, "GET", "/api/v1/namespaces")
    assert status == 401 and body["reason"] == "Unauthorized"
    assert request(control_plane.server, context, "GET", "/healthz")[2] == "ok"


def test_untrusted_certificate_is_refused(control_plane, tmp_path):
    context = ssl.create_default_context(cafile=str(control_plane.ca_file))
    from kprov.pki import issue_cert, new_ca

    rogue = issue_cert(new_ca("rogue-ca"), "kubernetes-admin", ["system:masters"], client=True)
    (tmp_path / "c.crt").write_bytes(rogue.cert_pem)
    (tmp_path / "c.key").write_bytes(rogue.key_pem)
    context.load_cert_chain(str(tmp_path / "c.crt"), str(tmp_path / "c.key"))
    with pytest.raises(OSError):
        request(control_plane.server, context, "GET", "/api/v1/namespaces")


def test_node_reads_only_secrets_of_its_own_pods(kubectl, control_plane, nodes_and_secrets):
    ns = nodes_and_secrets
    n1 = control_plane.node_kubeconfig("sec-n1")
    own = kubectl("get", "secret", "s1", "-n", ns, "-o", "jsonpath={.data.password}", kubeconfig=n1)
    assert own.stdout == "dG9wLXMx"  # base64("top-s1")
    other = kubectl("get", "secret", "s2", "-n", ns, kubeconfig=n1, check=False)
    assert other.returncode == 1
    assert (
        f'Error from server (Forbidden): secrets "s2" is forbidden: User "system:node:sec-n1" cannot get '
        f'resource "secrets" in API group "" in the namespace "{ns}"'
    ) in other.stderr
    listing = kubectl("get", "secrets", "-n", ns, kubeconfig=n1, check=False)
    assert listing.returncode == 1 and "cannot list resource" in listing.stderr


def test_node_writes_only_its_own_node_status(kubectl, control_plane, nodes_and_secrets):
    n1 = control_plane.node_kubeconfig("sec-n1")
    patch = (
        '{"status":{"conditions":[{"type":"Ready","status":"True","reason":"KubeletReady","message":"ok"}]}}'
    )
    own = kubectl(
        "patch", "node", "sec-n1", "--subresource=status", "--type=merge", "-p", patch, kubeconfig=n1
    )
    assert "patched" in own.stdout
    other = kubectl(
        "patch",
        "node",
        "sec-n2",
        "--subresource=status",
        "--type=merge",
        "-p",
        patch,
        kubeconfig=n1,
        check=False,
    )
    assert other.returncode == 1 and 'nodes "sec-n2" is forbidden: User "system:node:sec-n1"' in other.stderr
    assert "Ready" not in kubectl("get", "node", "sec-n2", "-o", "jsonpath={.status.conditions}").stdout


def test_secrets_are_encrypted_in_etcd(control_plane, nodes_and_secrets):
    key = f"/registry/secrets/{nodes_and_secrets}/s1".encode()

    async def raw() -> bytes:
        host, port = control_plane.etcd_url.removeprefix("http://").split(":")
        async with aetcd.Client(host=host, port=int(port)) as etcd:
            got = await etcd.get(key)
            assert got is not None
            return bytes(got.value)

    value = asyncio.run(raw())
    assert value.startswith(b"k8s:enc:aesgcm:v1:")
    assert b"top-s1" not in value and b"dG9wLXMx" not in value


def test_auth_can_i_answers_from_the_authorizer(kubectl, control_plane, nodes_and_secrets):
    ns = nodes_and_secrets
    n1 = control_plane.node_kubeconfig("sec-n1")
    yes = kubectl("auth", "can-i", "get", "secret/s1", "-n", ns, kubeconfig=n1, check=False)
    no = kubectl("auth", "can-i", "get", "secret/s2", "-n", ns, kubeconfig=n1, check=False)
    assert (yes.returncode, yes.stdout.strip()) == (0, "yes")
    assert (no.returncode, no.stdout.strip()) == (1, "no")
    assert kubectl("auth", "can-i", "delete", "nodes").stdout.strip() == "yes"


def test_impersonation_is_checked(kubectl, control_plane, namespace):
    """``--as`` is evaluated as the named user (so the admin hears "no"); a node may not
    impersonate anyone (403 in the real server's words)."""
    can = kubectl("auth", "can-i", "delete", "nodes", "--as=nobody", check=False)
    assert can.stdout.strip() == "no"
    assert kubectl("auth", "can-i", "delete", "nodes").stdout.strip() == "yes"
    denied = kubectl("get", "pods", "-n", namespace, "--as=nobody", check=False)
    assert denied.returncode == 1
    assert (
        f'pods is forbidden: User "nobody" cannot list resource "pods" in API group "" '
        f'in the namespace "{namespace}"'
    ) in denied.stderr
    n1 = control_plane.node_kubeconfig("imp-n1")
    node_as = kubectl("get", "nodes", "--as=kubernetes-admin", kubeconfig=n1, check=False)
    assert node_as.returncode == 1
    assert (
        'users "kubernetes-admin" is forbidden: User "system:node:imp-n1" cannot impersonate '
        'resource "users" in API group "" at the cluster scope'
    ) in node_as.stderr


def test_a_node_creates_only_mirror_pods_of_its_own(kubectl, control_plane, nodes_and_secrets):
    ns = nodes_and_secrets
    n1 = control_plane.node_kubeconfig("sec-n1")
    uid = kubectl("get", "node", "sec-n1", "-o", "jsonpath={.metadata.uid}").stdout
    plain = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "plain", "namespace": ns},
             "spec": {"nodeName": "sec-n1", "containers": [{"name": "c", "image": "busybox"}]}}
    refused = kubectl("create", "-f", "-", input=json.dumps(plain), kubeconfig=n1, check=False)
    assert refused.returncode == 1
    assert ('pods "plain" is forbidden: pod does not have "kubernetes.io/config.mirror" annotation, '
            'node "sec-n1" can only create mirror pods') in refused.stderr

    mirror = json.loads(json.dumps(plain))
    mirror["metadata"].update(name="mirror-sec-n1", annotations={"kubernetes.io/config.mirror": "x"},
                              ownerReferences=[{"apiVersion": "v1", "kind": "Node", "name": "sec-n1",
                                                "uid": uid, "controller": True}])
    created = kubectl("create", "-f", "-", input=json.dumps(mirror), kubeconfig=n1)
    assert "pod/mirror-sec-n1 created" in created.stdout
    pod = json.loads(kubectl("get", "pod", "mirror-sec-n1", "-n", ns, "-o", "json").stdout)
    assert "serviceAccountName" not in pod["spec"]  # mirror pods get no ServiceAccount

    mirror["metadata"]["name"] = "wrong-uid"
    mirror["metadata"]["ownerReferences"][0]["uid"] = "0000"
    wrong = kubectl("create", "-f", "-", input=json.dumps(mirror), kubeconfig=n1, check=False)
    assert f"node sec-n1 UID mismatch: expected 0000 got {uid}" in wrong.stderr
    mirror["metadata"]["name"] = "with-secret"
    mirror["metadata"]["ownerReferences"][0]["uid"] = uid
    mirror["spec"]["volumes"] = [{"name": "s", "secret": {"secretName": "s1"}}]
    secret = kubectl("create", "-f", "-", input=json.dumps(mirror), kubeconfig=n1, check=False)
    assert 'node "sec-n1" can not create pods that reference secrets' in secret.stderr


def test_a_node_evicts_only_pods_bound_to_it(control_plane, nodes_and_secrets):
    """The Node rules allow a node's pods/eviction, as upstream's node authorizer; NodeRestriction
    then holds it to pods whose spec.nodeName is the node (403 in upstream's words)."""
    ns = nodes_and_secrets
    context = ssl_context(control_plane.node_kubeconfig("sec-n1"), control_plane.ca_file)

    def evict(pod: str) -> tuple[int, dict]:
        body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": pod}}
        status, _, reply = request(control_plane.server, context, "POST",
                                   f"/api/v1/namespaces/{ns}/pods/{pod}/eviction", json.dumps(body).encode())
        return status, reply

    status, refused = evict("p2")
    assert (status, refused["reason"]) == (403, "Forbidden"), refused
    assert refused["message"] == (
        'pods "p2" is forbidden: node sec-n1 can only evict pods with spec.nodeName set to itself'
    )
    assert evict("gone")[0] == 404
    assert evict("p1")[0] == 201
    admin = ssl_context(control_plane.admin_kubeconfig, control_plane.ca_file)
    p1 = request(control_plane.server, admin, "GET", f"/api/v1/namespaces/{ns}/pods/p1")[2]
    assert p1["metadata"].get("deletionTimestamp")  # bound and Pending: deleted as the pod's grace says
