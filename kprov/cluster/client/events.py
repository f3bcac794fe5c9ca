"""Recording core/v1 Events about objects (what ``kubectl describe`` shows).

:class:`EventRecorder` writes an Event for (object, type, reason, message) after client-go's
correlation (:mod:`.event_correlator`): repeats patch the first Event's ``count`` and
``lastTimestamp``, events differing only by message are combined from the 10th variant on,
and a token bucket per source + object (burst 25, then one per 5 minutes) drops the rest, so
a failing object cannot flood the API server and etcd. Names are ``<object>.<ns hex>`` as
upstream's. Recording never raises: a failed event write is logged and dropped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from kprov.cluster.client.errors import AlreadyExists, ApiError, NotFound
from kprov.cluster.client.event_correlator import EventCorrelator
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
    def __init__(
        self, client: ApiClient, component: str, host: str = "", clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.client = client
        self.component = component
        self.host = host
        self.correlator = EventCorrelator(clock)

    def _event(self, ref: dict[str, Any], event_type: str, reason: str, message: str) -> dict[str, Any]:
        stamp = format_time()
        return {
            "metadata": {
                "name": f"{ref['name']}.{time.time_ns():x}",
                "namespace": ref.get("namespace") or "default",
            },
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

    async def record(self, obj: dict[str, Any], event_type: str, reason: str, message: str) -> None:
        ref = object_reference(obj)
        result = self.correlator.correlate(self._event(ref, event_type, reason, message))
        if result.skip:
            log.debug("event %s/%s dropped by the spam filter", reason, ref["name"])
            return
        event = result.event
        name, namespace = event["metadata"]["name"], event["metadata"]["namespace"]
        try:
            if result.patch is not None:
                try:
                    await self.client.patch(EVENTS, name, result.patch, namespace)
                    return
                except NotFound:  # deleted meanwhile (or its create failed): write it afresh
                    pass
            await self.client.create(EVENTS, event, namespace)
        except AlreadyExists:
            pass
        except ApiError as exc:
            log.debug("event %s/%s not recorded: %s", reason, ref["name"], exc)
            self.correlator.forget(result.key)

    @staticmethod
    def micro_time() -> str:
        return format_micro_time()
