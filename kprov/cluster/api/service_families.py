"""A Service's address families: ``ipFamilies``, ``ipFamilyPolicy`` and ``clusterIPs``.

The rules kube-apiserver's service registry applies before it allocates (its
``initIPFamilyFields``), as pure functions over the Service and the cluster's configured
families (the order of ``--service-cluster-ip-range``: the first is the default). Families
are data: nothing here has a branch per family, so IPv6-primary clusters need no code of
their own. :func:`service_cidrs` reads the flag with upstream's refusals; the allocators
(:mod:`kprov.cluster.apiserver.allocators`) call :func:`init_ip_family_fields` and then fill
the ``""`` markers it leaves in ``clusterIPs``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from kprov.cluster.api.errors import Cause
from kprov.cluster.api.sloppy_ip import parse_ip_sloppy
from kprov.cluster.api.validation.field_errors import Errors, go_value

__all__ = [
    "FAMILIES", "POLICIES", "family_of", "go_list", "init_ip_family_fields", "other_family",
    "service_cidrs", "validate_cluster_ips_related", "validate_families_update",
]

FAMILIES = ("IPv4", "IPv6")
POLICIES = ("PreferDualStack", "RequireDualStack", "SingleStack")
_NETWORK_TYPES = ("ClusterIP", "NodePort", "LoadBalancer")
_MAX_CIDR_BITS = 20  # kube-apiserver refuses a service range of more than 2^20 addresses

_MATCH_FIRST = "first value must match `clusterIP`"
_EMPTY_WITHOUT_IP = "must be empty when `clusterIP` is not specified"
_NONE_ALONE = "'None' must be the first and only value"
_VALID_IP = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
_ONE_PER_FAMILY = "may specify no more than one IP for each IP family"
_TWO_IPS_SINGLE = "must be 'RequireDualStack' or 'PreferDualStack' when multiple cluster IPs are specified"
_TWO_FAMILIES_SINGLE = ("must be 'RequireDualStack' or 'PreferDualStack' "
                        "when multiple IP families are specified")
NOT_DUAL_STACK = "this cluster is not configured for dual-stack services"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def family_of(ip: str) -> str:
    address = parse_ip_sloppy(ip)
    return "IPv6" if address is not None and address.version == 6 else "IPv4"


def other_family(family: str) -> str:
    return "IPv6" if family == "IPv4" else "IPv4"


def go_list(values: Sequence[str], type_name: str = "string") -> str:
    """Go's ``%#v`` of a string slice: ``[]string{"a", "b"}``."""
    return f"[]{type_name}{{" + ", ".join(go_value(v) for v in values) + "}"


def service_cidrs(text: str) -> tuple[Network, ...]:
    """``--service-cluster-ip-range``: one CIDR, or two of different families; ValueError
    in kube-apiserver's words otherwise."""
    parts = [p.strip() for p in text.split(",")] if text.strip() else []
    if len(parts) > 2:
        raise ValueError("--service-cluster-ip-range must not contain more than two entries")
    if not parts:
        raise ValueError("--service-cluster-ip-range must contain at least one valid cidr")
    networks: list[Network] = []
    for index, part in enumerate(parts):
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            what = "a valid cidr" if index == 0 else "an ip net"
            raise ValueError(f"service-cluster-ip-range[{index}] is not {what}") from None
    if len(networks) == 2 and networks[0].version == networks[1].version:
        raise ValueError(
            "--service-cluster-ip-range[0] and --service-cluster-ip-range[1] must be of different IP family"
        )
    for index, network in enumerate(networks):
        bits = network.max_prefixlen
        if bits - network.prefixlen > _MAX_CIDR_BITS:
            flag = "--service-cluster-ip-range" if index == 0 else "--service-cluster-ip-range[1]"
            raise ValueError(
                f"specified {flag} is too large; for {bits}-bit addresses, the mask must be >= "
                f"{bits - _MAX_CIDR_BITS}"
            )
    if networks[0].num_addresses < 8:
        raise ValueError("error determining service IP ranges for primary service cidr: "
                         "the service cluster IP range must be at least 8 IP addresses")
    return tuple(networks)


def _is_headless(spec: dict[str, Any]) -> bool:
    ips = spec.get("clusterIPs") or []
    return spec.get("clusterIP") == "None" or (bool(ips) and ips[0] == "None")


