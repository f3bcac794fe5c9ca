"""NodeRestriction for pod creation: a node creates only mirror pods of its own, and evicts
only pods bound to itself.

The node authorizer lets a kubelet (``system:node:<name>``) create pods at all so that it
can publish mirror pods (what kubeadm's static control-plane pods look like in
``kubectl get pods -n kube-system``). Upstream's NodeRestriction plugin then holds such a
pod to what a mirror pod is, and so does this: the ``kubernetes.io/config.mirror``
annotation, ``spec.nodeName`` the node itself, exactly one owner reference - its own Node
(``v1``, kind Node, its name and uid), marked controller and not blocking deletion - and no
reference to any other API object (a ServiceAccount, Secrets, ConfigMaps, claims), which a
node could otherwise use to read what it was never granted. A refusal is a 403 in
upstream's words; a node that does not exist is the 404 of its lookup.

:func:`mirror_pod_refusal` decides from the pod, the node's name and its uid (unit-tested
without a server); :func:`admit_pod_create` looks the Node up and raises.
:func:`admit_eviction` holds a node's ``pods/eviction`` create (which the Node rules allow,
as upstream's node authorizer does) to pods whose ``spec.nodeName`` is the node: the pod the
URL names is read, a missing one is its 404.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from kprov.cluster.apiserver.attributes import AdmissionAttributes
from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.request.status import ApiError, StatusError, refused

__all__ = ["MIRROR_ANNOTATION", "admit_eviction", "admit_pod_create", "mirror_pod_refusal"]

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
_SECRET_REF_SOURCES = ("cephfs", "flexVolume", "iscsi", "rbd", "scaleIO", "storageos")


def _containers(spec: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for field in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(field) or []:
            if isinstance(container, Mapping):
                yield container


def _env_refs(spec: Mapping[str, Any], key_ref: str, from_ref: str) -> bool:
    for container in _containers(spec):
        for env in container.get("env") or []:
            if isinstance(env, Mapping) and (env.get("valueFrom") or {}).get(key_ref):
                return True
        for source in container.get("envFrom") or []:
            if isinstance(source, Mapping) and source.get(from_ref):
                return True
    return False


def _volumes(spec: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for volume in spec.get("volumes") or []:
        if isinstance(volume, Mapping):
            yield volume


def _projected(volume: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for source in (volume.get("projected") or {}).get("sources") or []:
        if isinstance(source, Mapping):
            yield source


def _references_secrets(spec: Mapping[str, Any]) -> bool:
    if spec.get("imagePullSecrets"):
        return True
    for volume in _volumes(spec):
        if volume.get("secret") or (volume.get("azureFile") or {}).get("secretName"):
            return True
        if any((volume.get(kind) or {}).get("secretRef") for kind in _SECRET_REF_SOURCES):
            return True
        if (volume.get("csi") or {}).get("nodePublishSecretRef"):
            return True
        if any(source.get("secret") for source in _projected(volume)):
            return True
    return _env_refs(spec, "secretKeyRef", "secretRef")


def _references_configmaps(spec: Mapping[str, Any]) -> bool:
    for volume in _volumes(spec):
        if volume.get("configMap") or any(source.get("configMap") for source in _projected(volume)):
            return True
    return _env_refs(spec, "configMapKeyRef", "configMapRef")


def _identity_refusal(pod: Mapping[str, Any], node: str) -> str | None:
    """The checks before the node's uid is needed: a mirror pod, bound here, owned by it."""
    meta = pod.get("metadata") or {}
    if MIRROR_ANNOTATION not in (meta.get("annotations") or {}):
        return (f'pod does not have "{MIRROR_ANNOTATION}" annotation, '
                f'node "{node}" can only create mirror pods')
    if (pod.get("spec") or {}).get("nodeName") != node:
        return f'node "{node}" can only create pods with spec.nodeName set to itself'
    owners = [o for o in meta.get("ownerReferences") or [] if isinstance(o, Mapping)]
    if len(owners) > 1:
        return f'node "{node}" can only create pods with a single owner reference set to itself'
    if not owners:
        return f'node "{node}" can only create pods with an owner reference set to itself'
    owner = owners[0]
    if (owner.get("apiVersion"), owner.get("kind"), owner.get("name")) != ("v1", "Node", node):
        return f'node "{node}" can only create pods with an owner reference set to itself'
    if owner.get("controller") is not True:
        return f'node "{node}" can only create pods with a controller owner reference set to itself'
    if owner.get("blockOwnerDeletion") is True:
        return f'node "{node}" must not set blockOwnerDeletion on an owner reference'
    return None


