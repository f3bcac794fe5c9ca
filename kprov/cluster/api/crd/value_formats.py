"""The JSON value checks a structural schema's keywords need: a value's type name, whether it
is of a node's ``type`` (and ``x-kubernetes-int-or-string``), whether a string meets a
``format`` kube-apiserver checks for custom objects, and numbers printed as Go prints them in
messages. Shared by the validation walk (:mod:`.structural`) and its fast predicates
(:mod:`.fast_checks`).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import ipaddress
import re
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kprov.cluster.api.crd.schema_node import Node

__all__ = ["format_ok", "number_text", "type_name", "type_ok"]

_TYPE_NAMES = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
    type(None): "null",
}


def type_name(value: Any) -> str:
    return _TYPE_NAMES.get(type(value), "object")


def type_ok(node: Node, value: Any) -> bool:
    kind = node.type
    if node.int_or_string:
        return (isinstance(value, int) and not isinstance(value, bool)) or isinstance(value, str)
    if not kind:
        return True
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return type_name(value) == kind


def format_ok(fmt: str, value: str) -> bool:
    checks: dict[str, Callable[[str], object]] = {
        "date-time": lambda v: dt.datetime.fromisoformat(v.replace("Z", "+00:00")),
        "datetime": lambda v: dt.datetime.fromisoformat(v.replace("Z", "+00:00")),
        "date": lambda v: dt.date.fromisoformat(v),
        "ipv4": lambda v: ipaddress.IPv4Address(v),
        "ipv6": lambda v: ipaddress.IPv6Address(v),
        "cidr": lambda v: ipaddress.ip_network(v, strict=False),
        "uuid": lambda v: uuid.UUID(v),
        "byte": lambda v: base64.b64decode(v, validate=True),
    }
    patterns = {
        "email": r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        "hostname": r"^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)*$",
        "mac": r"^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$",
        "uri": r"^[A-Za-z][A-Za-z0-9+.-]*:\S*$",
    }
    if fmt in checks:
        try:
            checks[fmt](value)
        except (ValueError, binascii.Error):
            return False
        return True
    if fmt in patterns:
        return re.match(patterns[fmt], value) is not None
    return True  # formats kube-apiserver does not check either


def number_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
