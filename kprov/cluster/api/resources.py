"""The resource registry: which kinds the API server serves, and how.

Design: every served resource is one frozen `ResourceInfo` (group, version, plural, kind,
scope, verbs, short names, categories, subresources). The table is data, resources.yaml
beside this module, one line per resource; it is the single source
that discovery, routing, storage keys, tables and validation look kinds up in. `Registry`
indexes an immutable tuple of infos by (group, version, resource) and by (group, kind);
`REGISTRY` is the one instance built from the table's group-versions that are on by default
(read-only; nothing mutates it); `registry_with` builds the one an API server serves when its
--runtime-config turns others on or off (`OPTIONAL_GROUP_VERSIONS`: the table's blocks marked
``enabledByDefault: false``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources as importlib_resources
from types import MappingProxyType
from typing import Any

import yaml

_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

__all__ = [
    "ALL_VERBS",
    "OPTIONAL_GROUP_VERSIONS",
    "TABLE",
    "storage_of",
    "REGISTRY",
    "Registry",
    "ResourceInfo",
    "SubresourceInfo",
    "api_version",
    "load_table",
    "optional_group_versions",
    "registry_with",
    "split_api_version",
]

ALL_VERBS: tuple[str, ...] = (
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
)
_NO_COLLECTION_DELETE: tuple[str, ...] = ("create", "delete", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class SubresourceInfo:
    """A subresource such as `status` or `scale`, with the kind it answers with."""

    name: str
    kind: str
    group: str = ""
    version: str = "v1"
    verbs: tuple[str, ...] = ("get", "patch", "update")

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


@dataclass(frozen=True)
class ResourceInfo:
    """Everything the server needs to know about one served resource."""

    group: str
    version: str
    resource: str
    kind: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    subresources: tuple[SubresourceInfo, ...] = ()
    list_kind: str = ""
    field_selectors: tuple[str, ...] = field(default=())
    # A custom resource's served version (kprov.cluster.api.crd.definition.CustomVersion): its schema,
    # printer columns and storage version; None for the built-in kinds.
    custom: Any = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.list_kind:
            object.__setattr__(self, "list_kind", self.kind + "List")

    @property
    def api_version(self) -> str:
        return api_version(self)

    @property
    def group_version(self) -> str:
        return api_version(self)

    @property
    def has_status(self) -> bool:
        return self.subresource("status") is not None

    @property
    def has_scale(self) -> bool:
        return self.subresource("scale") is not None

    @property
    def group_resource(self) -> str:
        """`deployments.apps` / `pods`: the form Status messages use."""
        return f"{self.resource}.{self.group}" if self.group else self.resource

    def subresource(self, name: str) -> SubresourceInfo | None:
        for sub in self.subresources:
            if sub.name == name:
                return sub
        return None


# Resources served in a second group that are the same stored objects as another group's
# (upstream registers one storage under both): (group, resource) -> where they are stored.
_STORED_AS = {("events.k8s.io", "events"): ("", "events")}


def storage_of(info: ResourceInfo) -> tuple[str, str]:
    """The (group, resource) whose keys ``info``'s objects are stored under."""
    return _STORED_AS.get((info.group, info.resource), (info.group, info.resource))


def api_version(info: ResourceInfo) -> str:
    """`v1` for the core group, `group/version` otherwise."""
    return f"{info.group}/{info.version}" if info.group else info.version


def split_api_version(value: str) -> tuple[str, str]:
    """`apps/v1` -> ("apps", "v1"); `v1` -> ("", "v1")."""
    group, _, version = value.rpartition("/")
    return group, version


_SCALE = SubresourceInfo("scale", "Scale", "autoscaling", "v1")
_META_FIELDS = ("metadata.name", "metadata.namespace")
_VERB_SETS = {"all-but-deletecollection": _NO_COLLECTION_DELETE}


def _subresource(entry: str | dict[str, Any], info: dict[str, Any], group: str) -> SubresourceInfo:
    if entry == "status":
        return SubresourceInfo("status", info["kind"], group, "v1")
    if entry == "scale":
        return _SCALE
    if not isinstance(entry, dict):
        raise ValueError(f"resources.yaml: unknown subresource {entry!r} of {info['name']}")
    verbs = tuple(entry.get("verbs", ("get", "patch", "update")))
    group_of_sub, version_of_sub = entry.get("group", ""), entry.get("version", "v1")
    return SubresourceInfo(entry["name"], entry["kind"], group_of_sub, version_of_sub, verbs)


