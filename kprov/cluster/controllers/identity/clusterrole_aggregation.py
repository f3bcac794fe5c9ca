"""ClusterRole aggregation: a ClusterRole with an ``aggregationRule`` holds the rules of every
ClusterRole its selectors match (how ``admin``, ``edit`` and ``view`` pick up the rules of
roles labelled ``rbac.authorization.k8s.io/aggregate-to-view: "true"``).

As upstream's controller: the matching roles (never the role itself) are taken in name order,
their rules appended without repeats; the role is written only when that differs from what it
holds. Any ClusterRole change requeues every aggregated role (there are few of them).
"""

from __future__ import annotations

from typing import Any

from kprov.cluster.api.selectors import SelectorError, label_selector_from_object
from kprov.cluster.client.errors import Conflict, NotFound
from kprov.cluster.client.informer import EventHandler
from kprov.cluster.client.resources import CLUSTERROLES
from kprov.cluster.controllers.base import Controller, Obj

__all__ = ["ClusterRoleAggregationController", "aggregated_rules"]


def aggregated_rules(role: Obj, all_roles: list[Obj]) -> list[dict[str, Any]] | None:
    """The rules ``role`` should hold; None when it has no (valid) aggregationRule."""
    aggregation = role.get("aggregationRule")
    if not aggregation:
        return None
    try:
        selectors = [label_selector_from_object(s) for s in aggregation.get("clusterRoleSelectors") or ()]
    except SelectorError:
        return None
    own = role["metadata"]["name"]
    rules: list[dict[str, Any]] = []
    for other in sorted(all_roles, key=lambda r: r["metadata"]["name"]):
        if other["metadata"]["name"] == own:
            continue
        if not any(s.matches_object(other) for s in selectors):
            continue
        for rule in other.get("rules") or ():
            if rule not in rules:
                rules.append(rule)
    return rules


class ClusterRoleAggregationController(Controller):
    name = "clusterrole-aggregation"
    identity = "clusterrole-aggregation-controller"

    def setup(self) -> None:
        self.roles = self.ctx.informers.get(CLUSTERROLES)
        self.roles.add_handler(
            EventHandler(
                lambda _o: self._requeue(), lambda _o, _n: self._requeue(), lambda _o: self._requeue()
            )
        )

    def _requeue(self) -> None:
        for role in self.roles.store.items():
            if role.get("aggregationRule"):
                self.queue.add(role["metadata"]["name"])

    async def reconcile(self, key: str) -> float | None:
        role = self.roles.store.get(key)
        if role is None:
            return None
        rules = aggregated_rules(role, self.roles.store.items())
        if rules is None or rules == (role.get("rules") or []):
            return None
        try:
            await self.client.update(CLUSTERROLES, {**role, "rules": rules})
        except NotFound:
            return None
        except Conflict:
            return 0.2  # the cache is behind: try again when it caught up
        return None
