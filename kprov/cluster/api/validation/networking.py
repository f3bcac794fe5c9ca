"""Validation of networking.k8s.io/v1 NetworkPolicies with kube-apiserver's paths and wording.

Design: one function per part of the spec, as upstream's networking validation walks it:
the pod selector and every peer selector are label selectors (matchLabels keys and values,
matchExpressions operators, keys and values); a port is a protocol of TCP/UDP/SCTP, a port
number or IANA name and an ``endPort`` only beside a numeric port; a peer is exactly one of
podSelector/namespaceSelector (which may be combined) or ipBlock; an ipBlock's ``except``
entries are strict subsets of its ``cidr``; policyTypes are at most two of Ingress/Egress.
On update, CIDRs the old object already held are not checked again (upstream's ratcheting).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from kprov.cluster.api.errors import Cause
from kprov.cluster.api.validation.field_errors import Errors
from kprov.cluster.api.validation.names import label_value_errors, qualified_name_errors
from kprov.cluster.api.validation.pod import port_name_errors

__all__ = ["validate_label_selector", "validate_network_policy"]

_PROTOCOLS = ("TCP", "UDP", "SCTP")
_POLICY_TYPES = ("Ingress", "Egress")
_PORT_RANGE = "must be between 1 and 65535, inclusive"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def validate_label_selector(errors: Errors, selector: Any, path: str, lax_values: bool = False) -> None:
    """A metav1.LabelSelector, as apimachinery's ValidateLabelSelector reports it
    (``lax_values``: expression values are not checked)."""
    if not isinstance(selector, dict):
        return
    for key, value in (selector.get("matchLabels") or {}).items():
        errors.each(f"{path}.matchLabels", key, qualified_name_errors(str(key)))
        errors.each(f"{path}.matchLabels", value, label_value_errors(str(value)))
    for index, expression in enumerate(selector.get("matchExpressions") or []):
        expression_path = f"{path}.matchExpressions[{index}]"
        operator = expression.get("operator")
        values = expression.get("values") or []
        if operator in ("In", "NotIn"):
            if not values:
                errors.required(
                    f"{expression_path}.values", "must be specified when `operator` is 'In' or 'NotIn'"
                )
        elif operator in ("Exists", "DoesNotExist"):
            if values:
                errors.forbidden(
                    f"{expression_path}.values",
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                )
        else:
            errors.invalid(f"{expression_path}.operator", operator or "", "not a valid selector operator")
        key = str(expression.get("key") or "")
        errors.each(f"{expression_path}.key", key, qualified_name_errors(key))
        if not lax_values:
            for value_index, value in enumerate(values):
                errors.each(f"{expression_path}.values[{value_index}]", value, label_value_errors(str(value)))


def _is_port_number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _port(errors: Errors, port: dict[str, Any], path: str) -> None:
    protocol = port.get("protocol")
    if protocol is not None and protocol not in _PROTOCOLS:
        errors.not_supported(f"{path}.protocol", protocol, _PROTOCOLS)
    number = port.get("port")
    end_port = port.get("endPort")
    if number is None:
        if end_port is not None:
            errors.invalid(f"{path}.endPort", end_port, "may not be specified when `port` is not specified")
        return
    if _is_port_number(number):
        if not 1 <= number <= 65535:
            errors.invalid(f"{path}.port", number, _PORT_RANGE)
        if end_port is not None:
            if _is_port_number(end_port) and end_port < number:
                errors.invalid(f"{path}.endPort", end_port, "must be greater than or equal to `port`")
            if not _is_port_number(end_port) or not 1 <= end_port <= 65535:
                errors.invalid(f"{path}.endPort", end_port, _PORT_RANGE)
        return
    if end_port is not None:
        errors.invalid(f"{path}.endPort", end_port, "may not be specified when `port` is non-numeric")
    errors.each(f"{path}.port", number, port_name_errors(str(number)))


def _network(text: Any) -> Network | None:
    try:
        return ipaddress.ip_network(str(text), strict=False) if "/" in str(text) else None
    except ValueError:
        return None


def _ip_block(errors: Errors, block: dict[str, Any], path: str, known_cidrs: frozenset[str]) -> None:
    cidr = block.get("cidr")
    if not cidr:
        errors.required(f"{path}.cidr")
        return
    network = _network(cidr)
    if network is None:
        if cidr not in known_cidrs:
            errors.invalid(f"{path}.cidr", cidr, "not a valid CIDR")
        return
    for index, text in enumerate(block.get("except") or []):
        except_path = f"{path}.except[{index}]"
        excepted = _network(text)
        if excepted is None:
            if text not in known_cidrs:
                errors.invalid(except_path, text, "not a valid CIDR")
                return
            continue
        if (
            excepted.version != network.version
            or excepted.network_address not in network
            or network.prefixlen >= excepted.prefixlen
        ):
            errors.invalid(except_path, text, "must be a strict subset of `cidr`")


def _peer(errors: Errors, peer: dict[str, Any], path: str, known_cidrs: frozenset[str], lax: bool) -> None:
    kinds = 0
    for selector in ("podSelector", "namespaceSelector"):
        if peer.get(selector) is not None:
            kinds += 1
            validate_label_selector(errors, peer[selector], f"{path}.{selector}", lax)
    block = peer.get("ipBlock")
    if block is not None:
        kinds += 1
        _ip_block(errors, block if isinstance(block, dict) else {}, f"{path}.ipBlock", known_cidrs)
    if kinds == 0:
        errors.required(path, "must specify a peer")
    elif kinds > 1 and block is not None:
        errors.forbidden(path, "may not specify both ipBlock and another peer")


def _policy_types_value(types: list[Any]) -> str:
    """Go's %#v of the []networking.PolicyType upstream reports."""
    return "[]networking.PolicyType{" + ", ".join(f'"{t}"' for t in types) + "}"


