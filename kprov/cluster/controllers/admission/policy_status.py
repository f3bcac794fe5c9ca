"""ValidatingAdmissionPolicy status: ``status.typeChecking`` and ``status.observedGeneration``.

As upstream's controller of that name (kube-controller-manager): a policy whose
``metadata.generation`` is above its ``status.observedGeneration`` is type-checked
(:mod:`kprov.cluster.api.cel.typecheck`) and its status applied server-side, forced, as
field manager ``validatingadmissionpolicy-status-controller``: the observed generation and
``typeChecking.expressionWarnings`` (``typeChecking: {}`` when there are none). The kinds'
schemas come from the API server as upstream's resolver reads them: the resource-to-kind
mapping from discovery, the schemas from ``/openapi/v3`` (so custom resources' schemas are
there too), both read afresh for each check (checks are rare: one per policy generation).
A group-version that discovery or /openapi/v3 does not answer for (404, 403, 503 of an
aggregated server) is left out of the check, as upstream's resolver skips a kind it cannot
resolve; an unreachable API server retries the policy after a second. Admission never
waits for this: it is off the request path.
"""

from __future__ import annotations

import logging
from typing import Any

from kprov.cluster.api.cel.typecheck import GroupVersionKind, KindSchema, check_policy, kinds_to_check
from kprov.cluster.client.errors import ApiError, NotFound, ServerUnavailable
from kprov.cluster.client.informer import EventHandler
from kprov.cluster.client.resources import Resource
from kprov.cluster.client.rest import ApiClient
from kprov.cluster.controllers.base import Controller, Obj

__all__ = ["POLICIES", "SchemaSource", "ValidatingAdmissionPolicyStatusController"]

log = logging.getLogger(__name__)

POLICIES = Resource(
    "admissionregistration.k8s.io", "v1", "validatingadmissionpolicies", "ValidatingAdmissionPolicy", False
)
_FIELD_MANAGER = "validatingadmissionpolicy-status-controller"


def _base(group: str, version: str) -> str:
    return f"/apis/{group}/{version}" if group else f"/api/{version}"


class SchemaSource:
    """Discovery and OpenAPI v3 documents of one check, each read at most once."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self._resources: dict[tuple[str, str], dict[str, str]] = {}
        self._documents: dict[tuple[str, str], dict[str, Any]] = {}

    async def _kinds_of(self, group: str, version: str) -> dict[str, str]:
        key = (group, version)
        if key not in self._resources:
            try:
                listing = await self.client.request("GET", _base(group, version))
            except ServerUnavailable:
                raise
            except ApiError:  # not served (or its aggregated server down): not checked, as upstream
                listing = {}
            self._resources[key] = {
                str(r.get("name")): str(r.get("kind"))
                for r in listing.get("resources") or ()
                if r.get("kind")
            }
        return self._resources[key]

    async def kinds(self, group: str, version: str, resource: str) -> list[GroupVersionKind]:
        kind = (await self._kinds_of(group, version)).get(resource)
        return [(group, version, kind)] if kind else []

    async def schema(self, gvk: GroupVersionKind) -> KindSchema | None:
        group, version, kind = gvk
        key = (group, version)
        if key not in self._documents:
            path = f"/openapi/v3/apis/{group}/{version}" if group else f"/openapi/v3/api/{version}"
            try:
                self._documents[key] = await self.client.request("GET", path)
            except ServerUnavailable:
                raise
            except ApiError:  # no schema: the kind is left out, as upstream's resolver does
                self._documents[key] = {}
        schemas = (self._documents[key].get("components") or {}).get("schemas") or {}
        for schema in schemas.values():
            for entry in schema.get("x-kubernetes-group-version-kind") or ():
                if (entry.get("group", ""), entry.get("version"), entry.get("kind")) == gvk:
                    return KindSchema(schema, schemas)
        return None


async def policy_warnings(policy: Obj, source: SchemaSource) -> list[dict[str, str]]:
    """The policy's expression warnings, its kinds' and params' schemas read through ``source``."""
    wanted: list[tuple[str, str, str]] = []

    def collect(group: str, version: str, resource: str) -> list[GroupVersionKind]:
        wanted.append((group, version, resource))
        return []

    kinds_to_check(policy, collect)  # first the resources it names, then map them in order
    mapped: dict[tuple[str, str, str], list[GroupVersionKind]] = {}
    for gvr in wanted:
        mapped[gvr] = await source.kinds(*gvr)
    gvks = kinds_to_check(policy, lambda g, v, r: mapped.get((g, v, r), []))
    kinds = [(gvk, found) for gvk in gvks if (found := await source.schema(gvk)) is not None]
    params: KindSchema | None = None
    param_kind = (policy.get("spec") or {}).get("paramKind") or {}
    if kinds and param_kind.get("kind"):
        group, _, version = str(param_kind.get("apiVersion", "")).rpartition("/")
        params = await source.schema((group, version, str(param_kind["kind"])))
    return check_policy(policy, kinds, params)


class ValidatingAdmissionPolicyStatusController(Controller):
    name = "validatingadmissionpolicy-status"
    identity = "validatingadmissionpolicy-status-controller"

    def setup(self) -> None:
        self.policies = self.ctx.informers.get(POLICIES)
        self.policies.add_handler(EventHandler(self.enqueue, lambda _o, new: self.enqueue(new), None))

    async def reconcile(self, key: str) -> float | None:
        policy = self.policies.store.get(key)
        if policy is None:
            return None
        generation = int(policy["metadata"].get("generation") or 0)
        if generation <= int((policy.get("status") or {}).get("observedGeneration") or 0):
            return None
        try:
            warnings = await policy_warnings(policy, SchemaSource(self.client))
            type_checking: dict[str, Any] = {"expressionWarnings": warnings} if warnings else {}
            await self.client.request(
                "PATCH",
                POLICIES.path(None, key, "status"),
                params={"fieldManager": _FIELD_MANAGER, "force": "true"},
                body={
                    "apiVersion": POLICIES.api_version,
                    "kind": POLICIES.kind,
                    "metadata": {"name": key},
                    "status": {"observedGeneration": generation, "typeChecking": type_checking},
                },
                content_type="application/apply-patch+yaml",
            )
        except NotFound:
            return None
        except ApiError as exc:
            log.warning("validatingadmissionpolicy %s: status not written: %s", key, exc)
            return 1.0
        return None
