"""Services get ClusterIPs/NodePorts (unique, released on delete); pods/binding, pods/status,
pods/eviction and deployments/scale behave like the real server's."""

from __future__ import annotations

import ipaddress


def _json(obj) -> bytes:  # type: ignore[no-untyped-def]
    import json

    return json.dumps(obj).encode()


def _service(name: str, ip: str | None = None, kind: str = "ClusterIP") -> bytes:
    spec = {"type": kind, "selector": {"app": name}, "ports": [{"port": 80, "protocol": "TCP"}]}
    if ip:
        spec["clusterIP"] = ip
    return _json({"metadata": {"name": name}, "spec": spec})


def test_cluster_ip_and_node_port_allocation(admin, namespace):
    base = f"/api/v1/namespaces/{namespace}/services"
    status, _, svc = admin("POST", base, _service("a", kind="NodePort"))
    assert status == 201
    ip = svc["spec"]["clusterIP"]
    assert ipaddress.ip_address(ip) in ipaddress.ip_network("10.96.0.0/12") and ip != "10.96.0.1"
    assert 30000 <= svc["spec"]["ports"][0]["nodePort"] <= 32767
    status, _, dup = admin("POST", base, _service("b", ip=ip))
    assert status == 422 and "provided IP is already allocated" in dup["message"]
    assert admin("GET", f"{base}/b")[0] == 404  # nothing half-made
    assert admin("DELETE", f"{base}/a")[0] == 200
    status, _, again = admin("POST", base, _service("c", ip=ip))
    assert status == 201 and again["spec"]["clusterIP"] == ip
    status, _, outside = admin("POST", base, _service("d", ip="192.168.1.1"))
    assert status == 422 and "not in the valid range" in outside["message"]


def test_type_changes_allocate_and_release(admin, namespace):
    """ExternalName -> NodePort gets an IP and a node port; NodePort -> ClusterIP keeps the IP
    and frees the port; -> ExternalName frees the IP, which another Service can then take."""
    base = f"/api/v1/namespaces/{namespace}/services"
    external = {"metadata": {"name": "ext"}, "spec": {"type": "ExternalName", "externalName": "example.com"}}
    status, _, svc = admin("POST", base, _json(external))
    assert status == 201 and not svc["spec"].get("clusterIP")
    svc["spec"] = {"type": "NodePort", "selector": {"app": "ext"}, "ports": [{"port": 80, "protocol": "TCP"}]}
    status, _, svc = admin("PUT", f"{base}/ext", _json(svc))
    assert status == 200, svc
    ip, node_port = svc["spec"]["clusterIP"], svc["spec"]["ports"][0]["nodePort"]
    assert ipaddress.ip_address(ip) in ipaddress.ip_network("10.96.0.0/12")
    svc["spec"]["type"] = "ClusterIP"
    status, _, svc = admin("PUT", f"{base}/ext", _json(svc))
    assert status == 200 and svc["spec"]["clusterIP"] == ip and "nodePort" not in svc["spec"]["ports"][0]
    port_taker = _json({"metadata": {"name": "port"}, "spec": {
        "type": "NodePort", "ports": [{"port": 80, "protocol": "TCP", "nodePort": node_port}]}})
    assert admin("POST", base, port_taker)[0] == 201
    svc["spec"] = {"type": "ExternalName", "externalName": "example.org"}
    status, _, svc = admin("PUT", f"{base}/ext", _json(svc))
    assert status == 200 and not svc["spec"].get("clusterIP"), svc
    status, _, taker = admin("POST", base, _service("taker", ip=ip))
    assert status == 201 and taker["spec"]["clusterIP"] == ip


