"""One write as admission sees it: upstream's ``admission.Attributes``, as one value, and
the stages of a write at which the handlers admit it.

Design: the handlers build an :class:`AdmissionAttributes` once per write (or CONNECT) and
pass it, with the API server's context, to every plugin that needs more than the object:
Pod Security, ValidatingAdmissionPolicy, the admission webhooks and the built-in checks
(NodeRestriction, RBAC escalation, a CSR's requester). The requesting user travels in it
explicitly; ``user`` None means the API server itself (bootstrap, its own reconcilers).
Mutation produces a new object, so :meth:`with_object` returns a new value.

Both live below the API server's context (which names the admission chain's interface by
them) and the admission plugins (:mod:`.admission`), as upstream's admission package
holds the attributes apart from its plugins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

from kprov.cluster.api.resources import ResourceInfo
from kprov.cluster.apiserver.identity import UserInfo, user_info

__all__ = ["AdmissionAttributes", "Stage", "object_kind"]


class Stage(Enum):
    """Where a write stops for admission (:mod:`.admission.chain` says what runs at each)."""

    MUTATE = "admit"
    VALIDATE = "validate"
    STORE = "store"

    # The chain finds a write's plan by its stage on every admission: identity hashing (the
    # members are singletons, equal only to themselves) instead of Enum's, a Python call
    # hashing the name
    __hash__ = object.__hash__

    @property
    def metric_type(self) -> str:
        """Upstream's ``type`` label: the store stage's plugins are mostly mutating."""
        return "validate" if self is Stage.VALIDATE else "admit"


@dataclass(frozen=True)
class AdmissionAttributes:
    info: ResourceInfo
    operation: str  # CREATE, UPDATE, DELETE or CONNECT
    obj: Any  # the new object (a CONNECT's options object); None for DELETE
    old: Mapping[str, Any] | None  # the stored object, for UPDATE and DELETE
    user: UserInfo | None
    subresource: str = ""
    dry_run: bool = False
    # the (namespace, name) the request's URL names: a CONNECT's (its options name none), a
    # Binding's (which may leave its namespace out)
    target: tuple[str, str] | None = None

    def with_object(self, obj: Any) -> AdmissionAttributes:
        return replace(self, obj=obj)

    @property
    def namespace_and_name(self) -> tuple[str, str]:
        if self.target is not None:
            return self.target
        meta = (self.obj or self.old or {}).get("metadata") or {}
        namespace = str(meta.get("namespace", "")) if self.info.namespaced else ""
        return namespace, str(meta.get("name", ""))

    @property
    def subresource_object(self) -> bool:
        """The object is the subresource's own kind, not the resource's: a CONNECT's options
        (PodAttachOptions, ...) or a created subresource's (a pod's Binding)."""
        return self.operation == "CONNECT" or (self.operation == "CREATE" and bool(self.subresource))

    @property
    def kind(self) -> tuple[str, str, str]:
        """The admitted object's group, version and kind (:func:`object_kind`)."""
        if not self.subresource_object:
            info = self.info
            return info.group, info.version, info.kind
        return object_kind(self.info, self.obj)

    @property
    def user_info(self) -> dict[str, Any]:
        """The requester as an AdmissionReview/CEL ``request.userInfo`` shows it ({} for none)."""
        return user_info(self.user) if self.user is not None else {}

    @property
    def node_name(self) -> str:
        """The node's name when a node (``system:node:<name>`` in ``system:nodes``) asks."""
        user = self.user
        if user is None or not user.name.startswith("system:node:") or "system:nodes" not in user.groups:
            return ""
        return user.name[len("system:node:") :]


def object_kind(info: ResourceInfo, obj: Any) -> tuple[str, str, str]:
    """A subresource's own object's group, version and kind, as upstream's request ``kind``
    names it: its ``apiVersion`` and ``kind`` (a pod's Eviction is ``policy/v1``), the
    resource's where the object leaves them out."""
    if not isinstance(obj, Mapping):
        return info.group, info.version, info.kind
    kind = str(obj.get("kind") or info.kind)
    api_version = str(obj.get("apiVersion") or "")
    if not api_version:
        return info.group, info.version, kind
    group, _, version = api_version.rpartition("/")
    return group, version, kind
