"""One copy of each field-ownership trie the watch cache holds, shared by the objects that have it.

An object's ``metadata.managedFields`` records, per manager, the fields it owns as a FieldsV1
trie: nested dicts of ``f:<name>`` / ``k:<key>`` elements ending in ``{}``. Decoded, that is
the larger part of a pod in the cache (8 of 18 KiB for a density pod), and the tries are
alike from pod to pod: every pod of a ReplicaSet has its controller's trie, every running pod
much the same status trie but for its own pod IP's element. :class:`SharedTries` keeps one
copy of each subtree below the trie's top level (``f:spec``'s containers, ``f:status``'s
conditions ...) and of whole tries, found by their JSON, and puts it in each object the cache
holds (its own writes as it adopts them, etcd's values as it decodes them).

The replacement is by an equal value, so every reader sees the same object as before. It
relies on the rule the cache already keeps for whole objects: cached objects are never
mutated, their tries included (field ownership is recorded into new tries, see
:mod:`kprov.cluster.api.patch.managed_fields`, which shares its own create-time tries the
same way). The table is bounded: when full it starts again (objects keep what they share).
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["SharedTries", "SharingCodec"]

_CAPACITY = 4096


class SharedTries:
    def __init__(self, capacity: int = _CAPACITY) -> None:
        self._capacity = capacity
        self._known: dict[bytes, dict[str, Any]] = {}

    def share(self, obj: dict[str, Any]) -> dict[str, Any]:
        """``obj`` with its managedFields' tries replaced by the shared equal ones (in place:
        the cache's own object, before any reader has it); returned for chaining."""
        meta = obj.get("metadata")
        entries = meta.get("managedFields") if meta.__class__ is dict else None
        if entries.__class__ is not list:
            return obj
        for entry in entries:  # type: ignore[union-attr]
            trie = entry.get("fieldsV1") if entry.__class__ is dict else None
            if trie.__class__ is not dict or not trie:
                continue
            whole = self._known.get(orjson.dumps(trie))
            if whole is not None:
                if whole is not trie:
                    entry["fieldsV1"] = whole
                continue
            for top in trie.values():  # f:metadata, f:spec, f:status
                if top.__class__ is dict:
                    for name, sub in top.items():
                        if sub.__class__ is dict and sub:
                            top[name] = self._one(sub)
            self._one(trie)
        return obj

    def _one(self, trie: dict[str, Any]) -> dict[str, Any]:
        key = orjson.dumps(trie)
        found = self._known.get(key)
        if found is not None:
            return found
        if len(self._known) >= self._capacity:
            self._known.clear()
        self._known[bytes(memoryview(key))] = trie  # (orjson's bytes keep their buffer: a copy)
        return trie


class SharingCodec:
    """A codec whose decoded objects share their tries (what the watch cache decodes with)."""

    def __init__(self, codec: Any, tries: SharedTries) -> None:
        self._codec = codec
        self._tries = tries

    def decode(self, key: str, value: bytes, revision: int) -> dict[str, Any]:
        return self._tries.share(self._codec.decode(key, value, revision))
