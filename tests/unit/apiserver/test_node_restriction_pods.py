"""NodeRestriction on pod creation: a node creates only mirror pods of its own, referencing
no other API object, refused in upstream's words and order."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kprov.cluster.apiserver.admission.node_restriction import MIRROR_ANNOTATION, mirror_pod_refusal

NODE, UID = "h1", "1111-2222"
SECRET_KEY = {"name": "s", "key": "k"}
BUNDLE = {"name": "b", "path": "p"}
OWNER = {"apiVersion": "v1", "kind": "Node", "name": NODE, "uid": UID, "controller": True}


def _mirror(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "kube-apiserver-h1", "namespace": "kube-system",
            "annotations": {MIRROR_ANNOTATION: "abc", "kubernetes.io/config.source": "file"},
            "ownerReferences": [OWNER],
        },
        "spec": {"nodeName": NODE, "containers": [{"name": "c", "image": "i"}], **spec},
    }


def _with(path: str, value: Any, **spec: Any) -> dict[str, Any]:
    """A mirror pod with the field at ``path`` (dotted; ``/`` inside a key) set, or removed (None)."""
    pod = copy.deepcopy(_mirror(**spec))
    *parents, last = path.split(".")
    target: Any = pod
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    if value is None:
        del target[last]
    else:
        target[last] = value
    return pod


def test_a_mirror_pod_of_its_own_is_allowed() -> None:
    assert mirror_pod_refusal(_mirror(hostNetwork=True), NODE, UID) is None


@pytest.mark.parametrize(("pod", "words"), [
    (_with("metadata.annotations", {"kubernetes.io/config.source": "file"}),
     'pod does not have "kubernetes.io/config.mirror" annotation, node "h1" can only create mirror pods'),
    (_with("spec.nodeName", "h2"), 'node "h1" can only create pods with spec.nodeName set to itself'),
    (_with("metadata.ownerReferences", []),
     'node "h1" can only create pods with an owner reference set to itself'),
    (_with("metadata.ownerReferences", [OWNER, OWNER]),
     'node "h1" can only create pods with a single owner reference set to itself'),
    (_with("metadata.ownerReferences.0.name", "h2"),
     'node "h1" can only create pods with an owner reference set to itself'),
    (_with("metadata.ownerReferences.0.kind", "Pod"),
     'node "h1" can only create pods with an owner reference set to itself'),
    (_with("metadata.ownerReferences.0.controller", None),
     'node "h1" can only create pods with a controller owner reference set to itself'),
    (_with("metadata.ownerReferences.0.blockOwnerDeletion", True),
     'node "h1" must not set blockOwnerDeletion on an owner reference'),
    (_with("metadata.ownerReferences.0.uid", "9999"), "node h1 UID mismatch: expected 9999 got 1111-2222"),
    (_mirror(serviceAccountName="default"), 'node "h1" can not create pods that reference a service account'),
    (_mirror(imagePullSecrets=[{"name": "s"}]), 'node "h1" can not create pods that reference secrets'),
    (_mirror(volumes=[{"name": "v", "secret": {"secretName": "s"}}]),
     'node "h1" can not create pods that reference secrets'),
    (_mirror(volumes=[{"name": "v", "projected": {"sources": [{"secret": {"name": "s"}}]}}]),
     'node "h1" can not create pods that reference secrets'),
    (_mirror(volumes=[{"name": "v", "rbd": {"image": "i", "monitors": ["m"], "secretRef": {"name": "s"}}}]),
     'node "h1" can not create pods that reference secrets'),
    (_mirror(containers=[{"name": "c", "env": [{"name": "E", "valueFrom": {"secretKeyRef": SECRET_KEY}}]}]),
     'node "h1" can not create pods that reference secrets'),
    (_mirror(initContainers=[{"name": "i", "envFrom": [{"configMapRef": {"name": "c"}}]}]),
     'node "h1" can not create pods that reference configmaps'),
    (_mirror(volumes=[{"name": "v", "configMap": {"name": "c"}}]),
     'node "h1" can not create pods that reference configmaps'),
    (_mirror(volumes=[{"name": "v", "projected": {"sources": [{"clusterTrustBundle": BUNDLE}]}}]),
     'node "h1" can not create pods that reference clustertrustbundles'),
    (_mirror(volumes=[{"name": "v", "persistentVolumeClaim": {"claimName": "c"}}]),
     'node "h1" can not create pods that reference persistentvolumeclaims'),
])
def test_what_is_refused(pod: dict[str, Any], words: str) -> None:
    assert mirror_pod_refusal(pod, NODE, UID) == words


def test_the_first_failing_check_in_upstreams_order_is_named() -> None:
    pod = _with("spec.nodeName", "h2", serviceAccountName="default")
    refusal = mirror_pod_refusal(pod, NODE, UID)
    assert refusal == 'node "h1" can only create pods with spec.nodeName set to itself'