def validate_cluster_ips_related(spec: dict[str, Any]) -> list[Cause]:
    """clusterIP/clusterIPs/ipFamilies/ipFamilyPolicy on their own (ExternalName aside), as
    upstream's ``ValidateServiceClusterIPsRelatedFields``."""
    errors = Errors()
    if spec.get("type", "ClusterIP") == "ExternalName":
        return errors.causes
    ip: str = spec.get("clusterIP") or ""
    ips: list[str] = list(spec.get("clusterIPs") or [])
    families: list[str] = list(spec.get("ipFamilies") or [])
    policy = spec.get("ipFamilyPolicy")
    if ip:
        if not ips:
            errors.required("spec.clusterIPs")
        elif ips[0] != ip:
            errors.causes.append(_invalid("spec.clusterIPs", go_list(ips), _MATCH_FIRST))
    elif ips:
        errors.causes.append(_invalid("spec.clusterIPs", go_list(ips), _EMPTY_WITHOUT_IP))
    if families and policy is None:
        errors.required("spec.ipFamilyPolicy")
    if policy is not None and policy not in POLICIES:
        errors.not_supported("spec.ipFamilyPolicy", policy, POLICIES)
    seen: set[str] = set()
    for index, family in enumerate(families):
        if family not in FAMILIES:
            errors.not_supported(f"spec.ipFamilies[{index}]", family, FAMILIES)
        if family in seen:
            errors.duplicate(f"spec.ipFamilies[{index}]", family)
        seen.add(family)
    if len(families) > 2:
        errors.causes.append(_invalid("spec.ipFamilies", go_list(families, "core.IPFamily"),
                                      "may not have more than two entries"))
    bad_ips = False
    for index, value in enumerate(ips):
        if index == 0 and value == "None":
            if len(ips) > 1:
                bad_ips = True
                errors.causes.append(_invalid("spec.clusterIPs", go_list(ips), _NONE_ALONE))
            continue
        if parse_ip_sloppy(value) is None:
            bad_ips = True
            errors.invalid(f"spec.clusterIPs[{index}]", value, _VALID_IP)
    if len(ips) > 2:
        errors.causes.append(_invalid("spec.clusterIPs", go_list(ips), "may only hold up to 2 values"))
    if bad_ips:
        return errors.causes
    if len(ips) > 1 and len({family_of(v) for v in ips}) != len(ips):
        errors.causes.append(_invalid("spec.clusterIPs", go_list(ips), _ONE_PER_FAMILY))
    if not _is_headless(spec):
        for index, (value, family) in enumerate(zip(ips, families, strict=False)):
            if family in FAMILIES and family_of(value) != family:
                errors.invalid(f"spec.clusterIPs[{index}]", value,
                               f"expected an {family} value as indicated by `ipFamilies[{index}]`")
    return errors.causes


def _invalid(field: str, rendered: str, detail: str) -> Cause:
    return Cause(field, "FieldValueInvalid", f"Invalid value: {rendered}: {detail}")


def _matching_prefer_dual_stack(spec: dict[str, Any], old: dict[str, Any] | None) -> bool:
    """An update that leaves a PreferDualStack Service's addresses alone: never upgraded or
    downgraded because the cluster's families changed since."""
    if old is None or spec.get("ipFamilyPolicy") is None:
        return False
    old_type, new_type = old.get("type", "ClusterIP"), spec.get("type", "ClusterIP")
    if old_type != new_type or new_type not in _NETWORK_TYPES:
        return False
    if old.get("ipFamilyPolicy") != "PreferDualStack" or spec.get("ipFamilyPolicy") != "PreferDualStack":
        return False
    return (old.get("clusterIPs") or []) == (spec.get("clusterIPs") or []) and (
        old.get("ipFamilies") or []) == (spec.get("ipFamilies") or [])


def _reduced(old: list[str], new: list[str]) -> bool:
    return bool(new) and len(new) < len(old)


