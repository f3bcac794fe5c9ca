"""The garbage collector watches kinds served after it started (a CRD defined later), once each."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from kprov.cluster.client.resources import Resource
from kprov.cluster.controllers.base import ControllerContext
from kprov.cluster.controllers.housekeeping.garbagecollector import GarbageCollector


class _Informer:
    def __init__(self) -> None:
        self.handlers: list[Any] = []

    def add_handler(self, handler: Any) -> None:
        self.handlers.append(handler)


class _Informers:
    def __init__(self) -> None:
        self.made: dict[Resource, _Informer] = {}

    def get(self, resource: Resource) -> _Informer:
        return self.made.setdefault(resource, _Informer())


_GC_VERBS = ("list", "watch", "delete")


def _resource(group: str, plural: str, kind: str, verbs: tuple[str, ...] = _GC_VERBS) -> Resource:
    return Resource(group, "v1", plural, kind, True, verbs)


def test_kinds_found_by_a_later_discovery_are_watched_once() -> None:
    informers = _Informers()
    gc = GarbageCollector(cast(ControllerContext, SimpleNamespace(client=None, informers=informers)))
    pods = _resource("", "pods", "Pod")
    gc._watch([pods, _resource("", "bindings", "Binding", ("create",))])
    widgets = _resource("example.com", "widgets", "Widget")
    gc._watch([pods, widgets])  # the next discovery: a CRD defined since
    assert set(gc.informers) == {pods, widgets}
    assert gc.kinds[("example.com", "Widget")] == widgets
    assert [len(informers.made[r].handlers) for r in (pods, widgets)] == [1, 1]
