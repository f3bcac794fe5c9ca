"""Resources a default v1.32 kube-apiserver serves that kprov lacked: v1 componentstatuses,
storage.k8s.io/v1 volumeattachments and v1 bindings, through stock kubectl."""

from __future__ import annotations

import json
from typing import Any

import yaml

_ATTACHMENT = """
apiVersion: storage.k8s.io/v1
kind: VolumeAttachment
metadata: {name: %s}
spec:
  attacher: csi.example.com
  nodeName: node-a
  source: {persistentVolumeName: pv-a}
status: {attached: true}
"""


def test_the_three_resources_are_discovered(kubectl: Any) -> None:
    core = kubectl("api-resources", "--api-group=", "-o", "wide").stdout.splitlines()
    rows = {line.split()[0]: line.split() for line in core[1:]}
    assert rows["bindings"][1:] == ["v1", "true", "Binding", "create"]
    assert rows["componentstatuses"][1:] == ["cs", "v1", "false", "ComponentStatus", "get,list"]
    storage = kubectl("api-resources", "--api-group=storage.k8s.io", "-o", "name").stdout.split()
    assert "volumeattachments.storage.k8s.io" in storage


def test_componentstatuses_list_etcd_members_scheduler_and_controller_manager(kubectl: Any) -> None:
    shown = kubectl("get", "componentstatuses")
    assert "Warning: v1 ComponentStatus is deprecated in v1.19+" in shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "MESSAGE", "ERROR"]
    names = [line.split()[0] for line in lines[1:]]
    assert names[0] == "controller-manager" and names[-1] == "scheduler"
    assert all(n.startswith("etcd-") for n in names[1:-1]) and len(names) >= 3
    etcd = json.loads(kubectl("get", "cs", "etcd-0", "-o", "json").stdout)
    assert etcd == {
        "kind": "ComponentStatus",
        "apiVersion": "v1",
        "metadata": {"name": "etcd-0", "creationTimestamp": None},
        "conditions": [{"type": "Healthy", "status": "True", "message": "ok"}],
    }
    scheduler = json.loads(kubectl("get", "cs", "scheduler", "-o", "json").stdout)["conditions"][0]
    assert scheduler["type"] == "Healthy" and scheduler["status"] in ("True", "False")
    if scheduler["status"] == "False":  # nothing on 10259 here: upstream's probe wording
        assert scheduler["message"].startswith('Get "https://127.0.0.1:10259/healthz": ')
    missing = kubectl("get", "cs", "nope", check=False)
    assert missing.returncode == 1 and "Component not found: nope" in missing.stderr
    assert kubectl("get", "cs", "-l", "a=b", "-o", "name").stdout == ""


def test_volumeattachments_crud_status_and_printer(kubectl: Any, control_plane: Any) -> None:
    kubectl("create", "-f", "-", input=_ATTACHMENT % "va-a")
    try:
        created = json.loads(kubectl("get", "volumeattachment", "va-a", "-o", "json").stdout)
        assert created["status"] == {"attached": False}  # upstream's create strategy clears it
        kubectl("patch", "volumeattachment", "va-a", "--subresource=status", "--type=merge",
                "-p", '{"status":{"attached":true}}')
        table = kubectl("get", "volumeattachments").stdout.splitlines()
        assert table[0].split() == ["NAME", "ATTACHER", "PV", "NODE", "ATTACHED", "AGE"]
        row = next(line.split() for line in table[1:] if line.startswith("va-a "))
        assert row[:5] == ["va-a", "csi.example.com", "pv-a", "node-a", "true"]
        move = '{"spec":{"nodeName":"b"}}'
        moved = kubectl("patch", "volumeattachment", "va-a", "--type=merge", "-p", move, check=False)
        assert moved.returncode == 1 and "spec: Invalid value" in moved.stderr
        assert "field is immutable" in moved.stderr
        own = kubectl("get", "volumeattachment", "va-a", kubeconfig=control_plane.node_kubeconfig("node-a"))
        assert own.stdout.splitlines()[1].startswith("va-a ")
        other = kubectl("get", "volumeattachment", "va-a", check=False,
                        kubeconfig=control_plane.node_kubeconfig("node-b"))
        assert other.returncode == 1 and "forbidden" in other.stderr
    finally:
        kubectl("delete", "volumeattachment", "va-a")


def test_a_volumeattachment_without_source_or_node_is_invalid(kubectl: Any) -> None:
    bad = yaml.safe_load(_ATTACHMENT % "va-bad")
    bad["spec"] = {"attacher": "csi.example.com", "nodeName": "", "source": {}}
    refused = kubectl("create", "-f", "-", input=yaml.safe_dump(bad), check=False)
    assert refused.returncode == 1
    assert 'The VolumeAttachment "va-bad" is invalid' in refused.stderr
    exactly_one = "must specify exactly one of inlineVolumeSpec and persistentVolumeName"
    assert f"spec.source: Required value: {exactly_one}" in refused.stderr
    assert 'spec.nodeName: Invalid value: ""' in refused.stderr


def test_bindings_answer_only_create(kubectl: Any, namespace: str) -> None:
    listed = kubectl("get", "--raw", f"/api/v1/namespaces/{namespace}/bindings", check=False)
    assert listed.returncode == 1
    assert "the server does not allow this method on the requested resource" in listed.stderr
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": namespace},
           "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]}}
    kubectl("create", "-f", "-", input=json.dumps(pod))
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p"},
               "target": {"apiVersion": "v1", "kind": "Node", "name": "node-a"}}
    bindings = f"/api/v1/namespaces/{namespace}/bindings"
    kubectl("create", "--raw", bindings, "-f", "-", input=json.dumps(binding))
    bound = kubectl("get", "pod", "p", "-n", namespace, "-o", "jsonpath={.spec.nodeName}").stdout
    assert bound == "node-a"
