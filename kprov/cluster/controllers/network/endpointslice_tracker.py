"""Which EndpointSlices the controller wrote, so it never syncs a Service from a cache behind them.

Upstream's endpointslice tracker keeps, per Service, the generation of every slice the
controller created or updated (and marks the ones it deleted). Before a sync, the Service's
slices in the informer cache are compared with that record: a written slice missing from the
cache or older there than written, or a deleted one still present, means the cache is stale
(upstream returns a StaleInformerCache error and retries). Syncing from such a cache made a
second slice for a port set it had just created, or rewrote a slice for the wrong port.

Here the version of a write is the resourceVersion the API server answered (etcd revisions,
so they order); a slice deleted by someone else, or its Service's deletion, drops the record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SliceTracker"]

_DELETED = -1


def _version(obj: Mapping[str, Any]) -> int:
    text = str((obj.get("metadata") or {}).get("resourceVersion") or "0")
    return int(text) if text.isdigit() else 0


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


@dataclass
class SliceTracker:
    _written: dict[str, dict[str, int]] = field(default_factory=dict)  # service key -> slice -> version

    def wrote(self, service: str, answer: Mapping[str, Any]) -> None:
        """The API server's answer to a create or update of one of ``service``'s slices."""
        self._written.setdefault(service, {})[_name(answer)] = _version(answer)

    def deleting(self, service: str, name: str) -> None:
        self._written.setdefault(service, {})[name] = _DELETED

    def observed_deletion(self, service: str, name: str) -> None:
        """The cache saw the slice go (ours or anyone's): nothing more to wait for."""
        slices = self._written.get(service)
        if slices is not None:
            slices.pop(name, None)
            if not slices:
                del self._written[service]

    def forget(self, service: str) -> None:
        self._written.pop(service, None)

    def stale(self, service: str, cached: Iterable[Mapping[str, Any]]) -> bool:
        """Whether the cache's slices of ``service`` lag behind the controller's own writes."""
        written = self._written.get(service)
        if not written:
            return False
        in_cache = {_name(s): _version(s) for s in cached}
        for name, version in written.items():
            if version == _DELETED:
                if name in in_cache:
                    return True
            elif in_cache.get(name, -1) < version:
                return True
        return False
