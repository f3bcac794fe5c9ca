"""FlowSchemas' ``Dangling`` condition, maintained as kube-apiserver's APF config controller does.

Design: every API server keeps, on each FlowSchema, the condition saying whether the
PriorityLevelConfiguration it names exists: ``status: "False"``, reason ``Found`` when it
does, ``"True"``/``NotFound`` when not, with upstream's messages, and a new
``lastTransitionTime`` whenever status, reason or message change (`desired_condition`,
`needs_update`: pure). `DanglingConditions` compares the watch cache's FlowSchemas and
levels every second and writes only the schemas whose condition differs, through the status
subresource with a re-check inside the update (so several servers converge on one write).
Clients (``kubectl get flowschemas``' MISSINGPL column, the e2e suite's wait for a new
schema to be "in steady state") read it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from kprov.cluster.api.objects import now_rfc3339
from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.handlers.writes import guaranteed_update
from kprov.cluster.apiserver.request.status import ApiError
from kprov.cluster.background import stop_requested, stop_tasks
from kprov.cluster.storage import resource_prefix

__all__ = ["DanglingConditions", "desired_condition", "needs_update"]

_log = logging.getLogger(__name__)
_GROUP = "flowcontrol.apiserver.k8s.io"
_INTERVAL_S = 1.0


def desired_condition(level_name: str, level_exists: bool) -> dict[str, str]:
    """The Dangling condition (without its time) of a schema naming ``level_name``."""
    named = f'This FlowSchema references the PriorityLevelConfiguration object named "{level_name}"'
    if level_exists:
        return {
            "type": "Dangling",
            "status": "False",
            "reason": "Found",
            "message": f"{named} and it exists",
        }
    return {
        "type": "Dangling",
        "status": "True",
        "reason": "NotFound",
        "message": f"{named} but there is no such object",
    }


def needs_update(schema: dict[str, Any], levels: set[str]) -> dict[str, str] | None:
    """The condition to write on ``schema`` (levels: the existing level names), or None."""
    level = str(((schema.get("spec") or {}).get("priorityLevelConfiguration") or {}).get("name", ""))
    wanted = desired_condition(level, level in levels)
    for condition in (schema.get("status") or {}).get("conditions") or []:
        if isinstance(condition, dict) and condition.get("type") == "Dangling":
            same = all(condition.get(k) == wanted[k] for k in ("status", "reason", "message"))
            return None if same else wanted
    return wanted


def _with_condition(obj: dict[str, Any], wanted: dict[str, str]) -> dict[str, Any]:
    status = obj.get("status")
    if not isinstance(status, dict):
        obj["status"] = status = {}
    others = [
        c for c in status.get("conditions") or [] if not (isinstance(c, dict) and c.get("type") == "Dangling")
    ]
    condition = {"type": "Dangling", "status": wanted["status"], "lastTransitionTime": now_rfc3339(),
                 "reason": wanted["reason"], "message": wanted["message"]}
    status["conditions"] = [*others, condition]
    return obj


class DanglingConditions:
    """The loop keeping every FlowSchema's Dangling condition current."""

    def __init__(self, ctx: ApiContext) -> None:
        self._ctx = ctx
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="apf-dangling-conditions")

    async def stop(self) -> None:
        await stop_tasks(self._task)

    async def sync(self) -> int:
        """Write the conditions that differ; how many were written."""
        info = self._ctx.registry.get(_GROUP, "v1", "flowschemas")
        if info is None:
            return 0
        cache = self._ctx.cache
        level_objects = cache.scope(resource_prefix(_GROUP, "prioritylevelconfigurations"))
        levels = {str(o["metadata"]["name"]) for o in level_objects}
        written = 0
        for schema in cache.scope(resource_prefix(_GROUP, "flowschemas")):
            if needs_update(schema, levels) is None:
                continue

            def mutate(obj: dict[str, Any]) -> dict[str, Any]:
                wanted = needs_update(obj, levels)
                return obj if wanted is None else _with_condition(obj, wanted)

            try:
                await guaranteed_update(self._ctx, info, "", schema["metadata"]["name"], mutate,
                                        subresource="status",
                                        field_manager="api-priority-and-fairness-config-consumer-v1")
                written += 1
            except ApiError as exc:
                if exc.code != 404:  # deleted meanwhile: nothing to keep
                    _log.warning("flowschema %s: status: %s", schema["metadata"]["name"], exc)
        return written

    async def _run(self) -> None:
        while True:
            try:
                await self.sync()
            except Exception as exc:  # etcd away: next time
                if stop_requested():
                    raise asyncio.CancelledError from exc
                _log.warning("flowschema conditions: %r", exc)
            if stop_requested():
                return
            await asyncio.sleep(_INTERVAL_S)
