"""Object <-> etcd value: compact JSON (orjson), resourceVersion left out, some resources encrypted.

etcd's ``mod_revision`` *is* the resourceVersion, so the stored JSON never carries one; decoding
puts it back. Values of resources named in the encryption configuration pass through their
AES-GCM transformer (see :mod:`.encryption`).
"""

from __future__ import annotations

from typing import Any

import orjson

from kprov.cluster.storage.encryption import ResourceEncryption, ValueTransformer
from kprov.cluster.storage.keys import resource_prefix

__all__ = ["Codec"]


class Codec:
    def __init__(self, encryption: ResourceEncryption | None = None) -> None:
        self._transformers: list[tuple[str, ValueTransformer]] = []
        for name, transformer in (encryption.by_resource if encryption else {}).items():
            resource, _, group = name.partition(".")
            self._transformers.append((resource_prefix(group, resource), transformer))

    def _transformer(self, key: str) -> ValueTransformer | None:
        for prefix, transformer in self._transformers:
            if key.startswith(prefix):
                return transformer
        return None

    def encode(self, key: str, obj: dict[str, Any]) -> bytes:
        meta = obj.get("metadata")
        if isinstance(meta, dict) and "resourceVersion" in meta:
            obj = {**obj, "metadata": {k: v for k, v in meta.items() if k != "resourceVersion"}}
        data = orjson.dumps(obj)
        transformer = self._transformer(key)
        return transformer.to_storage(data, key) if transformer else data

    def encrypts(self, key: str) -> bool:
        return self._transformer(key) is not None

    def stale(self, key: str, value: bytes) -> bool:
        """Whether ``value`` is stored other than an encode now would store it (its key)."""
        transformer = self._transformer(key)
        return transformer is not None and transformer.is_stale(value)

    def decode(self, key: str, value: bytes, revision: int) -> dict[str, Any]:
        transformer = self._transformer(key)
        if transformer is not None:
            value = transformer.from_storage(value, key)
        obj: dict[str, Any] = orjson.loads(value)
        obj.setdefault("metadata", {})["resourceVersion"] = str(revision)
        return obj
