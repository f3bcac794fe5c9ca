"""The CRI labels and annotations the kubelet puts on sandboxes and containers.

They are how a restarted kubelet finds (adopts) what it started before: sandboxes by pod
uid, containers by pod uid + container name, with the CRI ``attempt`` as the restart
count. Names follow the real kubelet so tools like crictl show familiar columns.
"""

from __future__ import annotations

__all__ = [
    "CONTAINER_KIND",
    "CONTAINER_NAME",
    "KIND_APP",
    "KIND_EPHEMERAL",
    "KIND_INIT",
    "MANAGED_BY",
    "MANAGED_BY_VALUE",
    "POD_NAME",
    "POD_NAMESPACE",
    "POD_UID",
    "TERMINATION_GRACE",
]

POD_NAME = "io.kubernetes.pod.name"
POD_NAMESPACE = "io.kubernetes.pod.namespace"
POD_UID = "io.kubernetes.pod.uid"
CONTAINER_NAME = "io.kubernetes.container.name"
CONTAINER_KIND = "kprov.io/container-kind"
KIND_INIT = "init"
KIND_APP = "app"
KIND_EPHEMERAL = "ephemeral"
MANAGED_BY = "kprov.io/managed-by"
MANAGED_BY_VALUE = "kprov-kubelet"
TERMINATION_GRACE = "io.kubernetes.pod.terminationGracePeriod"
