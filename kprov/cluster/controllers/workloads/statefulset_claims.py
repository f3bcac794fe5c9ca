"""A StatefulSet's volumeClaimTemplates: one claim per template and ordinal, kept across pod
restarts, removed as persistentVolumeClaimRetentionPolicy says (as upstream's
StatefulSet controller does).

Design: the claim of template ``t`` for pod ``<set>-<i>`` is ``t-<set>-<i>``, labelled with the
set's selector labels plus the template's own, created before the pod if it does not exist
(an existing one, bound or not, is reused: that is how data survives a pod's deletion). The
pod's volume named ``t`` points at that claim. Retention: ``whenDeleted: Delete`` makes the
set an owner of the claims it creates (the garbage collector removes them with the set);
``whenScaled: Delete`` makes a condemned pod (ordinal >= replicas) an owner of its claims
just before it is deleted, so they go with it; Retain (the default for both) leaves claims
alone.
"""

from __future__ import annotations

import contextlib
import copy
from typing import Any

from kprov.cluster.client.errors import AlreadyExists, NotFound
from kprov.cluster.client.resources import PERSISTENT_VOLUME_CLAIMS
from kprov.cluster.client.rest import ApiClient

__all__ = [
    "claim_for",
    "claim_name",
    "claims_of_pod",
    "condemn_claims",
    "ensure_claims",
    "with_claim_volumes",
]

Obj = dict[str, Any]


def claim_name(template: Obj, set_name: str, ordinal: int) -> str:
    return f"{(template.get('metadata') or {}).get('name', '')}-{set_name}-{ordinal}"


def _owner(obj: Obj, api_version: str, kind: str) -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _retention(sts: Obj) -> dict[str, str]:
    policy = (sts.get("spec") or {}).get("persistentVolumeClaimRetentionPolicy") or {}
    return {
        "whenDeleted": policy.get("whenDeleted") or "Retain",
        "whenScaled": policy.get("whenScaled") or "Retain",
    }


def claim_for(sts: Obj, template: Obj, ordinal: int) -> Obj:
    """The claim for ``template`` and ``ordinal`` (owned by the set when whenDeleted is Delete)."""
    meta = template.get("metadata") or {}
    set_meta = sts["metadata"]
    selector = ((sts.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    claim: Obj = {
        "metadata": {
            "name": claim_name(template, set_meta["name"], ordinal),
            "namespace": set_meta["namespace"],
            "labels": {**selector, **(meta.get("labels") or {})},
        },
        "spec": copy.deepcopy(template.get("spec") or {}),
    }
    if meta.get("annotations"):
        claim["metadata"]["annotations"] = dict(meta["annotations"])
    if _retention(sts)["whenDeleted"] == "Delete":
        claim["metadata"]["ownerReferences"] = [_owner(sts, "apps/v1", "StatefulSet")]
    return claim


def with_claim_volumes(sts: Obj, pod: Obj, ordinal: int) -> Obj:
    """``pod`` with a persistentVolumeClaim volume per claim template (same-named ones replaced)."""
    templates = (sts.get("spec") or {}).get("volumeClaimTemplates") or []
    if not templates:
        return pod
    names = {(t.get("metadata") or {}).get("name") for t in templates}
    volumes = [v for v in pod["spec"].get("volumes") or [] if v.get("name") not in names]
    for template in templates:
        volumes.append(
            {
                "name": (template.get("metadata") or {}).get("name"),
                "persistentVolumeClaim": {
                    "claimName": claim_name(template, sts["metadata"]["name"], ordinal)
                },
            }
        )
    pod["spec"]["volumes"] = volumes
    return pod


def claims_of_pod(sts: Obj, ordinal: int) -> list[str]:
    return [
        claim_name(t, sts["metadata"]["name"], ordinal)
        for t in (sts.get("spec") or {}).get("volumeClaimTemplates") or []
    ]


async def ensure_claims(client: ApiClient, sts: Obj, ordinal: int, existing: Any) -> list[str]:
    """Create the claims pod ``ordinal`` needs that ``existing`` (a store) lacks; return the created names."""
    created = []
    for template in (sts.get("spec") or {}).get("volumeClaimTemplates") or []:
        name = claim_name(template, sts["metadata"]["name"], ordinal)
        if existing.get(f"{sts['metadata']['namespace']}/{name}") is not None:
            continue
        try:
            await client.create(PERSISTENT_VOLUME_CLAIMS, claim_for(sts, template, ordinal))
            created.append(name)
        except AlreadyExists:
            pass
    return created


async def condemn_claims(client: ApiClient, sts: Obj, pod: Obj, ordinal: int, existing: Any) -> None:
    """With whenScaled Delete: make the condemned ``pod`` an owner of its claims."""
    if _retention(sts)["whenScaled"] != "Delete":
        return
    namespace = sts["metadata"]["namespace"]
    owner = {**_owner(pod, "v1", "Pod"), "controller": False}
    for name in claims_of_pod(sts, ordinal):
        claim = existing.get(f"{namespace}/{name}")
        if claim is None:
            continue
        refs = list((claim.get("metadata") or {}).get("ownerReferences") or [])
        if any(r.get("uid") == owner["uid"] for r in refs):
            continue
        refs = [r for r in refs if r.get("kind") != "StatefulSet" or r.get("uid") != sts["metadata"]["uid"]]
        if _retention(sts)["whenDeleted"] == "Delete":
            refs.append({**_owner(sts, "apps/v1", "StatefulSet"), "controller": False})
        # an update, as upstream's (its role may update claims, not patch them); the cached
        # resourceVersion makes it a compare-and-swap
        updated = {**claim, "metadata": {**claim["metadata"], "ownerReferences": [*refs, owner]}}
        with contextlib.suppress(NotFound):  # a Conflict goes up: the set is synced again
            await client.update(PERSISTENT_VOLUME_CLAIMS, updated)
