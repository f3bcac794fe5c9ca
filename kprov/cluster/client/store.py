"""A local, indexed cache of objects of one kind (the informer's store).

Objects are keyed ``namespace/name`` (or ``name`` for cluster-scoped kinds). Custom
indexers map an object to zero or more index values (for example pods by
``spec.nodeName``); :meth:`Store.by_index` answers "which objects have this value" without
scanning. Index maintenance is incremental: replacing an object updates only its entries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["Indexer", "Store", "index_by_namespace", "index_by_node_name", "object_key"]

Indexer = Callable[[dict[str, Any]], list[str]]


def object_key(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{ns}/{meta.get('name', '')}" if ns else str(meta.get("name", ""))


def index_by_namespace(obj: dict[str, Any]) -> list[str]:
    ns = (obj.get("metadata") or {}).get("namespace")
    return [ns] if ns else []


def index_by_node_name(obj: dict[str, Any]) -> list[str]:
    node = (obj.get("spec") or {}).get("nodeName")
    return [node] if node else []


class Store:
    def __init__(self, indexers: dict[str, Indexer] | None = None) -> None:
        self._items: dict[str, dict[str, Any]] = {}
        self._indexers: dict[str, Indexer] = dict(indexers or {})
        self._indices: dict[str, dict[str, set[str]]] = {name: {} for name in self._indexers}

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: str) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(list(self._items.values()))

    def has_indexer(self, name: str) -> bool:
        return name in self._indexers

    def add_indexer(self, name: str, indexer: Indexer) -> None:
        self._indexers[name] = indexer
        index: dict[str, set[str]] = {}
        for key, obj in self._items.items():
            for value in indexer(obj):
                index.setdefault(value, set()).add(key)
        self._indices[name] = index

    def get(self, key: str) -> dict[str, Any] | None:
        return self._items.get(key)

    def all_keys(self) -> list[str]:
        return list(self._items)

    def items(self) -> list[dict[str, Any]]:
        return list(self._items.values())

    def by_index(self, index_name: str, value: str) -> list[dict[str, Any]]:
        keys = self._indices[index_name].get(value, ())
        return [self._items[k] for k in keys]

    def index_keys(self, index_name: str, value: str) -> set[str]:
        return set(self._indices[index_name].get(value, ()))

    def index_values(self, index_name: str) -> list[str]:
        return list(self._indices[index_name])

    def _unindex(self, key: str, obj: dict[str, Any]) -> None:
        for name, indexer in self._indexers.items():
            index = self._indices[name]
            for value in indexer(obj):
                members = index.get(value)
                if members is not None:
                    members.discard(key)
                    if not members:
                        del index[value]

    def _index(self, key: str, obj: dict[str, Any]) -> None:
        for name, indexer in self._indexers.items():
            index = self._indices[name]
            for value in indexer(obj):
                index.setdefault(value, set()).add(key)

    def put(self, obj: dict[str, Any]) -> dict[str, Any] | None:
        """Insert or replace; returns the previous version."""
        key = object_key(obj)
        old = self._items.get(key)
        if old is not None:
            self._unindex(key, old)
        self._items[key] = obj
        self._index(key, obj)
        return old

    def remove(self, key: str) -> dict[str, Any] | None:
        old = self._items.pop(key, None)
        if old is not None:
            self._unindex(key, old)
        return old