def _cidrs_of(spec: dict[str, Any]) -> frozenset[str]:
    found: set[str] = set()
    for direction, peers in (("ingress", "from"), ("egress", "to")):
        for rule in spec.get(direction) or []:
            for peer in (rule or {}).get(peers) or []:
                block = (peer or {}).get("ipBlock")
                if isinstance(block, dict):
                    found.add(str(block.get("cidr") or ""))
                    found.update(str(e) for e in block.get("except") or [])
    return frozenset(found)


def validate_network_policy(errors: Errors, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    spec = obj.get("spec") or {}
    old_spec = (old or {}).get("spec") or {}
    known_cidrs = _cidrs_of(old_spec) if old is not None else frozenset()
    # An update may keep selector values that were let in before they were checked.
    lax = False
    if old is not None:
        probe = Errors()
        validate_label_selector(probe, old_spec.get("podSelector"), "")
        lax = bool(probe.causes)
    validate_label_selector(errors, spec.get("podSelector"), "spec.podSelector", lax)
    for direction, peers in (("ingress", "from"), ("egress", "to")):
        for index, rule in enumerate(spec.get(direction) or []):
            rule_path = f"spec.{direction}[{index}]"
            for port_index, port in enumerate((rule or {}).get("ports") or []):
                _port(errors, port or {}, f"{rule_path}.ports[{port_index}]")
            for peer_index, peer in enumerate((rule or {}).get(peers) or []):
                _peer(errors, peer or {}, f"{rule_path}.{peers}[{peer_index}]", known_cidrs, lax)
    types = spec.get("policyTypes") or []
    if len(types) > len(_POLICY_TYPES):
        errors.causes.append(
            Cause(
                "spec.policyTypes",
                "FieldValueInvalid",
                f"Invalid value: {_policy_types_value(types)}: may not specify more than two policyTypes",
            )
        )
        return
    for index, kind in enumerate(types):
        if kind not in _POLICY_TYPES:
            errors.not_supported(f"spec.policyTypes[{index}]", kind, _POLICY_TYPES)
