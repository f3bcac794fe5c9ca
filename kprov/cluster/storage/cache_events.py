"""The watch cache's events and the forms its values take (see :mod:`kprov.cluster.storage.watch_cache`).

A value is held in one of three forms, all read through :func:`decoded`:

- a plain object (decoded, or adopted: the object this process itself wrote);
- :class:`Undecoded`: the bytes etcd sent, decoded on first read and kept (most versions are
  replaced before anyone reads them, so decoding each would be CPU lost);
- :class:`Packed`: an old event's superseded object as its JSON only, decoded afresh on each
  read (a decoded object takes several times the memory of its JSON).

A :class:`CacheEvent` encodes its JSON line once, for every subscriber, and
:meth:`CacheEvent.pack` turns its objects into the small forms once it is old.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from kprov.cluster.storage.codec import Codec

__all__ = ["CacheEvent", "Item", "Packed", "Undecoded", "decoded", "encode_json"]

_log = logging.getLogger(__name__)
_LINE_HEAD = len(b'{"type":"') + len(b'","object":')  # a json_line's bytes before its object, less the type


def encode_json(obj: Any) -> bytes:
    """Compact JSON, the form every response uses."""
    return orjson.dumps(obj)


class Undecoded:
    """A value as etcd sent it; ``decode()`` gives the object (once: it is kept)."""

    __slots__ = ("codec", "key", "obj", "revision", "value")

    def __init__(self, codec: Codec, key: str, value: bytes, revision: int) -> None:
        self.codec = codec
        self.key = key
        self.value = value
        self.revision = revision  # the object's resourceVersion
        self.obj: dict[str, Any] | None = None

    def decode(self) -> dict[str, Any]:
        if self.obj is None:
            self.obj = self.codec.decode(self.key, self.value, self.revision)
        return self.obj


class Packed:
    """An old event's object as its JSON (never the current state's object): decoded afresh
    on each read, which only a watch replaying old history does."""

    __slots__ = ("data",)

    def __init__(self, data: bytes | memoryview) -> None:
        self.data = data

    def decode(self) -> dict[str, Any]:
        return orjson.loads(self.data)  # type: ignore[no-any-return]


Item = dict[str, Any] | Undecoded | Packed  # what the cache holds per key (Packed: events only)


def decoded(item: Item) -> dict[str, Any]:
    cls = item.__class__
    return item.decode() if cls is Undecoded or cls is Packed else item  # type: ignore[union-attr,return-value]


class CacheEvent:
    """One change: ``type`` ADDED | MODIFIED | DELETED, ``obj`` the new state (for DELETED the
    last state with resourceVersion = the deletion's revision), ``prev`` the state before
    (for selector transitions). Both are decoded on first use."""

    __slots__ = ("_json", "_obj", "_prev", "key", "revision", "type")

    def __init__(self, type: str, key: str, obj: Item, prev: Item | None, revision: int) -> None:
        self.type = type
        self.key = key
        self._obj = obj
        self._prev = prev
        self.revision = revision
        self._json: bytes | None = None

    @property
    def obj(self) -> dict[str, Any]:
        return decoded(self._obj)

    @property
    def prev(self) -> dict[str, Any] | None:
        return None if self._prev is None else decoded(self._prev)

    def decodable(self) -> bool:
        """Decode now; False (logged) if a value cannot be, and then ``prev`` is dropped or
        the event must be skipped."""
        try:
            self.obj  # noqa: B018 - decodes and keeps
        except Exception as exc:
            _log.warning("watch cache: cannot decode %s at %d: %s", self.key, self.revision, exc)
            return False
        try:
            self.prev  # noqa: B018
        except Exception:
            self._prev = None
        return True

    def json_line(self) -> bytes:
        """``{"type":..,"object":..}\\n``, encoded once for all subscribers."""
        if self._json is None:
            self._json = b'{"type":"' + self.type.encode() + b'","object":' + encode_json(self.obj) + b"}\n"
        return self._json

    def pack(self, current: Item | None) -> None:
        """Keep this (old) event's objects small: a decoded object that is not ``current`` (the
        key's state now) becomes its JSON - the object's part of :meth:`json_line` for ``obj``,
        no copy - and a decoded etcd value forgets its decoding."""
        obj = self._obj
        if obj is not current:
            if obj.__class__ is dict:
                line = self.json_line()
                self._obj = Packed(memoryview(line)[_LINE_HEAD + len(self.type) : -2])
            elif obj.__class__ is Undecoded:
                obj.obj = None  # type: ignore[union-attr]
        prev = self._prev
        if prev is not None and prev is not current:
            if prev.__class__ is dict:
                self._prev = Packed(encode_json(prev))
            elif prev.__class__ is Undecoded:
                prev.obj = None  # type: ignore[union-attr]
