"""The etcd key layout: ``/registry/<group>/<resource>/<namespace>/<name>``.

The core group has no group segment (``/registry/pods/default/web``); cluster-scoped objects
have no namespace segment (``/registry/nodes/n1``). A *resource prefix* is the key prefix
holding every object of one resource (``/registry/apps/deployments/``); the watch cache
groups objects by it.
"""

from __future__ import annotations

__all__ = ["REGISTRY_PREFIX", "object_key", "resource_prefix", "scope_prefix"]

REGISTRY_PREFIX = "/registry/"


def resource_prefix(group: str, resource: str) -> str:
    """The key prefix of every object of one resource."""
    return f"{REGISTRY_PREFIX}{group}/{resource}/" if group else f"{REGISTRY_PREFIX}{resource}/"


def scope_prefix(group: str, resource: str, namespace: str = "") -> str:
    """The key prefix of one namespace's objects (or every object when namespace is empty)."""
    base = resource_prefix(group, resource)
    return f"{base}{namespace}/" if namespace else base


def object_key(group: str, resource: str, namespace: str, name: str) -> str:
    """The key of one object; ``namespace`` is empty for cluster-scoped resources."""
    return f"{scope_prefix(group, resource, namespace)}{name}"
