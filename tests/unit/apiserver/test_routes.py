"""The handler table: subresources declared with their resource, each served by a route.

Reads the resource registry (every kind the server serves) against the table, so a
subresource added to a kind without a route, or a route left for a subresource no kind
declares, fails here instead of answering 404 in a cluster.
"""

from __future__ import annotations

from pathlib import Path

from kprov.cluster.api.resources import REGISTRY
from kprov.cluster.apiserver import front
from kprov.cluster.apiserver.front.routes import ANY_KIND, SPECIAL_KINDS, SUBRESOURCES, _route

APISERVER = Path(front.__file__).resolve().parents[1]


def _declared() -> set[tuple[str, str, str]]:
    return {(info.group, info.resource, sub.name) for info in REGISTRY for sub in info.subresources}


def test_every_declared_subresource_has_a_route() -> None:
    missing = sorted(
        (info.group, info.resource, sub.name)
        for info in REGISTRY
        for sub in info.subresources
        if _route(info, sub.name) is None
    )
    assert missing == []


def test_every_route_names_a_subresource_its_resource_declares() -> None:
    declared = _declared()
    stale = sorted(
        (group, resource, sub)
        for (group, resource), routes in SUBRESOURCES.items()
        for sub in routes
        if (group, resource, sub) not in declared
    )
    assert stale == []
    assert set(ANY_KIND) == {"status", "scale"}
    pods = REGISTRY.get("", "v1", "pods")
    assert pods is not None and _route(pods, "log") is not None and _route(pods, "token") is None


def test_special_kinds_are_the_review_and_binding_kinds() -> None:
    groups = {group for group, _ in SPECIAL_KINDS}
    assert groups == {"", "authentication.k8s.io", "authorization.k8s.io"}
    assert ("authentication.k8s.io", "tokenreviews") in SPECIAL_KINDS


def test_the_dispatching_modules_stay_small() -> None:
    """Dispatch is by lookup: the front's app and the REST handlers stay under their limits."""
    lines = {name: len((APISERVER / name).read_text().splitlines())
             for name in ("front/app.py", "handlers/crud.py")}
    assert lines["front/app.py"] < 400, lines
    assert lines["handlers/crud.py"] < 350, lines
