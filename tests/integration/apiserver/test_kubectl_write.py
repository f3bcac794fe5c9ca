"""Stock kubectl writing through our API server: create (protobuf), apply (client- and
server-side), scale, label, annotate, the three patch types, replace, diff, edit, delete,
and get -w seeing later changes exactly once."""

from __future__ import annotations

import json
import stat
import subprocess
import threading
import time
from pathlib import Path

DEPLOY = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: %(name)s, namespace: %(ns)s}
spec:
  replicas: %(replicas)d
  selector: {matchLabels: {app: %(name)s}}
  template:
    metadata: {labels: {app: %(name)s}}
    spec:
      containers:
      - name: c
        image: nginx:1.27
        env: [{name: A, value: "%(env)s"}]
"""


def _get(kubectl, *args: str) -> dict:
    return json.loads(kubectl("get", *args, "-o", "json").stdout)


def test_create_typed_objects_go_through_protobuf(kubectl, namespace):
    kubectl("create", "configmap", "cm1", "-n", namespace, "--from-literal=a=b")
    kubectl("create", "secret", "generic", "s1", "-n", namespace, "--from-literal=p=secret")
    kubectl("create", "deployment", "d0", "-n", namespace, "--image=nginx", "--replicas=0")
    assert _get(kubectl, "cm", "cm1", "-n", namespace)["data"] == {"a": "b"}
    assert _get(kubectl, "secret", "s1", "-n", namespace)["data"] == {"p": "c2VjcmV0"}
    deploy = _get(kubectl, "deploy", "d0", "-n", namespace)
    assert deploy["spec"]["replicas"] == 0 and deploy["spec"]["strategy"]["type"] == "RollingUpdate"


def test_apply_create_then_update_bumps_generation(kubectl, namespace):
    out = kubectl(
        "apply", "-f", "-", input=DEPLOY % {"name": "a1", "ns": namespace, "replicas": 1, "env": "1"}
    )
    assert "deployment.apps/a1 created" in out.stdout
    first = _get(kubectl, "deploy", "a1", "-n", namespace)
    out = kubectl(
        "apply", "-f", "-", input=DEPLOY % {"name": "a1", "ns": namespace, "replicas": 3, "env": "2"}
    )
    assert "deployment.apps/a1 configured" in out.stdout
    second = _get(kubectl, "deploy", "a1", "-n", namespace)
    assert second["spec"]["replicas"] == 3
    assert second["spec"]["template"]["spec"]["containers"][0]["env"] == [{"name": "A", "value": "2"}]
    assert second["metadata"]["generation"] == first["metadata"]["generation"] + 1
    again = kubectl(
        "apply", "-f", "-", input=DEPLOY % {"name": "a1", "ns": namespace, "replicas": 3, "env": "2"}
    )
    assert "unchanged" in again.stdout
    assert (
        _get(kubectl, "deploy", "a1", "-n", namespace)["metadata"]["resourceVersion"]
        == second["metadata"]["resourceVersion"]
    )


def test_apply_server_side_creates_and_updates(kubectl, namespace):
    manifest = DEPLOY % {"name": "ssa", "ns": namespace, "replicas": 1, "env": "x"}
    assert "serverside-applied" in kubectl("apply", "--server-side", "-f", "-", input=manifest).stdout
    kubectl("apply", "--server-side", "-f", "-", input=manifest.replace("replicas: 1", "replicas: 2"))
    live = json.loads(
        kubectl("get", "deploy", "ssa", "-n", namespace, "-o", "json", "--show-managed-fields").stdout
    )
    assert live["spec"]["replicas"] == 2
    assert any(
        m["manager"] == "kubectl" and m["operation"] == "Apply" for m in live["metadata"]["managedFields"]
    )


def test_scale_label_annotate_and_patches(kubectl, namespace):
    kubectl("create", "deployment", "p1", "-n", namespace, "--image=nginx")
    assert "scaled" in kubectl("scale", "deploy", "p1", "-n", namespace, "--replicas=3").stdout
    assert _get(kubectl, "deploy", "p1", "-n", namespace)["spec"]["replicas"] == 3
    kubectl("label", "deploy", "p1", "-n", namespace, "tier=web")
    kubectl("annotate", "deploy", "p1", "-n", namespace, "note=hello")
    kubectl(
        "patch",
        "deploy",
        "p1",
        "-n",
        namespace,
        "-p",
        '{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.28"}]}}}}',
    )
    kubectl(
        "patch", "deploy", "p1", "-n", namespace, "--type", "merge", "-p", '{"spec":{"minReadySeconds":5}}'
    )
    kubectl(
        "patch",
        "deploy",
        "p1",
        "-n",
        namespace,
        "--type",
        "json",
        "-p",
        '[{"op":"replace","path":"/spec/replicas","value":2}]',
    )
    live = _get(kubectl, "deploy", "p1", "-n", namespace)
    assert live["metadata"]["labels"]["tier"] == "web" and live["metadata"]["annotations"]["note"] == "hello"
    containers = live["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1 and containers[0]["image"] == "nginx:1.28"
    assert live["spec"]["minReadySeconds"] == 5 and live["spec"]["replicas"] == 2
    same = kubectl(
        "patch", "deploy", "p1", "-n", namespace, "--type", "merge", "-p", '{"spec":{"replicas":2}}'
    )
    assert "(no change)" in same.stdout
    assert (
        _get(kubectl, "deploy", "p1", "-n", namespace)["metadata"]["resourceVersion"]
        == live["metadata"]["resourceVersion"]
    )


def test_replace_and_stale_replace_conflicts(kubectl, namespace, tmp_path: Path):
    kubectl("create", "configmap", "r1", "-n", namespace, "--from-literal=a=1")
    live = _get(kubectl, "cm", "r1", "-n", namespace)
    live["data"]["a"] = "2"
    path = tmp_path / "cm.json"
    path.write_text(json.dumps(live))
    assert "replaced" in kubectl("replace", "-f", str(path)).stdout
    assert _get(kubectl, "cm", "r1", "-n", namespace)["data"]["a"] == "2"
    stale = kubectl("replace", "-f", str(path), check=False)  # the same resourceVersion again
    assert stale.returncode != 0 and "Error from server (Conflict)" in stale.stderr
    assert "the object has been modified" in stale.stderr


def test_a_patch_that_names_a_stale_resource_version_conflicts(kubectl, namespace):
    """A resourceVersion in a patch is a precondition (controllers rely on it to not
    overwrite what changed since they read)."""
    kubectl("create", "configmap", "p2", "-n", namespace, "--from-literal=a=1")
    read = _get(kubectl, "cm", "p2", "-n", namespace)["metadata"]["resourceVersion"]
    kubectl("patch", "cm", "p2", "-n", namespace, "--type=merge", "-p", '{"data": {"a": "2"}}')
    stale_patch = json.dumps({"metadata": {"resourceVersion": read}, "data": {"a": "3"}})
    stale = kubectl("patch", "cm", "p2", "-n", namespace, "--type=merge", "-p", stale_patch, check=False)
    assert stale.returncode != 0 and "Error from server (Conflict)" in stale.stderr, stale.stderr
    assert 'Operation cannot be fulfilled on configmaps "p2": the object has been modified' in stale.stderr
    assert _get(kubectl, "cm", "p2", "-n", namespace)["data"]["a"] == "2"
    current = _get(kubectl, "cm", "p2", "-n", namespace)["metadata"]["resourceVersion"]
    kubectl("patch", "cm", "p2", "-n", namespace, "--type=merge",
            "-p", json.dumps({"metadata": {"resourceVersion": current}, "data": {"a": "4"}}))
    assert _get(kubectl, "cm", "p2", "-n", namespace)["data"]["a"] == "4"


def test_diff_uses_dry_run_and_writes_nothing(kubectl, namespace):
    kubectl("apply", "-f", "-", input=DEPLOY % {"name": "df", "ns": namespace, "replicas": 1, "env": "1"})
    before = _get(kubectl, "deploy", "df", "-n", namespace)
    result = kubectl(
        "diff",
        "-f",
        "-",
        input=DEPLOY % {"name": "df", "ns": namespace, "replicas": 4, "env": "1"},
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "-  replicas: 1" in result.stdout and "+  replicas: 4" in result.stdout
    after = _get(kubectl, "deploy", "df", "-n", namespace)
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def test_edit_with_editor_script(kubectl, namespace, tmp_path: Path):
    kubectl("create", "deployment", "ed", "-n", namespace, "--image=nginx", "--replicas=1")
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/replicas: 1/replicas: 4/' \"$1\"\n")
    editor.chmod(editor.stat().st_mode | stat.S_IEXEC)
    out = kubectl(
        "edit", "deploy", "ed", "-n", namespace, env={"EDITOR": str(editor), "KUBE_EDITOR": str(editor)}
    )
    assert "edited" in out.stdout
    assert _get(kubectl, "deploy", "ed", "-n", namespace)["spec"]["replicas"] == 4


def test_delete_waits_until_gone(kubectl, namespace):
    kubectl("create", "configmap", "gone", "-n", namespace, "--from-literal=a=1")
    kubectl("run", "pod-gone", "-n", namespace, "--image=busybox", "--restart=Never")
    assert 'configmap "gone" deleted' in kubectl("delete", "cm", "gone", "-n", namespace).stdout
    kubectl("delete", "pod", "pod-gone", "-n", namespace, timeout=30)
    missing = kubectl("get", "cm", "gone", "-n", namespace, check=False)
    assert (
        missing.returncode == 1
        and 'Error from server (NotFound): configmaps "gone" not found' in missing.stderr
    )


def _wait_for(lines: list[str], predicate, timeout: float = 20) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate("".join(lines)) and time.monotonic() < deadline:
        time.sleep(0.05)


def test_get_watch_prints_later_changes_once(kubectl, control_plane, namespace, tmp_path: Path):
    kubectl("create", "configmap", "before", "-n", namespace, "--from-literal=a=1")
    argv = [
        "/usr/bin/kubectl",
        "--kubeconfig",
        str(control_plane.admin_kubeconfig),
        "--cache-dir",
        str(tmp_path / "watch-cache"),
        "get",
        "cm",
        "-n",
        namespace,
        "-w",
        "--output-watch-events",
    ]
    lines: list[str] = []
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as watcher:
        reader = threading.Thread(target=lambda: lines.extend(iter(watcher.stdout.readline, "")), daemon=True)
        reader.start()
        try:
            _wait_for(lines, lambda text: "before" in text)
            kubectl("create", "configmap", "later", "-n", namespace, "--from-literal=a=1")
            kubectl("label", "cm", "later", "-n", namespace, "x=y")
            kubectl("delete", "cm", "later", "-n", namespace)
            _wait_for(lines, lambda text: text.count("later") >= 3)
            time.sleep(0.5)
        finally:
            watcher.terminate()
    seen = "".join(lines)
    rows = [line.split() for line in seen.splitlines() if "later" in line]
    assert [r[0] for r in rows] == ["ADDED", "MODIFIED", "DELETED"], seen
    assert sum(1 for line in seen.splitlines() if "before" in line.split()) == 1, seen


def test_errors_print_like_a_real_server(kubectl, namespace):
    kubectl("create", "configmap", "dup", "-n", namespace)
    dup = kubectl("create", "configmap", "dup", "-n", namespace, check=False)
    assert dup.returncode == 1 and 'configmaps "dup" already exists' in dup.stderr
    again = kubectl(
        "apply",
        "-f",
        "-",
        check=False,
        input=json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "bad", "namespace": namespace},
                "spec": {"containers": [{"name": "c"}]},
            }
        ),
    )
    assert again.returncode == 1 and 'The Pod "bad" is invalid' in again.stderr
    assert "spec.containers[0].image: Required value" in again.stderr
    created = kubectl(
        "create",
        "-f",
        "-",
        check=False,
        input=json.dumps(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dup", "namespace": namespace}}
        ),
    )
    assert (
        'Error from server (AlreadyExists): error when creating "STDIN": configmaps "dup" already exists'
        in created.stderr
    )
    missing_ns = kubectl("create", "configmap", "x", "-n", "no-such-namespace", check=False)
    assert 'namespaces "no-such-namespace" not found' in missing_ns.stderr


LIST = """
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: listed-cm, namespace: %(ns)s}
  %(data)s: {a: b}
- apiVersion: v1
  kind: Secret
  metadata: {name: listed-secret, namespace: %(ns)s}
  stringData: {p: secret}
"""


def test_create_and_apply_a_list_validated_through_the_v2_protobuf_document(kubectl, namespace):
    # kubectl validates a List's items itself, against /openapi/v2 as gnostic protobuf
    created = kubectl("create", "-f", "-", input=LIST % {"ns": namespace, "data": "data"})
    assert "configmap/listed-cm created" in created.stdout
    assert "secret/listed-secret created" in created.stdout
    applied = kubectl("apply", "-f", "-", input=LIST % {"ns": namespace, "data": "data"})
    assert "configmap/listed-cm" in applied.stdout, applied.stdout
    assert _get(kubectl, "cm", "listed-cm", "-n", namespace)["data"] == {"a": "b"}

    typo = kubectl("create", "-f", "-", input=LIST % {"ns": namespace, "data": "dat"}, check=False)
    assert typo.returncode != 0
    assert 'unknown field "dat" in io.k8s.api.core.v1.ConfigMap' in typo.stderr, typo.stderr
