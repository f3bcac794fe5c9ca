"""A pod's addresses in its status (``podIPs``/``podIP``, ``hostIPs``/``hostIP``), and a node's
pod ranges (``spec.podCIDRs``/``podCIDR``).

As kube-apiserver: the v1 fields are synced the way its conversion syncs them (``podIP`` is
always ``podIPs[0]``; a writer naming only the singular gets the plural), then validated as
its pod status update is: valid addresses, at most one per family, no duplicates, and
``hostIPs[0]`` equal to ``hostIP``. Families are data here: one rule for both lists.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from kprov.cluster.api.errors import Cause
from kprov.cluster.api.sloppy_ip import parse_ip_sloppy
from kprov.cluster.api.validation.field_errors import Errors

__all__ = ["sync_pod_ips", "validate_pod_cidrs", "validate_pod_ips"]

_VALID_IP = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
_ONE_PER_FAMILY = "may specify no more than one IP for each IP family"
_LISTS = (("podIPs", "podIP", "PodIP"), ("hostIPs", "hostIP", "HostIP"))


def sync_pod_ips(status: Any) -> None:
    """``podIP`` from ``podIPs[0]`` (or ``podIPs`` from ``podIP``); ``hostIPs`` from ``hostIP``
    when only the singular is given."""
    if not isinstance(status, dict):
        return
    ips = status.get("podIPs")
    if isinstance(ips, list) and ips and isinstance(ips[0], dict) and ips[0].get("ip"):
        status["podIP"] = ips[0]["ip"]
    elif status.get("podIP") and not ips:
        status["podIPs"] = [{"ip": status["podIP"]}]
    if status.get("hostIP") and not status.get("hostIPs"):
        status["hostIPs"] = [{"ip": status["hostIP"]}]


def _go_entry(type_name: str, entry: Any) -> str:
    ip = entry.get("ip", "") if isinstance(entry, dict) else ""
    return f"core.{type_name}{{IP:{json.dumps(ip)}}}"


def validate_pod_ips(errors: Errors, status: Any) -> None:
    if not isinstance(status, dict):
        return
    for field, single, type_name in _LISTS:
        entries = status.get(field)
        if not isinstance(entries, list) or not entries:
            continue
        path = f"status.{field}"
        ips = [e.get("ip", "") if isinstance(e, dict) else "" for e in entries]
        for index, ip in enumerate(ips):
            if parse_ip_sloppy(ip) is None:
                errors.invalid(f"{path}[{index}]", ip, _VALID_IP)
        if field == "hostIPs" and status.get(single, "") != ips[0]:
            errors.invalid(f"{path}[0].ip", ips[0], "must be equal to `hostIP`")
        if len(entries) < 2:
            continue
        versions = [a.version for a in (parse_ip_sloppy(ip) for ip in ips) if a is not None]
        if len(versions) != len(ips) or len(set(versions)) != 2 or len(ips) > 2:
            shown = f"[]core.{type_name}{{" + ", ".join(_go_entry(type_name, e) for e in entries) + "}"
            message = f"Invalid value: {shown}: {_ONE_PER_FAMILY}"
            errors.causes.append(Cause(path, "FieldValueInvalid", message))
        seen: set[str] = set()
        for index, (ip, entry) in enumerate(zip(ips, entries, strict=True)):
            if ip in seen:
                errors.causes.append(Cause(f"{path}[{index}]", "FieldValueDuplicate",
                                           f"Duplicate value: {_go_entry(type_name, entry)}"))
            seen.add(ip)


_VALID_CIDR = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"
_CIDR_LOCKED = 'node updates may not change podCIDR except from "" to valid'


def _cidrs(spec: Any) -> list[str]:
    if not isinstance(spec, dict):
        return []
    cidrs = spec.get("podCIDRs")
    if isinstance(cidrs, list) and cidrs:
        return [str(c) for c in cidrs]
    return [spec["podCIDR"]] if spec.get("podCIDR") else []


def validate_pod_cidrs(errors: Errors, spec: Any, old_spec: Any = None) -> None:
    """A node's ``podCIDRs`` (``podCIDR`` the first): valid, one per family, no duplicates;
    once set, never changed (upstream's node validation)."""
    cidrs = _cidrs(spec)
    versions: list[int] = []
    for index, cidr in enumerate(cidrs):
        try:
            versions.append(ipaddress.ip_network(cidr, strict=False).version)
        except ValueError:
            errors.invalid(f"spec.podCIDRs[{index}]", cidr, _VALID_CIDR)
    if len(cidrs) > 1:
        if len(versions) != len(cidrs) or len(set(versions)) != 2 or len(cidrs) > 2:
            shown = "[]string{" + ", ".join(json.dumps(c) for c in cidrs) + "}"
            detail = "may specify no more than one CIDR for each IP family"
            message = f"Invalid value: {shown}: {detail}"
            errors.causes.append(Cause("spec.podCIDRs", "FieldValueInvalid", message))
        for index, cidr in enumerate(cidrs):
            if cidr in cidrs[:index]:
                errors.duplicate(f"spec.podCIDRs[{index}]", cidr)
    old = _cidrs(old_spec)
    if old and old != cidrs:
        errors.forbidden("spec.podCIDRs", _CIDR_LOCKED)
