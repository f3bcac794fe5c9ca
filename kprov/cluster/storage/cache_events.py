"""The watch cache's events and the forms its values take (see :mod:`kprov.cluster.storage.watch_cache`).

A value is held in one of three forms, all read through :func:`decoded`:

- a plain object (decoded, or adopted: the object this process itself wrote);
- :class:`Undecoded`: the bytes etcd sent, decoded on first read and kept (most versions are
  replaced before anyone reads them, so decoding each would be CPU lost);
- :class:`Packed`: an old event's superseded object as its JSON only, decoded afresh on each
  read (a decoded object takes several times the memory of its JSON).

A :class:`CacheEvent` encodes its JSON line once, for every subscriber, and
:meth:`CacheEvent.pack` turns its objects into the small forms once it is old. An old event
whose object was still the key's current state then keeps it decoded (it is the state's own
object, no extra memory) and is *held*: :meth:`CacheEvent.supersede` packs it when the key's
next event comes. An event's ``prev`` is the object of the key's event before it
(``before``); once both are old the two share that event's small form, so each version is
kept once, not once as an object and again as the next event's ``prev`` (a pod created,
bound and reported Running kept its first two versions decoded for the whole life of the
ring: on a density run most events were packed while their object was still current).
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from kprov.cluster.storage.codec import Codec

__all__ = ["CacheEvent", "Item", "Packed", "Undecoded", "decoded", "encode_json", "encode_kept"]

_log = logging.getLogger(__name__)
_LINE_HEAD = len(b'{"type":"') + len(b'","object":')  # a json_line's bytes before its object, less the type


def encode_json(obj: Any) -> bytes:
    """Compact JSON, the form every response uses."""
    return orjson.dumps(obj)


def encode_kept(obj: Any) -> bytes:
    """:func:`encode_json` for bytes kept for long: orjson's bytes keep the whole buffer it
    wrote into (a 3.7 KiB pod's JSON held 8 KiB resident), a copy is exactly its length."""
    return bytes(memoryview(orjson.dumps(obj)))


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

    __slots__ = ("_before", "_held", "_json", "_obj", "_prev", "key", "revision", "type")

    def __init__(self, type: str, key: str, obj: Item, prev: Item | None, revision: int) -> None:
        self.type = type
        self.key = key
        self._obj = obj
        self._prev = prev
        self.revision = revision
        self._json: bytes | None = None
        self._before: CacheEvent | None = None  # the key's event whose object ``prev`` is
        self._held = False  # packed while its object was current: kept decoded until superseded

    def follows(self, before: CacheEvent) -> None:
        """``before`` is the key's previous event in the ring: when its object is this event's
        ``prev``, both keep one small form of it once old; and its object is no longer current."""
        obj = before._obj
        prev = self._prev
        if prev is not None and (obj is prev or obj.__class__ is Undecoded and obj.obj is prev):  # type: ignore[union-attr]
            self._before = before
        before.supersede()

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
        key's state now) becomes its JSON - the object's part of :meth:`json_line`, no copy -
        and a decoded etcd value forgets its decoding; ``current`` stays (held, see
        :meth:`supersede`). ``prev`` becomes the small form of the event before's object."""
        if self._obj is current:
            self._held = True
        else:
            self._pack_obj()
        prev = self._prev
        before = self._before
        self._before = None  # (no chain of old events kept alive through it)
        if prev is not None and prev is not current:
            shared = before._obj if before is not None else None
            if shared.__class__ is Packed:
                self._prev = shared
            elif shared.__class__ is Undecoded:
                shared.obj = None  # type: ignore[union-attr]
                self._prev = shared
            elif prev.__class__ is dict:
                self._prev = Packed(encode_kept(prev))
            elif prev.__class__ is Undecoded:
                prev.obj = None  # type: ignore[union-attr]

    def supersede(self) -> None:
        """The key has a newer event: a held object is no longer the state's, pack it (an
        etcd value's decoding is forgotten when the newer event, whose ``prev`` it is, is packed)."""
        if self._held:
            self._held = False
            if self._obj.__class__ is dict:
                self._pack_obj()

    def _pack_obj(self) -> None:
        obj = self._obj
        if obj.__class__ is dict:
            line = self.json_line()
            self._obj = Packed(memoryview(line)[_LINE_HEAD + len(self.type) : -2])
        elif obj.__class__ is Undecoded:
            obj.obj = None  # type: ignore[union-attr]