def init_ip_family_fields(spec: dict[str, Any], old: dict[str, Any] | None,
                          configured: Sequence[str]) -> list[Cause]:
    """Default and check a Service's family fields in place against the cluster's
    ``configured`` families (default first); the causes that refuse it, else []."""
    if spec.get("type", "ClusterIP") == "ExternalName" or _matching_prefer_dual_stack(spec, old):
        return []
    headless_selectorless = spec.get("clusterIP") == "None" and not spec.get("selector")
    if spec.get("ipFamilyPolicy") is None:
        if old is not None and old.get("ipFamilyPolicy") is not None:
            spec["ipFamilyPolicy"] = old["ipFamilyPolicy"]
        else:
            spec["ipFamilyPolicy"] = "RequireDualStack" if headless_selectorless else "SingleStack"
    causes = validate_cluster_ips_related(spec)
    if causes:
        return causes
    policy: str = spec["ipFamilyPolicy"]
    shown = go_value(policy)
    ips: list[str] = list(spec.get("clusterIPs") or [])
    families: list[str] = list(spec.get("ipFamilies") or [])
    if old is not None:
        old_ips, old_families = list(old.get("clusterIPs") or []), list(old.get("ipFamilies") or [])
        if policy == "SingleStack":
            if ips == old_ips and len(ips) > 1:
                ips = ips[:1]
            if families == old_families and len(families) > 1:
                families = families[:1]
        else:
            if _reduced(old_ips, ips):
                causes.append(_invalid("spec.ipFamilyPolicy", shown,
                                       "must be 'SingleStack' to release the secondary cluster IP"))
            if _reduced(old_families, families):
                causes.append(_invalid("spec.ipFamilyPolicy", shown,
                                       "must be 'SingleStack' to release the secondary IP family"))
    if policy == "SingleStack":
        if len(ips) == 2:
            causes.append(_invalid("spec.ipFamilyPolicy", shown,
                                   _TWO_IPS_SINGLE))
        if len(families) == 2:
            causes.append(_invalid("spec.ipFamilyPolicy", shown,
                                   _TWO_FAMILIES_SINGLE))
    for index, value in enumerate(ips):
        if value == "None":
            break
        if index >= len(families):
            family = family_of(value)
            if family in configured:
                families.append(family)
            else:
                causes.append(_invalid(f"spec.clusterIPs[{index}]", go_list(ips),
                                       f"{family} is not configured on this cluster"))
    _store(spec, ips, families)
    if causes:
        return causes
    if headless_selectorless:
        if not families:
            families = [configured[0]]
        if len(families) < 2 and policy != "SingleStack":
            families.append(other_family(families[0]))
        _store(spec, ips, families)
        return []
    if policy == "RequireDualStack" and len(configured) < 2:
        causes.append(_invalid("spec.ipFamilyPolicy", shown, NOT_DUAL_STACK))
    for index, family in enumerate(families):
        if family not in configured:
            causes.append(_invalid(f"spec.ipFamilies[{index}]", go_value(family),
                                   "not configured on this cluster"))
    if causes:
        return causes
    if not families:
        families = [configured[0]]
    if policy != "SingleStack" and len(families) == 1 and len(configured) == 2:
        families.append(other_family(families[0]))
    _store(spec, ips, families)
    return []


def _store(spec: dict[str, Any], ips: list[str], families: list[str]) -> None:
    for field, values in (("clusterIPs", ips), ("ipFamilies", families)):
        if values:
            spec[field] = values
        else:
            spec.pop(field, None)


def validate_families_update(spec: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    """An update may add or release the secondary cluster IP and family, never change the
    primary ones (ExternalName on either side aside), as upstream's update validation."""
    if "ExternalName" in (spec.get("type", "ClusterIP"), old.get("type", "ClusterIP")):
        return []
    policy = spec.get("ipFamilyPolicy")
    causes: list[Cause] = []
    fields = (("clusterIPs", "clusterIP", "string"), ("ipFamilies", "ipFamily", "core.IPFamily"))
    for field, noun, type_name in fields:
        before, after = list(old.get(field) or []), list(spec.get(field) or [])
        shown = go_list(after, type_name)
        if len(before) == len(after):
            for index, value in enumerate(before):
                if value != after[index]:
                    at = index if field == "clusterIPs" else 0
                    causes.append(_invalid(f"spec.{field}[{at}]", shown, "may not change once set"))
            continue
        if len(before) > len(after) and not after and field == "clusterIPs":
            causes.append(_invalid(f"spec.{field}[0]", shown, "primary clusterIP can not be unset"))
        if before and after and before[0] != after[0]:
            causes.append(_invalid(f"spec.{field}[0]", shown, "may not change once set"))
        if len(before) > len(after) and len(after) == 1 and policy != "SingleStack":
            causes.append(_invalid(f"spec.{field}[0]", shown, "`ipFamilyPolicy` must be set to "
                                   f"'SingleStack' when releasing the secondary {noun}"))
        if len(before) < len(after) and len(after) == 2 and policy in (None, "SingleStack"):
            causes.append(_invalid(f"spec.{field}[0]", shown,
                                   "`ipFamilyPolicy` must be set to 'RequireDualStack' or 'PreferDualStack' "
                                   f"when multiple '{field}' are specified"))
    return causes
