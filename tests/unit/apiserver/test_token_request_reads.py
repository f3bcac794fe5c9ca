"""TokenRequest reads the ServiceAccount (and a bound object) as stored: a watch cache that has
not yet seen an object created a moment ago through this server falls back to storage."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from kprov.cluster.api.resources import REGISTRY
from kprov.cluster.apiserver.authn.tokens import _live
from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.request.status import StatusError


class _Store:
    def __init__(self, objects: dict[str, dict[str, Any]]) -> None:
        self.objects = objects
        self.reads: list[str] = []

    async def get(self, key: str) -> Any:
        self.reads.append(key)
        obj = self.objects.get(key)
        return None if obj is None else SimpleNamespace(obj=obj)


def _context(cached: dict[str, dict[str, Any]], stored: dict[str, dict[str, Any]]) -> tuple[Any, _Store]:
    store = _Store(stored)
    ctx = SimpleNamespace(registry=REGISTRY, cache=SimpleNamespace(get=cached.get), store=store)
    ctx.key = lambda info, namespace, name: ApiContext.key(ctx, info, namespace, name)  # type: ignore[arg-type]
    return ctx, store


SA = {"metadata": {"name": "robot", "namespace": "kube-system", "uid": "u1"}}
KEY = "/registry/serviceaccounts/kube-system/robot"


async def test_the_cache_answers_when_it_has_the_object() -> None:
    ctx, store = _context({KEY: SA}, {})
    assert await _live(ctx, "serviceaccounts", "kube-system", "robot") == SA
    assert store.reads == []


async def test_an_object_not_yet_in_the_cache_is_read_from_storage() -> None:
    ctx, store = _context({}, {KEY: SA})
    assert await _live(ctx, "serviceaccounts", "kube-system", "robot") == SA
    assert store.reads == [KEY]


async def test_an_object_in_neither_is_upstreams_not_found() -> None:
    ctx, _ = _context({}, {})
    with pytest.raises(StatusError) as caught:
        await _live(ctx, "serviceaccounts", "kube-system", "robot")
    assert caught.value.code == 404
    assert str(caught.value.args[0]) == 'serviceaccounts "robot" not found'
