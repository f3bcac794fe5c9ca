"""AdmissionAttributes: the one value admission plugins get, with the requester explicit."""

from __future__ import annotations

from kprov.cluster.api.resources import REGISTRY
from kprov.cluster.apiserver.attributes import AdmissionAttributes
from kprov.cluster.apiserver.identity import UserInfo

PODS = REGISTRY.get("", "v1", "pods")
NODES = REGISTRY.get("", "v1", "nodes")
POD = {"metadata": {"name": "web", "namespace": "team-a"}}


def test_namespace_and_name_come_from_the_object_then_the_old_one_then_the_target() -> None:
    assert PODS is not None and NODES is not None
    assert AdmissionAttributes(PODS, "CREATE", POD, None, None).namespace_and_name == ("team-a", "web")
    assert AdmissionAttributes(PODS, "DELETE", None, POD, None).namespace_and_name == ("team-a", "web")
    options = {"kind": "PodExecOptions"}
    connect = AdmissionAttributes(PODS, "CONNECT", options, None, None, "exec", target=("n", "p"))
    assert connect.namespace_and_name == ("n", "p")
    node = {"metadata": {"name": "h1", "namespace": "ignored"}}
    assert AdmissionAttributes(NODES, "CREATE", node, None, None).namespace_and_name == ("", "h1")


def test_the_requester_is_explicit_and_only_a_node_in_system_nodes_is_a_node() -> None:
    assert PODS is not None
    kubelet = UserInfo("system:node:h1", ("system:nodes", "system:authenticated"))
    impostor = UserInfo("system:node:h1", ("system:authenticated",))
    attrs = AdmissionAttributes(PODS, "UPDATE", POD, POD, kubelet, "status")
    assert attrs.node_name == "h1"
    assert attrs.user_info == {"username": kubelet.name, "groups": list(kubelet.groups)}
    assert AdmissionAttributes(PODS, "UPDATE", POD, POD, impostor).node_name == ""
    server_itself = AdmissionAttributes(PODS, "CREATE", POD, None, None)
    assert server_itself.node_name == "" and server_itself.user_info == {}
    assert server_itself.with_object({"metadata": {"name": "other"}}).namespace_and_name == ("", "other")
