"""What the StatefulSet and DaemonSet controllers share about ControllerRevisions.

Design: a revision keeps one pod template as upstream writes it: ``data`` is the patch
``{"spec": {"template": {..., "$patch": "replace"}}}`` with the template as Go's
``json.Marshal`` of the typed object writes it (:mod:`kprov.cluster.api.wire.go_json`), so that
clients comparing revision bytes with a set's template (``daemon.Match``) find it, and
``kubectl rollout undo`` can apply it as a strategic merge patch. A revision is owned by its
set (controller reference), carries the set's annotations and the template's labels plus the
set kind's hash label, and ``revision`` numbers it. Pruning keeps ``revisionHistoryLimit``
(default 10) revisions besides those live pods or the set still use, deleting the oldest.
"""

from __future__ import annotations

import contextlib
import copy
from typing import Any

import orjson

from kprov.cluster.api.objects import new_controller_ref
from kprov.cluster.api.wire.go_json import canonical_bytes, typed_json
from kprov.cluster.client.errors import NotFound
from kprov.cluster.client.resources import CONTROLLER_REVISIONS
from kprov.cluster.client.rest import ApiClient

__all__ = ["new_revision", "number_of", "prune", "template_of", "template_patch"]

Obj = dict[str, Any]


def template_patch(template: Obj) -> Obj:
    """The revision ``data`` for a pod template (keys in Go's sorted order)."""
    typed = typed_json(template, "core.PodTemplateSpec")
    return orjson.loads(canonical_bytes({"spec": {"template": {**typed, "$patch": "replace"}}}))


def template_of(revision: Obj) -> Obj:
    """The pod template a revision keeps."""
    template = copy.deepcopy((((revision.get("data") or {}).get("spec") or {}).get("template")) or {})
    template.pop("$patch", None)
    meta = template.get("metadata") or {}
    if meta.get("creationTimestamp", "") is None:  # Go's zero Time, not a value to copy into pods
        del meta["creationTimestamp"]
    return template


def number_of(revision: Obj) -> int:
    return int(revision.get("revision") or 0)


def new_revision(owner: Obj, name: str, hash_label: tuple[str, str], template: Obj, number: int) -> Obj:
    """The ControllerRevision of ``template`` for ``owner`` (which has apiVersion and kind)."""
    meta = owner["metadata"]
    labels = {**((template.get("metadata") or {}).get("labels") or {}), hash_label[0]: hash_label[1]}
    revision_meta: Obj = {
        "name": name,
        "namespace": meta["namespace"],
        "labels": labels,
        "ownerReferences": [new_controller_ref(owner)],
    }
    if meta.get("annotations"):
        revision_meta["annotations"] = dict(meta["annotations"])
    return {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": revision_meta,
        "data": template_patch(template),
        "revision": number,
    }


async def prune(client: ApiClient, owner: Obj, revisions: list[Obj], keep: set[str]) -> None:
    """Delete the oldest revisions not named in ``keep`` beyond the owner's history limit."""
    limit = (owner.get("spec") or {}).get("revisionHistoryLimit")
    limit = 10 if limit is None else int(limit)
    idle = sorted((r for r in revisions if r["metadata"]["name"] not in keep), key=number_of)
    namespace = owner["metadata"]["namespace"]
    for revision in idle[: max(0, len(idle) - limit)]:
        with contextlib.suppress(NotFound):
            await client.delete(CONTROLLER_REVISIONS, revision["metadata"]["name"], namespace)