def _resource(group: str, version: str, entry: dict[str, Any]) -> ResourceInfo:
    verbs = entry.get("verbs", ALL_VERBS)
    fields = tuple(entry.get("fieldSelectors", ()))
    return ResourceInfo(
        group,
        version,
        entry["name"],
        entry["kind"],
        entry.get("singularName", entry["kind"].lower()),
        entry.get("namespaced", True),
        tuple(entry.get("shortNames", ())),
        tuple(entry.get("categories", ())),
        verbs=_VERB_SETS[verbs] if isinstance(verbs, str) else tuple(verbs),
        subresources=tuple(_subresource(s, entry, group) for s in entry.get("subresources", ())),
        list_kind=entry.get("listKind", ""),
        field_selectors=(_META_FIELDS + fields) if entry.get("metadataFieldSelectors", True) else fields,
    )


def load_table(text: str) -> tuple[ResourceInfo, ...]:
    """The resource table from resources.yaml's text (see that file for its fields)."""
    infos: list[ResourceInfo] = []
    for block in yaml.load(text, Loader=_SafeLoader):
        group, version = split_api_version(block["apiVersion"])
        infos.extend(_resource(group, version, entry) for entry in block["resources"])
    return tuple(infos)


def optional_group_versions(text: str) -> frozenset[tuple[str, str]]:
    """The (group, version) of the blocks of resources.yaml's text that are off by default."""
    blocks = yaml.load(text, Loader=_SafeLoader)
    return frozenset(
        split_api_version(b["apiVersion"]) for b in blocks if b.get("enabledByDefault", True) is False
    )


class Registry:
    """Read-only lookups over a fixed tuple of resources."""

    def __init__(self, infos: tuple[ResourceInfo, ...]) -> None:
        self._infos = infos
        self._by_gvr = MappingProxyType({(i.group, i.version, i.resource): i for i in infos})
        by_kind: dict[tuple[str, str], ResourceInfo] = {}
        for info in infos:
            by_kind.setdefault((info.group, info.kind), info)
        self._by_kind = MappingProxyType(by_kind)
        self._by_gvk = MappingProxyType({(i.group, i.version, i.kind): i for i in reversed(infos)})

    def __iter__(self) -> Iterator[ResourceInfo]:
        return iter(self._infos)

    def __len__(self) -> int:
        return len(self._infos)

    def all(self) -> tuple[ResourceInfo, ...]:
        return self._infos

    def get(self, group: str, version: str, resource: str) -> ResourceInfo | None:
        """By URL parts: ("apps", "v1", "deployments")."""
        return self._by_gvr.get((group, version, resource))

    def by_kind(self, kind: str, group: str | None = None) -> ResourceInfo | None:
        """By kind; `group` None means: the core group first, then any group serving the kind."""
        if group is not None:
            return self._by_kind.get((group, kind))
        found = self._by_kind.get(("", kind))
        if found is not None:
            return found
        return next((i for i in self._infos if i.kind == kind), None)

    def for_object(self, obj: dict) -> ResourceInfo | None:
        """By an object's apiVersion and kind."""
        group, version = split_api_version(str(obj.get("apiVersion", "")))
        return self._by_gvk.get((group, version, str(obj.get("kind", ""))))

    def group_versions(self) -> tuple[tuple[str, str], ...]:
        """(group, version) pairs in table order, the core group first."""
        seen: dict[tuple[str, str], None] = {}
        for info in self._infos:
            seen.setdefault((info.group, info.version), None)
        return tuple(seen)

    def in_group_version(self, group: str, version: str) -> tuple[ResourceInfo, ...]:
        return tuple(i for i in self._infos if i.group == group and i.version == version)

    def extended(self, extra: tuple[ResourceInfo, ...]) -> Registry:
        """This registry plus ``extra`` (custom resources); a built-in resource keeps its
        place when an extra one would take the same (group, version, resource)."""
        taken = self._by_gvr
        added = tuple(i for i in extra if (i.group, i.version, i.resource) not in taken)
        return Registry(self._infos + added)


_TABLE_TEXT = importlib_resources.files("kprov.cluster.api").joinpath("resources.yaml").read_text()
TABLE = load_table(_TABLE_TEXT)  # every resource kprov can serve, the optional ones too
OPTIONAL_GROUP_VERSIONS = optional_group_versions(_TABLE_TEXT)
REGISTRY = Registry(tuple(i for i in TABLE if (i.group, i.version) not in OPTIONAL_GROUP_VERSIONS))


def registry_with(enabled: frozenset[tuple[str, str]]) -> Registry:
    """The registry serving exactly the group-versions in ``enabled`` (table order)."""
    if enabled == frozenset(REGISTRY.group_versions()):
        return REGISTRY
    return Registry(tuple(i for i in TABLE if (i.group, i.version) in enabled))
