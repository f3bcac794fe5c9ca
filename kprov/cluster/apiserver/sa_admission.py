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
A deviation, stated: upstream refuses a pod whose ServiceAccount does not exist (403, the
client retries until the controller manager made ``default``); here such a pod is admitted
without the token volume, so setups without a controller manager (no accounts, no
``kube-root-ca.crt``) still run pods. Clients wanting a token in a brand-new namespace wait
for its ``default`` account, as upstream's own e2e framework does.
"""

from __future__ import annotations

import secrets
from typing import Any

from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.storage import object_key

__all__ = ["TOKEN_MOUNT_PATH", "admit_pod"]

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


def admit_pod(ctx: ApiContext, pod: dict[str, Any]) -> None:
    meta = pod.get("metadata") or {}
    if _MIRROR in (meta.get("annotations") or {}):
        return
    spec = pod.setdefault("spec", {})
    name = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    spec["serviceAccountName"] = name
    spec["serviceAccount"] = name
    account = ctx.cache.get(object_key("", "serviceaccounts", meta.get("namespace", ""), name))
    if account is None:
        return
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
