"""Where flunders and fischers live: etcd (through its v3 JSON gateway) or memory.

Design: a store maps keys (``/registry/wardle.example.com/<resource>/[<ns>/]<name>``) to JSON
objects; every write returns the revision it made, and reads give each object's last-write
revision, so the API's resourceVersion is etcd's revision as in any Kubernetes API server.
Objects are stored without resourceVersion (it is set on the way out). Creates are
``create_revision == 0`` transactions and guarded updates ``mod_revision == rv`` ones, so two
writers never overwrite each other. :class:`MemoryStore` keeps the same contract under a
lock, for runs without the etcd sidecar and for tests.
"""

from __future__ import annotations

import base64
import http.client
import json
import threading
from typing import Any, Protocol
from urllib.parse import urlsplit

__all__ = ["Conflict", "EtcdStore", "Exists", "MemoryStore", "Store", "StoreError"]

Obj = dict[str, Any]


class StoreError(Exception):
    """The store could not be reached or answered nonsense."""


class Exists(Exception):
    pass


class Conflict(Exception):
    pass


class Store(Protocol):
    def create(self, key: str, obj: Obj) -> int: ...
    def get(self, key: str) -> tuple[Obj, int] | None: ...
    def list(self, prefix: str) -> tuple[list[tuple[Obj, int]], int]: ...
    def update(self, key: str, obj: Obj, expect: int | None) -> int: ...
    def delete(self, key: str) -> tuple[Obj, int] | None: ...
    def healthy(self) -> bool: ...


class MemoryStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._revision = 1
        self._data: dict[str, tuple[bytes, int]] = {}

    def _bump(self) -> int:
        self._revision += 1
        return self._revision

    def create(self, key: str, obj: Obj) -> int:
        with self._lock:
            if key in self._data:
                raise Exists(key)
            rev = self._bump()
            self._data[key] = (json.dumps(obj).encode(), rev)
            return rev

    def get(self, key: str) -> tuple[Obj, int] | None:
        with self._lock:
            found = self._data.get(key)
        return None if found is None else (json.loads(found[0]), found[1])

    def list(self, prefix: str) -> tuple[list[tuple[Obj, int]], int]:
        with self._lock:
            found = sorted((k, v) for k, v in self._data.items() if k.startswith(prefix))
            items = [(json.loads(value), rev) for _, (value, rev) in found]
            return items, self._revision

    def update(self, key: str, obj: Obj, expect: int | None) -> int:
        with self._lock:
            found = self._data.get(key)
            if found is None:
                raise KeyError(key)
            if expect is not None and found[1] != expect:
                raise Conflict(key)
            rev = self._bump()
            self._data[key] = (json.dumps(obj).encode(), rev)
            return rev

    def delete(self, key: str) -> tuple[Obj, int] | None:
        with self._lock:
            found = self._data.pop(key, None)
            if found is None:
                return None
            return json.loads(found[0]), self._bump()

    def healthy(self) -> bool:
        return True


def _b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


def _prefix_end(prefix: str) -> str:
    raw = bytearray(prefix.encode())
    raw[-1] += 1
    return _b64(bytes(raw))


class EtcdStore:
    """etcd v3 through its gRPC gateway's JSON (``POST <server>/v3/kv/...``): ``servers`` are
    tried in order, each call at most ``timeout_s``."""

    def __init__(self, servers: list[str], timeout_s: float = 5.0) -> None:
        self._servers = [s.rstrip("/") for s in servers if s]
        self._timeout = timeout_s

    def _call(self, path: str, body: Obj) -> Obj:
        data = json.dumps(body).encode()
        last: Exception | None = None
        for server in self._servers:
            url = urlsplit(server)
            connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port or 2379,
                                                    timeout=self._timeout)
            try:
                connection.request("POST", path, body=data, headers={"Content-Type": "application/json"})
                reply = connection.getresponse()
                payload = reply.read()
                if reply.status != 200:
                    raise StoreError(f"HTTP {reply.status}: {payload[:200]!r}")
                answer: Obj = json.loads(payload or b"{}")
                return answer
            except (OSError, http.client.HTTPException, ValueError, StoreError) as exc:
                last = exc
            finally:
                connection.close()
        raise StoreError(f"etcd {path}: {last}")

    @staticmethod
    def _revision(answer: Obj) -> int:
        return int((answer.get("header") or {}).get("revision", 0))

    def create(self, key: str, obj: Obj) -> int:
        answer = self._call("/v3/kv/txn", {
            "compare": [{"key": _b64(key), "result": "EQUAL", "target": "CREATE", "create_revision": "0"}],
            "success": [{"request_put": {"key": _b64(key), "value": _b64(json.dumps(obj))}}],
        })
        if not answer.get("succeeded"):
            raise Exists(key)
        return self._revision(answer)

    @staticmethod
    def _decode(kv: Obj) -> tuple[Obj, int]:
        return json.loads(base64.b64decode(kv.get("value", ""))), int(kv.get("mod_revision", 0))

    def get(self, key: str) -> tuple[Obj, int] | None:
        kvs = self._call("/v3/kv/range", {"key": _b64(key)}).get("kvs") or []
        return self._decode(kvs[0]) if kvs else None

    def list(self, prefix: str) -> tuple[list[tuple[Obj, int]], int]:
        answer = self._call("/v3/kv/range", {"key": _b64(prefix), "range_end": _prefix_end(prefix)})
        return [self._decode(kv) for kv in answer.get("kvs") or []], self._revision(answer)

    def update(self, key: str, obj: Obj, expect: int | None) -> int:
        if expect is None:
            found = self.get(key)
            if found is None:
                raise KeyError(key)
            expect = found[1]
        answer = self._call("/v3/kv/txn", {
            "compare": [{"key": _b64(key), "result": "EQUAL", "target": "MOD", "mod_revision": str(expect)}],
            "success": [{"request_put": {"key": _b64(key), "value": _b64(json.dumps(obj))}}],
        })
        if not answer.get("succeeded"):
            if self.get(key) is None:
                raise KeyError(key)
            raise Conflict(key)
        return self._revision(answer)

    def delete(self, key: str) -> tuple[Obj, int] | None:
        answer = self._call("/v3/kv/deleterange", {"key": _b64(key), "prev_kv": True})
        prev = answer.get("prev_kvs") or []
        return (self._decode(prev[0])[0], self._revision(answer)) if prev else None

    def healthy(self) -> bool:
        try:
            self._call("/v3/kv/range", {"key": _b64("/registry/wardle.example.com/"), "count_only": True})
        except StoreError:
            return False
        return True