def test_binding_sets_node_once(admin, namespace):
    pods = f"/api/v1/namespaces/{namespace}/pods"
    admin(
        "POST",
        pods,
        _json({"metadata": {"name": "b1"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}),
    )
    binding = _json(
        {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": "b1"},
            "target": {"apiVersion": "v1", "kind": "Node", "name": "node-a"},
        }
    )
    assert admin("POST", f"{pods}/b1/binding", binding)[0] == 201
    pod = admin("GET", f"{pods}/b1")[2]
    assert pod["spec"]["nodeName"] == "node-a"
    assert any(c["type"] == "PodScheduled" and c["status"] == "True" for c in pod["status"]["conditions"])
    status, _, again = admin("POST", f"{pods}/b1/binding", binding)
    assert status == 409 and "already assigned" in again["message"]


def test_a_binding_is_checked_as_upstream_checks_it(admin, namespace):
    """The URL's name must be the Binding's (400); the target a Node with a name (422); dry runs
    and resourceVersion preconditions as upstream's."""
    pods = f"/api/v1/namespaces/{namespace}/pods"
    pod = {"metadata": {"name": "b3"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
    assert admin("POST", pods, _json(pod))[0] == 201
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "other"}, "target": {"name": "n"}}
    status, _, refused = admin("POST", f"{pods}/b3/binding", _json(binding))
    assert (status, refused["reason"]) == (400, "BadRequest")
    assert refused["message"] == "name in URL does not match name in Binding object"
    binding = {**binding, "metadata": {"name": "b3"}, "target": {"kind": "Service", "name": ""}}
    status, _, refused = admin("POST", f"{pods}/b3/binding", _json(binding))
    assert (status, refused["reason"]) == (422, "Invalid"), refused
    assert refused["message"] == (
        'Binding "b3" is invalid: [target.kind: Unsupported value: "Service": supported values: "Node", "", '
        "target.name: Required value]"
    )
    assert [c["field"] for c in refused["details"]["causes"]] == ["target.kind", "target.name"]
    assert "nodeName" not in admin("GET", f"{pods}/b3")[2]["spec"]
    # a dry run checks and writes nothing; a stale resourceVersion is the storage's precondition
    revision = admin("GET", f"{pods}/b3")[2]["metadata"]["resourceVersion"]
    binding = {**binding, "target": {"kind": "Node", "name": "node-a"}}
    assert admin("POST", f"{pods}/b3/binding?dryRun=All", _json(binding))[0] == 201
    assert "nodeName" not in admin("GET", f"{pods}/b3")[2]["spec"]
    stale = {**binding, "metadata": {"name": "b3", "resourceVersion": "1"}}
    status, _, refused = admin("POST", f"{pods}/b3/binding", _json(stale))
    assert (status, refused["reason"]) == (409, "Conflict"), refused
    assert refused["message"] == (
        'Operation cannot be fulfilled on pods "b3": Precondition failed: '
        f"ResourceVersion in precondition: 1, ResourceVersion in object meta: {revision}"
    )
    current = {**binding, "metadata": {"name": "b3", "resourceVersion": revision}}
    assert admin("POST", f"{pods}/b3/binding", _json(current))[0] == 201
    assert admin("GET", f"{pods}/b3")[2]["spec"]["nodeName"] == "node-a"


def test_binding_for_a_replaced_pod_is_refused(admin, namespace):
    """A Binding carries the uid of the pod the scheduler placed: a pod deleted and made
    again under the same name (another uid) is not bound by it."""
    pods = f"/api/v1/namespaces/{namespace}/pods"
    body = _json({"metadata": {"name": "b2"}, "spec": {"containers": [{"name": "c", "image": "x"}]}})
    old_uid = admin("POST", pods, body)[2]["metadata"]["uid"]
    admin("DELETE", f"{pods}/b2?gracePeriodSeconds=0")
    new_uid = admin("POST", pods, body)[2]["metadata"]["uid"]
    binding = {"apiVersion": "v1", "kind": "Binding", "target": {"kind": "Node", "name": "node-a"}}
    stale = _json({**binding, "metadata": {"name": "b2", "uid": old_uid}})
    status, _, refused = admin("POST", f"{pods}/b2/binding", stale)
    assert status == 409 and "Precondition failed" in refused["message"], refused
    assert "nodeName" not in admin("GET", f"{pods}/b2")[2]["spec"]
    current = _json({**binding, "metadata": {"name": "b2", "uid": new_uid}})
    assert admin("POST", f"{pods}/b2/binding", current)[0] == 201


def test_status_subresource_is_separate_from_spec(admin, namespace):
    pods = f"/api/v1/namespaces/{namespace}/pods"
    admin(
        "POST",
        pods,
        _json({"metadata": {"name": "s1"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}),
    )
    status, _, pod = admin(
        "PATCH",
        f"{pods}/s1/status",
        _json({"status": {"phase": "Running"}, "spec": {"nodeName": "sneaky"}}),
        content_type="application/merge-patch+json",
    )
    assert status == 200 and pod["status"]["phase"] == "Running" and "nodeName" not in pod["spec"]
    status, _, pod = admin(
        "PATCH",
        f"{pods}/s1",
        _json({"status": {"phase": "Failed"}}),
        content_type="application/merge-patch+json",
    )
    assert status == 200 and pod["status"]["phase"] == "Running"


def test_eviction_respects_grace_and_scale_subresource(admin, namespace):
    pods = f"/api/v1/namespaces/{namespace}/pods"
    admin(
        "POST",
        pods,
        _json(
            {
                "metadata": {"name": "e1"},
                "spec": {"nodeName": "node-a", "containers": [{"name": "c", "image": "x"}]},
            }
        ),
    )
    eviction = _json({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "e1"}})
    assert admin("POST", f"{pods}/e1/eviction", eviction)[0] == 201
    marked = admin("GET", f"{pods}/e1")[2]
    assert marked["metadata"]["deletionTimestamp"] and marked["metadata"]["deletionGracePeriodSeconds"] == 30
    assert (
        admin("DELETE", f"{pods}/e1", _json({"gracePeriodSeconds": 0}))[0] == 200
    )  # the kubelet's final delete
    assert admin("GET", f"{pods}/e1")[0] == 404
    deploys = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    template = {"metadata": {"labels": {"app": "s"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
    admin(
        "POST",
        deploys,
        _json(
            {
                "metadata": {"name": "sc"},
                "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "s"}}, "template": template},
            }
        ),
    )
    status, _, scale = admin("GET", f"{deploys}/sc/scale")
    assert status == 200 and scale["kind"] == "Scale" and scale["status"]["selector"] == "app=s"
    status, _, scale = admin(
        "PATCH",
        f"{deploys}/sc/scale",
        _json({"spec": {"replicas": 4}}),
        content_type="application/merge-patch+json",
    )
    assert status == 200 and scale["spec"]["replicas"] == 4
    assert admin("GET", f"{deploys}/sc")[2]["spec"]["replicas"] == 4


def test_namespace_deletion_waits_for_finalize(admin, kubectl):
    kubectl("create", "namespace", "doomed")
    pod = {"metadata": {"name": "late"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
    assert admin("POST", "/api/v1/namespaces/doomed/pods", _json(pod))[0] == 201
    kubectl("delete", "namespace", "doomed", "--wait=false")
    ns = admin("GET", "/api/v1/namespaces/doomed")[2]
    assert ns["status"]["phase"] == "Terminating" and ns["metadata"]["deletionTimestamp"]
    status, _, denied = admin(
        "POST", "/api/v1/namespaces/doomed/configmaps", _json({"metadata": {"name": "x"}})
    )
    terminating = {
        "reason": "NamespaceTerminating",
        "message": "namespace doomed is being terminated",
        "field": "metadata.namespace",
    }
    assert status == 403 and denied["reason"] == "Forbidden", denied
    assert denied["message"] == (
        'configmaps "x" is forbidden: unable to create new content in namespace doomed '
        "because it is being terminated"
    )
    assert denied["details"] == {"name": "x", "kind": "configmaps", "causes": [terminating]}
    # a pod left in it is not bound there either (the Binding names no namespace: the URL's)
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "late"}, "target": {"name": "n"}}
    status, _, denied = admin("POST", "/api/v1/namespaces/doomed/pods/late/binding", _json(binding))
    assert status == 403 and denied["details"] == {"name": "late", "kind": "pods", "causes": [terminating]}
    assert denied["message"].startswith('pods "late" is forbidden: unable to create new content')
    # nor evicted (kubectl drain reads the cause), as upstream's NamespaceLifecycle refuses it
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "late"}}
    status, _, denied = admin("POST", "/api/v1/namespaces/doomed/pods/late/eviction", _json(eviction))
    assert status == 403 and denied["details"] == {"name": "late", "kind": "pods", "causes": [terminating]}
    assert admin("GET", "/api/v1/namespaces/doomed/pods/late")[0] == 200
    ns["spec"]["finalizers"] = []  # what the namespace controller does once the namespace is empty
    assert admin("PUT", "/api/v1/namespaces/doomed/finalize", _json(ns))[0] == 200
    assert admin("GET", "/api/v1/namespaces/doomed")[0] == 404


def _running_pod(admin, pods: str, name: str, labels: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    body = {"metadata": {"name": name, "labels": labels},
            "spec": {"nodeName": "node-a", "containers": [{"name": "c", "image": "x"}]}}
    assert admin("POST", pods, _json(body))[0] == 201
    running = {"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}
    status, _, _ = admin("PATCH", f"{pods}/{name}/status", _json(running),
                         content_type="application/merge-patch+json")
    assert status == 200


def test_an_eviction_is_checked_as_upstream_checks_it(admin, namespace):
    """The URL's name against the Eviction's (400), dry runs that change nothing, a dry run
    asked two different ways (500), a budget not yet computed (429 with Retry-After and the
    DisruptionBudget cause) and a budget with an empty selector (matches nothing)."""
    pods = f"/api/v1/namespaces/{namespace}/pods"
    _running_pod(admin, pods, "guarded", {"app": "guarded"})

    def evict(name: str, body_name: str | None = None, query: str = "", **extra):  # type: ignore[no-untyped-def]
        eviction = {"apiVersion": "policy/v1", "kind": "Eviction",
                    "metadata": {"name": body_name or name}, **extra}
        return admin("POST", f"{pods}/{name}/eviction{query}", _json(eviction))

    untyped_body = b"apiVersion: policy/v1\nmetadata: na\n"  # (a truncated YAML's shape)
    status, _, untyped = admin("POST", f"{pods}/guarded/eviction", untyped_body,
                               content_type="application/yaml")
    assert (status, untyped["reason"]) == (400, "BadRequest"), untyped
    assert untyped["message"] == (
        'Eviction in version "v1" cannot be handled as a Eviction: json: cannot '
        "unmarshal string into Go struct field Eviction.metadata of type v1.ObjectMeta"
    )
    other_version = _json({"apiVersion": "v1", "kind": "Eviction", "metadata": {"name": "guarded"}})
    status, _, refused = admin("POST", f"{pods}/guarded/eviction", other_version)
    assert status == 400 and refused["message"] == (
        "the API version in the data (v1) does not match the expected API version (policy/v1)"
    )
    status, _, mismatch = evict("guarded", body_name="other")
    assert (status, mismatch["reason"]) == (400, "BadRequest")
    assert mismatch["message"] == "name in URL does not match name in Eviction object"
    status, _, both = evict("guarded", query="?dryRun=All", deleteOptions={"dryRun": ["None"]})
    assert status == 500 and "reason" not in both
    assert both["message"] == "Non-matching dry-run options in request and content: [All] and [None]"
    budgets = f"/apis/policy/v1/namespaces/{namespace}/poddisruptionbudgets"
    empty = {"metadata": {"name": "empty"}, "spec": {"minAvailable": 1, "selector": {}}}
    assert admin("POST", budgets, _json(empty))[0] == 201
    assert evict("guarded", query="?dryRun=All")[0] == 201  # the empty selector guards nothing
    assert "deletionTimestamp" not in admin("GET", f"{pods}/guarded")[2]["metadata"]
    selector = {"matchLabels": {"app": "guarded"}}
    guard = {"metadata": {"name": "guard"}, "spec": {"minAvailable": 1, "selector": selector}}
    assert admin("POST", budgets, _json(guard))[0] == 201
    status, headers, unprocessed = evict("guarded")  # no controller here: the budget has no status
    assert (status, unprocessed["reason"]) == (429, "TooManyRequests"), unprocessed
    assert unprocessed["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
    assert unprocessed["details"]["causes"] == [
        {"reason": "DisruptionBudget",
         "message": "The disruption budget guard is still being processed by the server."}
    ]
    assert unprocessed["details"]["retryAfterSeconds"] == 10 and headers["Retry-After"] == "10"
    live = admin("GET", f"{budgets}/guard")[2]
    live["status"] = {"observedGeneration": live["metadata"]["generation"], "disruptionsAllowed": 1,
                      "currentHealthy": 1, "desiredHealthy": 1, "expectedPods": 1}
    assert admin("PUT", f"{budgets}/guard/status", _json(live))[0] == 200
    assert evict("guarded", query="?dryRun=All")[0] == 201
    after_dry_run = admin("GET", f"{budgets}/guard")[2]["status"]
    assert after_dry_run["disruptionsAllowed"] == 1 and "disruptedPods" not in after_dry_run
    assert "deletionTimestamp" not in admin("GET", f"{pods}/guarded")[2]["metadata"]
    assert evict("guarded")[0] == 201
    taken = admin("GET", f"{budgets}/guard")[2]["status"]
    assert taken["disruptionsAllowed"] == 0 and set(taken["disruptedPods"]) == {"guarded"}
    assert [(c["type"], c["status"], c["reason"]) for c in taken["conditions"]] == [
        ("DisruptionAllowed", "False", "InsufficientPods")
    ]
    assert admin("GET", f"{pods}/guarded")[2]["metadata"]["deletionTimestamp"]

