"""etcd watch events as the watch cache's ``_apply`` reads them, for tests that drive a
cache event by event."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class KV:
    key: bytes
    value: bytes
    mod_revision: int
    version: int


@dataclass
class RawEvent:
    type: int  # 0 PUT, 1 DELETE
    kv: KV
