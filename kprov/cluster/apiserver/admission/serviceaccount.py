"""ServiceAccount admission for new pods (upstream's ``ServiceAccount`` admission plugin).

- ``spec.serviceAccountName`` defaults to ``default`` (and the deprecated
  ``spec.serviceAccount`` follows it).
- Unless the pod (``spec.automountServiceAccountToken``) or else its ServiceAccount says
  ``false``, or a container already mounts something at the token path, the pod gets the
  projected volume ``kube-api-access-<5 random>`` - a ServiceAccount token (expirationSeconds
  3607, path ``token``), ``ca.crt`` from the ``kube-root-ca.crt`` ConfigMap and the namespace
  through the downward API - mounted read-only at /var/run/secrets/kubernetes.io/serviceaccount
  in every container and init container.
- Mirror pods (static pods the kubelet reports) are left alone.
- A pod whose ServiceAccount does not exist is refused as upstream refuses it: 403 Forbidden,
  ``pods "<name>" is forbidden: error looking up service account <ns>/<sa>: serviceaccount
  "<sa>" not found``. The watch cache may lag a just-created account by milliseconds, so a
  miss is asked of etcd; for ``default`` (which the controller manager makes right after the
  namespace) etcd is asked again after a random pause of 100 to 200 ms, as upstream does, but
  up to 25 times rather than 10: kprov's controller manager shares two loaded cores in CI and
  labs (the loads seen: docs/decisions/0009), where a client creating a pod right after its
  namespace would otherwise risk a 403 that a real cluster's faster controller avoids.
- The plugin can be switched off (``--disable-admission-plugins=ServiceAccount``, as upstream's
  flag): loopback test and benchmark servers run without a controller manager, so no
  namespace there ever gets its ``default`` account.
"""

from __future__ import annotations

import asyncio
import random
import secrets
from typing import Any

from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.request.status import StatusError, refused
from kprov.cluster.storage import object_key

__all__ = ["PLUGIN_NAME", "TOKEN_MOUNT_PATH", "admit_pod"]

PLUGIN_NAME = "ServiceAccount"  # its name in --disable-admission-plugins
_DEFAULT_ATTEMPTS = 25  # etcd lookups of a missing ``default`` account before refusing

TOKEN_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
_MIRROR = "kubernetes.io/config.mirror"
_SUFFIX_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # upstream's random-string alphabet (no vowels)
_TOKEN_EXPIRATION_S = 3607  # upstream's: an hour and seven seconds


def _suffix() -> str:
    return "".join(secrets.choice(_SUFFIX_CHARS) for _ in range(5))


def _volume(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "projected": {
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": _TOKEN_EXPIRATION_S, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {
                    "downwardAPI": {
                        "items": [
                            {
                                "path": "namespace",
                                "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                            }
                        ]
                    }
                },
            ],
        },
    }


def _containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        *(spec.get("initContainers") or []),
        *(spec.get("containers") or []),
        *(spec.get("ephemeralContainers") or []),
    ]


async def _account(ctx: ApiContext, namespace: str, name: str) -> dict[str, Any] | None:
    key = object_key("", "serviceaccounts", namespace, name)
    found = ctx.cache.get(key)
    if found is not None:
        return found
    attempts = _DEFAULT_ATTEMPTS if name == "default" else 1
    pause = random.uniform(0.1, 0.2)
    for attempt in range(attempts):
        if attempt:
            await asyncio.sleep(pause)
        stored = await ctx.store.get(key)
        if stored is not None:
            return stored.obj
    return None


def _forbidden(pod: dict[str, Any], message: str) -> StatusError:
    meta = pod.get("metadata") or {}
    name = meta.get("name") or meta.get("generateName") or "Unknown"
    return refused("", "pods", name, message)


async def admit_pod(ctx: ApiContext, pod: dict[str, Any]) -> None:
    meta = pod.get("metadata") or {}
    if _MIRROR in (meta.get("annotations") or {}):
        return
    spec = pod.setdefault("spec", {})
    name = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    spec["serviceAccountName"] = name
    spec["serviceAccount"] = name
    namespace = meta.get("namespace", "")
    account = await _account(ctx, namespace, name)
    if account is None:
        raise _forbidden(
            pod, f'error looking up service account {namespace}/{name}: serviceaccount "{name}" not found'
        )
    automount = spec.get("automountServiceAccountToken")
    if automount is None:
        automount = account.get("automountServiceAccountToken")
    if automount is False:
        return
    containers = _containers(spec)
    for container in containers:
        for mount in container.get("volumeMounts") or []:
            if mount.get("mountPath", "").rstrip("/") == TOKEN_MOUNT_PATH:
                return
    taken = {v.get("name") for v in spec.get("volumes") or []}
    volume_name = f"kube-api-access-{_suffix()}"
    while volume_name in taken:
        volume_name = f"kube-api-access-{_suffix()}"
    spec["volumes"] = [*(spec.get("volumes") or []), _volume(volume_name)]
    for container in containers:
        container["volumeMounts"] = [
            *(container.get("volumeMounts") or []),
            {"name": volume_name, "readOnly": True, "mountPath": TOKEN_MOUNT_PATH},
        ]
