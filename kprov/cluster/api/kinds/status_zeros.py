"""The zero-valued status fields kube-apiserver always serializes.

Design: a built-in kind's ``status`` is a non-pointer Go struct, so kube writes it on every
object (``"status":{}`` for a new Deployment), and a status field without ``omitempty``
(StatefulSet ``replicas``/``availableReplicas``, DaemonSet ``currentNumberScheduled``, ...)
or of struct type (Service ``loadBalancer``) is written even when zero. kprov stores what
clients send, so ``fill_status_zeros`` adds those fields, from the Go type table, before an
object of a built-in kind is stored. The per-type field list is worked out once.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from kprov.cluster.api.resources import ResourceInfo
from kprov.cluster.api.schema.known_fields import fields_of, is_struct, root_type
from kprov.cluster.api.wire.go_json import typed_json

__all__ = ["fill_status_zeros", "status_zeros"]


@functools.cache
def status_zeros(status_type: str) -> tuple[tuple[str, Any], ...]:
    """(field, zero value) of each field Go writes for a zero ``status_type`` struct."""
    if not is_struct(status_type):
        return ()
    fields = fields_of(status_type)
    zero = typed_json({}, status_type)
    # (Go writes fields in struct order; the protobuf numbers follow it for these types.)
    return tuple(sorted(zero.items(), key=lambda item: fields[item[0]].proto or 0))


@functools.cache
def _status_type(root: str) -> str:
    # (cached by the root type's name: a ResourceInfo's hash walks all its fields and
    # subresources, a few microseconds on every write)
    spec = fields_of(root).get("status")
    if spec is None or spec.pointer or not is_struct(spec.base):
        return ""
    return spec.base


def fill_status_zeros(info: ResourceInfo, obj: dict[str, Any]) -> None:
    """Give ``obj`` (a built-in kind's object, in place) the status fields Go always writes."""
    if info.custom is not None:
        return
    status_type = _status_type(root_type(info))
    if not status_type:
        return
    status = obj.get("status")
    if not isinstance(status, dict):
        status = obj["status"] = {}
    for name, zero in status_zeros(status_type):
        if name not in status:
            status[name] = copy.deepcopy(zero)
