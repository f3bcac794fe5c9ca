"""Recording core/v1 Events about objects (what ``kubectl describe`` shows).

:class:`EventRecorder` writes an Event for (object, type, reason, message). Repeats of the
same event within the recorder's life are folded into the first one: its ``count`` and
``lastTimestamp`` are patched instead of creating a new Event, as the real recorder does.
Recording never raises: a failed event write is logged and dropped.
"""

from __future__ import annotations

import logging
import uuid
from collections import OrderedDict
from typing import Any

from kprov.cluster.client.errors import ApiError
from kprov.cluster.client.resources import EVENTS
from kprov.cluster.client.rest import ApiClient
from kprov.cluster.client.timeutil import format_micro_time, format_time

__all__ = ["EventRecorder", "object_reference"]

log = logging.getLogger(__name__)


def object_reference(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    ref = {
        "apiVersion": obj.get("apiVersion", "v1"),
        "kind": obj.get("kind", ""),
        "name": meta.get("name", ""),
        "uid": meta.get("uid", ""),
        "resourceVersion": meta.get("resourceVersion", ""),
    }
    if meta.get("namespace"):
        ref["namespace"] = meta["namespace"]
    return ref


class EventRecorder:
    def __init__(self, client: ApiClient, component: str, host: str = "", max_remembered: int = 4096) -> None:
        self.client = client
        self.component = component
        self.host = host
        self._seen: OrderedDict[tuple[str, ...], tuple[str, str, int]] = OrderedDict()
        self._max = max_remembered

    async def record(self, obj: dict[str, Any], event_type: str, reason: str, message: str) -> None:
        ref = object_reference(obj)
        namespace = ref.get("namespace") or "default"
        key = (ref["uid"] or ref["name"], ref["kind"], event_type, reason, message)
        stamp = format_time()
        try:
            seen = self._seen.get(key)
            if seen is not None:
                ns, name, count = seen
                await self.client.patch(
                    EVENTS, name, {"count": count + 1, "lastTimestamp": stamp}, ns
                )
                self._seen[key] = (ns, name, count + 1)
                self._seen.move_to_end(key)
                return
            name = f"{ref['name']}.{uuid.uuid4().hex[:16]}"
            body = {
                "metadata": {"name": name, "namespace": namespace},
                "involvedObject": ref,
                "reason": reason,
                "message": message,
                "type": event_type,
                "source": {"component": self.component, **({"host": self.host} if self.host else {})},
                "firstTimestamp": stamp,
                "lastTimestamp": stamp,
                "eventTime": None,
                "count": 1,
                "reportingComponent": self.component,
                "reportingInstance": self.host or self.component,
                "action": reason,
            }
            await self.client.create(EVENTS, body, namespace)
            self._seen[key] = (namespace, name, 1)
            if len(self._seen) > self._max:
                self._seen.popitem(last=False)
        except ApiError as exc:
            log.debug("event %s/%s not recorded: %s", reason, ref["name"], exc)
            self._seen.pop(key, None)

    @staticmethod
    def micro_time() -> str:
        return format_micro_time()
