"""Discovery of the group/versions other servers answer, merged into this server's.

Design: pure functions of the APIServices and the discovery documents the availability
controller fetched from their backends (``name -> APIResourceList``). A remote APIService
contributes when this server holds a document for it, that is when this server's last
check of it passed (a failed check drops the document): one that goes away or stops
answering leaves /apis at the next check, so clients do not trip over a group they cannot
use. The shared Available condition is not consulted: another server's verdict, or a
status write not yet back through the watch cache, would hide a backend this server has
just reached. Within a group, versions are ordered by versionPriority (highest first), then name;
the first is the preferred one. The aggregated (apidiscovery v2/v2beta1) form is derived
from the backend's legacy APIResourceList, ``resource/sub`` entries becoming the
resource's subresources.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kprov.cluster.api.kinds.apiregistration import service_ref

__all__ = ["RemoteGroup", "aggregated_item", "remote_groups", "shadowed"]


@dataclass
class RemoteGroup:
    name: str
    priority: int
    # (version, versionPriority, the backend's APIResourceList)
    versions: list[tuple[str, int, Mapping[str, Any]]] = field(default_factory=list)

    @property
    def version_names(self) -> list[str]:
        return [v for v, _, _ in self.versions]


def shadowed(apiservices: Iterable[Mapping[str, Any]]) -> set[tuple[str, str]]:
    """(group, version) pairs a remote APIService claims (available or not)."""
    claimed = set()
    for obj in apiservices:
        if service_ref(obj) is not None:
            spec = obj.get("spec") or {}
            claimed.add((str(spec.get("group") or ""), str(spec.get("version") or "")))
    return claimed


def remote_groups(
    apiservices: Iterable[Mapping[str, Any]], documents: Mapping[str, tuple[str, Mapping[str, Any]]]
) -> list[RemoteGroup]:
    """The groups served by the remote APIServices ``documents`` holds an answer for, by
    group priority (highest first), then name."""
    groups: dict[str, RemoteGroup] = {}
    for obj in apiservices:
        name = str((obj.get("metadata") or {}).get("name") or "")
        if service_ref(obj) is None or name not in documents:
            continue
        spec = obj.get("spec") or {}
        group, version = str(spec.get("group") or ""), str(spec.get("version") or "")
        if not group:
            continue
        entry = groups.setdefault(group, RemoteGroup(group, 0))
        entry.priority = max(entry.priority, int(spec.get("groupPriorityMinimum") or 0))
        entry.versions.append((version, int(spec.get("versionPriority") or 0), documents[name][1]))
    for entry in groups.values():
        entry.versions.sort(key=lambda v: (-v[1], v[0]))
    return sorted(groups.values(), key=lambda g: (-g.priority, g.name))


def _kind(group: str, version: str, entry: Mapping[str, Any]) -> dict[str, str]:
    return {
        "group": str(entry.get("group") or group),
        "version": str(entry.get("version") or version),
        "kind": str(entry.get("kind") or ""),
    }


def _resources(group: str, version: str, document: Mapping[str, Any]) -> list[dict[str, Any]]:
    entries = [r for r in document.get("resources") or [] if isinstance(r, Mapping) and r.get("name")]
    resources: dict[str, dict[str, Any]] = {}
    for entry in entries:
        name = str(entry["name"])
        if "/" in name:
            continue
        item: dict[str, Any] = {
            "resource": name,
            "responseKind": _kind(group, version, entry),
            "scope": "Namespaced" if entry.get("namespaced") else "Cluster",
            "singularResource": str(entry.get("singularName") or ""),
            "verbs": list(entry.get("verbs") or []),
        }
        if entry.get("shortNames"):
            item["shortNames"] = list(entry["shortNames"])
        if entry.get("categories"):
            item["categories"] = list(entry["categories"])
        resources[name] = item
    for entry in entries:
        parent, _, sub = str(entry["name"]).partition("/")
        if sub and parent in resources:
            resources[parent].setdefault("subresources", []).append(
                {"subresource": sub, "responseKind": _kind(group, version, entry),
                 "verbs": list(entry.get("verbs") or [])}
            )
    return list(resources.values())


def aggregated_item(group: RemoteGroup) -> dict[str, Any]:
    """The APIGroupDiscovery entry of ``group``."""
    return {
        "metadata": {"name": group.name},
        "versions": [
            {"version": version, "freshness": "Current", "resources": _resources(group.name, version, doc)}
            for version, _, doc in group.versions
        ],
    }
