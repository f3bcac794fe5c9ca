"""A DaemonSet's revision history as ControllerRevisions, as upstream's DaemonSet controller
keeps it (``constructHistory``).

Design: the set's revisions are split into the *current* ones, whose ``data`` is the set's
template as :mod:`.controller_history` writes it, and the old ones. None current: one is
created, named ``<set>-<template hash>``, numbered one above the old ones. One current whose
number is not above the old ones (a roll back to an earlier template): it is renumbered. More
than one (a client made a copy): the highest-numbered is kept, the daemon pods labelled with
another's hash are relabelled to its hash, and the others are deleted. The current
revision's ``controller-revision-hash`` label is what daemon pods carry; a pod with another
is out of date. Old revisions beyond ``revisionHistoryLimit`` that no daemon pod uses are
deleted, oldest first. A name taken by another template (a hash collision) bumps
``status.collisionCount``, which the next hash includes.
"""

from __future__ import annotations

import contextlib
from typing import Any

from kprov.cluster.client.errors import AlreadyExists, Conflict, NotFound
from kprov.cluster.client.resources import CONTROLLER_REVISIONS, DAEMONSETS, PODS
from kprov.cluster.client.rest import ApiClient
from kprov.cluster.controllers.workloads.controller_history import (
    new_revision,
    number_of,
    prune,
    template_patch,
)
from kprov.cluster.controllers.workloads.rollout import template_hash

__all__ = ["HASH_LABEL", "current_hash", "sync_daemon_history"]

Obj = dict[str, Any]
HASH_LABEL = "controller-revision-hash"


def current_hash(revision: Obj) -> str:
    """The hash daemon pods made from ``revision`` carry (the name's suffix if unlabelled)."""
    labels = revision["metadata"].get("labels") or {}
    return str(labels.get(HASH_LABEL) or revision["metadata"]["name"].rsplit("-", 1)[-1])


async def sync_daemon_history(
    client: ApiClient, ds: Obj, revisions: list[Obj], pods: list[Obj]
) -> Obj | None:
    """The set's current revision after making the history agree with its template (None:
    its name was taken by another template; sync again once the collision count is saved).
    ``ds`` has apiVersion and kind; ``revisions`` are its own (from the cache); ``pods`` its
    daemon pods (their hash labels keep old revisions from being pruned)."""
    template = (ds.get("spec") or {}).get("template") or {}
    patch = template_patch(template)
    current = [r for r in revisions if r.get("data") == patch]
    old = [r for r in revisions if r.get("data") != patch]
    next_number = max((number_of(r) for r in old), default=0) + 1
    if not current:
        created = await _create(client, ds, template, patch, next_number)
        if created is None:
            return None
        cur = created
    elif len(current) == 1:
        cur = current[0]
        if number_of(cur) < next_number:
            with contextlib.suppress(Conflict, NotFound):
                cur = await client.update(CONTROLLER_REVISIONS, {**cur, "revision": next_number})
    else:
        cur = await _dedup(client, current, pods)
    live = {str((p["metadata"].get("labels") or {}).get(HASH_LABEL, "")) for p in pods}
    keep = {r["metadata"]["name"] for r in old if current_hash(r) in live}
    await prune(client, ds, old, keep)
    return cur


async def _create(client: ApiClient, ds: Obj, template: Obj, patch: Obj, number: int) -> Obj | None:
    hash_ = template_hash(template, int((ds.get("status") or {}).get("collisionCount") or 0))
    name = f"{ds['metadata']['name']}-{hash_}"
    try:
        revision = new_revision(ds, name, (HASH_LABEL, hash_), template, number)
        return await client.create(CONTROLLER_REVISIONS, revision)
    except AlreadyExists:
        existing = await client.get(CONTROLLER_REVISIONS, name, ds["metadata"]["namespace"])
    if existing.get("data") == patch:  # made by a sync the cache has not seen
        return existing
    # another template with the same hash: count the collision (the next hash differs), retry
    status = dict(ds.get("status") or {})
    status["collisionCount"] = int(status.get("collisionCount") or 0) + 1
    with contextlib.suppress(Conflict, NotFound):
        await client.update_status(DAEMONSETS, {**ds, "status": status})
    return None


async def _dedup(client: ApiClient, current: list[Obj], pods: list[Obj]) -> Obj:
    keep = max(current, key=number_of)
    keep_hash = current_hash(keep)
    for duplicate in current:
        if duplicate is keep:
            continue
        stale = current_hash(duplicate)
        for pod in pods:
            if (pod["metadata"].get("labels") or {}).get(HASH_LABEL) == stale:
                with contextlib.suppress(NotFound):
                    await client.patch(
                        PODS, pod["metadata"]["name"], {"metadata": {"labels": {HASH_LABEL: keep_hash}}},
                        pod["metadata"]["namespace"],
                    )
        meta = duplicate["metadata"]
        with contextlib.suppress(NotFound):
            await client.delete(CONTROLLER_REVISIONS, meta["name"], meta["namespace"])
    return keep
