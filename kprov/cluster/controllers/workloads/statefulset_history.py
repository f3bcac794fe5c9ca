"""A StatefulSet's revision history as ControllerRevisions, as upstream's StatefulSet
controller keeps it.

Design: each distinct pod template the set has had is one ControllerRevision named
``<set>-<template hash>`` (the value pods carry in ``controller-revision-hash``), labelled
``controller.kubernetes.io/hash``, written as :mod:`.controller_history` writes every
revision, its ``revision`` a number one above the newest. Going back to an earlier
template (a roll back) reuses its revision and renumbers it newest. The *update* revision
is the current template's; the *current* revision is the one ``status.currentRevision``
names (the update one when that is gone). Pods below the partition are made from the
current revision's template, so a deleted canary-era pod comes back as it was. Beyond
``revisionHistoryLimit`` (default 10) the oldest revisions no pod uses are deleted.
"""

from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass
from typing import Any

from kprov.cluster.client.errors import AlreadyExists, Conflict, NotFound
from kprov.cluster.client.resources import CONTROLLER_REVISIONS
from kprov.cluster.client.rest import ApiClient
from kprov.cluster.controllers.workloads.controller_history import new_revision, number_of, prune, template_of
from kprov.cluster.controllers.workloads.rollout import template_hash

__all__ = ["HASH_LABEL", "History", "revision_name", "sync_history"]

Obj = dict[str, Any]
HASH_LABEL = "controller.kubernetes.io/hash"


@dataclass(frozen=True)
class History:
    current: str  # revision names
    update: str
    templates: dict[str, Obj]  # name -> pod template


def revision_name(sts: Obj, template: Obj) -> str:
    return f"{sts['metadata']['name']}-{template_hash(template)}"


def _body(sts: Obj, name: str, template: Obj, number: int) -> Obj:
    owner = {"apiVersion": "apps/v1", "kind": "StatefulSet", **sts}
    return new_revision(owner, name, (HASH_LABEL, name.rsplit("-", 1)[-1]), template, number)


async def sync_history(client: ApiClient, sts: Obj, revisions: list[Obj], used: set[str]) -> History:
    """Make sure the set's current template has its revision; return current/update names and
    every known revision's template. ``revisions``: the set's own, from the cache; ``used``:
    the revision names live pods carry (never pruned)."""
    template = (sts.get("spec") or {}).get("template") or {}
    update = revision_name(sts, template)
    by_name = {r["metadata"]["name"]: r for r in revisions}
    newest = max((number_of(r) for r in revisions), default=0)
    mine = by_name.get(update)
    if mine is None:
        with contextlib.suppress(AlreadyExists):
            mine = await client.create(CONTROLLER_REVISIONS, _body(sts, update, template, newest + 1))
        if mine is None:
            mine = await client.get(CONTROLLER_REVISIONS, update, sts["metadata"]["namespace"])
        by_name[update] = mine
    elif number_of(mine) < newest:  # rolled back to an earlier template: it is the newest again
        with contextlib.suppress(Conflict, NotFound):
            mine = await client.update(CONTROLLER_REVISIONS, {**mine, "revision": newest + 1})
            by_name[update] = mine
    current = str(((sts.get("status") or {}).get("currentRevision")) or "")
    if current not in by_name:
        current = update
    await prune(client, sts, list(by_name.values()), {current, update, *used})
    templates = {name: template_of(r) for name, r in by_name.items()}
    templates[update] = copy.deepcopy(template)
    return History(current=current, update=update, templates=templates)
