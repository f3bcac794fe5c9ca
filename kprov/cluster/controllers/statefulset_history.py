"""A StatefulSet's revision history as ControllerRevisions, as upstream's StatefulSet
controller keeps it.

Design: each distinct pod template the set has had is one ControllerRevision named
``<set>-<template hash>`` (the value pods carry in ``controller-revision-hash``), owned by
the set, labelled with the template's labels plus ``controller.kubernetes.io/hash``, its
``data`` the template as a replacing patch (``{"spec": {"template": {..., "$patch":
"replace"}}}``) and ``revision`` a number one above the newest. Going back to an earlier
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

from kprov.cluster.api.objects import new_controller_ref
from kprov.cluster.client.errors import AlreadyExists, Conflict, NotFound
from kprov.cluster.client.resources import CONTROLLER_REVISIONS
from kprov.cluster.client.rest import ApiClient
from kprov.cluster.controllers.rollout import template_hash

__all__ = ["HASH_LABEL", "History", "revision_name", "sync_history", "template_of"]

Obj = dict[str, Any]
HASH_LABEL = "controller.kubernetes.io/hash"


@dataclass(frozen=True)
class History:
    current: str  # revision names
    update: str
    templates: dict[str, Obj]  # name -> pod template


def revision_name(sts: Obj, template: Obj) -> str:
    return f"{sts['metadata']['name']}-{template_hash(template)}"


def template_of(revision: Obj) -> Obj:
    template = copy.deepcopy((((revision.get("data") or {}).get("spec") or {}).get("template")) or {})
    template.pop("$patch", None)
    return template


def _number(revision: Obj) -> int:
    return int(revision.get("revision") or 0)


def _body(sts: Obj, name: str, template: Obj, number: int) -> Obj:
    hash_ = name.rsplit("-", 1)[-1]
    labels = {**((template.get("metadata") or {}).get("labels") or {}), HASH_LABEL: hash_}
    owner = {"apiVersion": "apps/v1", "kind": "StatefulSet", **sts}
    return {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {
            "name": name,
            "namespace": sts["metadata"]["namespace"],
            "labels": labels,
            "ownerReferences": [new_controller_ref(owner)],
        },
        "data": {"spec": {"template": {**copy.deepcopy(template), "$patch": "replace"}}},
        "revision": number,
    }


async def sync_history(client: ApiClient, sts: Obj, revisions: list[Obj], used: set[str]) -> History:
    """Make sure the set's current template has its revision; return current/update names and
    every known revision's template. ``revisions``: the set's own, from the cache; ``used``:
    the revision names live pods carry (never pruned)."""
    template = (sts.get("spec") or {}).get("template") or {}
    update = revision_name(sts, template)
    by_name = {r["metadata"]["name"]: r for r in revisions}
    newest = max((_number(r) for r in revisions), default=0)
    mine = by_name.get(update)
    if mine is None:
        with contextlib.suppress(AlreadyExists):
            mine = await client.create(CONTROLLER_REVISIONS, _body(sts, update, template, newest + 1))
        if mine is None:
            mine = await client.get(CONTROLLER_REVISIONS, update, sts["metadata"]["namespace"])
        by_name[update] = mine
    elif _number(mine) < newest:  # rolled back to an earlier template: it is the newest again
        with contextlib.suppress(Conflict, NotFound):
            mine = await client.update(CONTROLLER_REVISIONS, {**mine, "revision": newest + 1})
            by_name[update] = mine
    current = str(((sts.get("status") or {}).get("currentRevision")) or "")
    if current not in by_name:
        current = update
    await _prune(client, sts, list(by_name.values()), {current, update, *used})
    templates = {name: template_of(r) for name, r in by_name.items()}
    templates[update] = copy.deepcopy(template)
    return History(current=current, update=update, templates=templates)


async def _prune(client: ApiClient, sts: Obj, revisions: list[Obj], keep: set[str]) -> None:
    limit = (sts.get("spec") or {}).get("revisionHistoryLimit")
    limit = 10 if limit is None else int(limit)
    idle = sorted((r for r in revisions if r["metadata"]["name"] not in keep), key=_number)
    for revision in idle[: max(0, len(idle) - limit)]:
        with contextlib.suppress(NotFound):
            name = revision["metadata"]["name"]
            await client.delete(CONTROLLER_REVISIONS, name, sts["metadata"]["namespace"])
