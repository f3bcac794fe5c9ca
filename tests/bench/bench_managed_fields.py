"""What recording field managers costs the API server per write, in process.

Every create, update and patch records its manager in metadata.managedFields (the
``?fieldManager=`` or the User-Agent's product, as kube-apiserver), so this is paid on every
kubelet status write and controller update. Prints:
  managed_fields_create_us        a Deployment-made pod's create (every field is the manager's; its
                                  template's spec is one the server has walked before)
  managed_fields_create_new_spec_us  the same with a spec never seen (a memo miss)
  managed_fields_status_write_us  the kubelet's status write that makes that pod Running
  managed_fields_spec_update_us   a label and an image changed on the running pod
  managed_fields_walk_speedup_ratio  the status write and the update through a path-set
                                  comparison of both objects (the method before the walk) ÷
                                  through changed_paths' walk, side by side in one run
Run: .venv/bin/python tests/bench/bench_managed_fields.py
"""

from __future__ import annotations

import copy
import timeit
from typing import Any

from kprov.cluster.api.patch import managed_fields as mf
from kprov.cluster.api.resources import TABLE

PODS = next(i for i in TABLE if i.group == "" and i.resource == "pods")
NOW = "2026-01-01T00:00:00Z"


def _pod() -> dict[str, Any]:
    container = {
        "name": "web", "image": "nginx:1.25", "imagePullPolicy": "IfNotPresent",
        "ports": [{"containerPort": 80, "protocol": "TCP"}],
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
        "volumeMounts": [{"name": "kube-api-access", "readOnly": True,
                          "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}],
    }
    projected = {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
    ]}
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web-1", "namespace": "d", "uid": "u", "resourceVersion": "5",
                     "labels": {"app": "web", "pod-template-hash": "5d8f"},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d8f",
                                          "uid": "u2", "controller": True, "blockOwnerDeletion": True}]},
        "spec": {
            "containers": [container], "restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst", "serviceAccountName": "default", "nodeName": "h2",
            "schedulerName": "default-scheduler", "enableServiceLinks": True, "priority": 0,
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                             "effect": "NoExecute", "tolerationSeconds": 300}],
            "volumes": [{"name": "kube-api-access", "projected": projected}],
        },
        "status": {"phase": "Pending", "qosClass": "Burstable",
                   "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": NOW}]},
    }


def _running(created: dict[str, Any]) -> dict[str, Any]:
    running = copy.deepcopy(created)
    running["status"] = {
        "phase": "Running", "qosClass": "Burstable", "hostIP": "10.0.0.2", "podIP": "10.244.1.5",
        "podIPs": [{"ip": "10.244.1.5"}], "startTime": NOW,
        "conditions": [{"type": t, "status": "True", "lastTransitionTime": NOW}
                       for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")],
        "containerStatuses": [{"name": "web", "ready": True, "restartCount": 0, "started": True,
                               "image": "nginx:1.25", "imageID": "sha256:x", "containerID": "containerd://y",
                               "state": {"running": {"startedAt": NOW}}, "lastState": {}}],
    }
    return running


def _path_sets(old: dict[str, Any], new: dict[str, Any], subresource: str) -> tuple[set[Any], set[Any]]:
    new_paths = mf.object_paths(PODS, new, subresource=subresource)
    old_paths = mf.object_paths(PODS, old, subresource=subresource)
    changed = {p for p in new_paths if p not in old_paths or mf.value_at(old, p) != mf.value_at(new, p)}
    return changed, old_paths - new_paths


def _best_us(action: Any, number: int = 2000) -> float:
    return min(timeit.repeat(action, number=number, repeat=5)) / number * 1e6


def main() -> None:
    created = _pod()
    mf.record_update(PODS, None, created, "kube-controller-manager", now=NOW)
    running = _running(created)
    updated = copy.deepcopy(running)
    updated["metadata"]["labels"]["tier"] = "front"
    updated["spec"]["containers"][0]["image"] = "nginx:1.26"

    def create() -> None:
        mf.record_update(PODS, None, copy.deepcopy(_pod()), "kube-controller-manager", now=NOW)

    def copies() -> None:
        copy.deepcopy(_pod())

    serial = iter(range(10**9))

    def new_spec() -> dict[str, Any]:
        pod = _pod()
        pod["spec"]["containers"][0]["env"] = [{"name": "N", "value": str(next(serial))}]
        return pod

    def create_new_spec() -> None:
        mf.record_update(PODS, None, new_spec(), "kube-controller-manager", now=NOW)

    def new_spec_copies() -> None:
        copy.deepcopy(new_spec())

    def status_write() -> None:
        mf.record_update(PODS, created, copy.deepcopy(running), "kubelet", now=NOW, subresource="status")

    def spec_update() -> None:
        mf.record_update(PODS, running, copy.deepcopy(updated), "kubectl-edit", now=NOW)

    def copy_running() -> None:
        copy.deepcopy(running)

    print(f"managed_fields_create_us = {_best_us(create) - _best_us(copies):.1f}")
    print(f"managed_fields_create_new_spec_us = {_best_us(create_new_spec) - _best_us(new_spec_copies):.1f}")
    print(f"managed_fields_status_write_us = {_best_us(status_write) - _best_us(copy_running):.1f}")
    print(f"managed_fields_spec_update_us = {_best_us(spec_update) - _best_us(copy_running):.1f}")
    sets = _best_us(lambda: (_path_sets(created, running, "status"), _path_sets(running, updated, "")))
    walk = _best_us(lambda: (mf.changed_paths(PODS, created, running, subresource="status"),
                             mf.changed_paths(PODS, running, updated)))
    print(f"managed_fields_walk_speedup_ratio = {sets / walk:.2f}")


if __name__ == "__main__":
    main()