def _reference_refusal(spec: Mapping[str, Any], node: str) -> str | None:
    """No other API object referenced: a ServiceAccount, Secrets, ConfigMaps, claims."""
    if spec.get("serviceAccountName"):
        return f'node "{node}" can not create pods that reference a service account'
    if _references_secrets(spec):
        return f'node "{node}" can not create pods that reference secrets'
    if _references_configmaps(spec):
        return f'node "{node}" can not create pods that reference configmaps'
    for volume in _volumes(spec):
        if any(source.get("clusterTrustBundle") for source in _projected(volume)):
            return f'node "{node}" can not create pods that reference clustertrustbundles'
    if any(volume.get("persistentVolumeClaim") for volume in _volumes(spec)):
        return f'node "{node}" can not create pods that reference persistentvolumeclaims'
    return None


def mirror_pod_refusal(pod: Mapping[str, Any], node: str, node_uid: str) -> str | None:
    """Why node ``node`` (whose Node has uid ``node_uid``) may not create ``pod``, or None;
    checked in upstream's order."""
    return _identity_refusal(pod, node) or _owned_refusal(pod, node, node_uid)


def _owned_refusal(pod: Mapping[str, Any], node: str, node_uid: str) -> str | None:
    """The checks after the identity checks passed: the owner is this very Node, and the pod
    references no other API object."""
    owner_uid = (pod.get("metadata") or {})["ownerReferences"][0].get("uid", "")
    if owner_uid != node_uid:
        return f"node {node} UID mismatch: expected {owner_uid} got {node_uid}"
    return _reference_refusal(pod.get("spec") or {}, node)


async def _node_uid(ctx: ApiContext, node: str) -> str:
    info = ctx.registry.get("", "v1", "nodes")
    assert info is not None
    key = ctx.key(info, "", node)
    found = await ctx.read_through(key)
    if found is None:
        raise StatusError(f'nodes "{node}" not found', 404, "NotFound", {"name": node, "kind": "nodes"})
    return str((found.get("metadata") or {}).get("uid", ""))


async def admit_pod_create(ctx: ApiContext, attrs: AdmissionAttributes) -> None:
    """Refuse a node's pod that is not a mirror pod of its own (403); others pass untouched."""
    node = attrs.node_name
    if not node or attrs.info.group != "" or attrs.info.resource != "pods" or attrs.subresource:
        return
    pod = attrs.obj or {}
    meta = pod.get("metadata") or {}
    refusal = _identity_refusal(pod, node)  # the node's lookup comes after these, as upstream's
    if refusal is None:
        refusal = _owned_refusal(pod, node, await _node_uid(ctx, node))
    if refusal is not None:
        raise _forbidden(str(meta.get("name") or ""), refusal)


async def admit_eviction(ctx: ApiContext, attrs: AdmissionAttributes) -> None:
    """Refuse a node's eviction of a pod not bound to it (403); others pass untouched."""
    node = attrs.node_name
    if not node or attrs.subresource != "eviction" or attrs.info.resource != "pods":
        return
    namespace, name = attrs.namespace_and_name
    if not name:
        name = str(((attrs.obj or {}).get("metadata") or {}).get("name") or "")
    if not name:
        raise _forbidden("Unknown", "could not determine pod from request data")
    pod = await ctx.read_through(ctx.key(attrs.info, namespace, name))
    if pod is None:
        raise StatusError(f'pods "{name}" not found', 404, "NotFound", {"name": name, "kind": "pods"})
    if (pod.get("spec") or {}).get("nodeName") != node:
        raise _forbidden(name, f"node {node} can only evict pods with spec.nodeName set to itself")


def _forbidden(name: str, why: str) -> ApiError:
    return refused("", "pods", name, why)
