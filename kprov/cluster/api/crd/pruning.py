"""Pruning and defaulting of custom objects by their compiled structural schema.

kube-apiserver's order for a custom object is prune, default, validate (:mod:`.structural`).
Pruning drops the fields the schema does not declare (unless
``x-kubernetes-preserve-unknown-fields`` or ``additionalProperties`` keep them; ``apiVersion``,
``kind`` and ``metadata`` stay at the root and in embedded resources) and descends only into
objects and arrays. Defaulting fills ``default`` values in for absent fields and for nulls
where nulls are not allowed; :func:`lacks_defaults` answers, without copying, whether it would
change an object read from storage.
"""

from __future__ import annotations

import copy
from typing import Any

from kprov.cluster.api.crd.structural import NO_DEFAULT, ROOT_KEPT, ROOT_KEPT_SET, Node, join_path
from kprov.cluster.api.schema.known_fields import unknown_fields_of

__all__ = ["default", "lacks_defaults", "prune", "unknown_metadata"]


def prune(node: Node, obj: Any, path: str = "", *, root: bool = True) -> list[str]:
    """Drop undeclared fields from ``obj`` in place; the dropped paths (``spec.foo``)."""
    found: list[str] = []
    _prune(node, obj, path, found, root)
    return found


def _prune(node: Node, value: Any, path: str, found: list[str], keep_meta: bool) -> None:
    if isinstance(value, dict):
        if not (node.keeps_unknown or isinstance(node.additional, Node)):
            extra = value.keys() - node.properties.keys()
            if not extra or (keep_meta and extra <= ROOT_KEPT_SET):  # nothing to drop here
                for key, item in value.items():
                    if isinstance(item, dict | list) and not (keep_meta and key in ROOT_KEPT_SET):
                        declared = node.properties[key]
                        _prune(declared, item, join_path(path, key), found, declared.embedded)
                return
        for key in list(value):
            if keep_meta and key in ROOT_KEPT:
                continue
            child = node.properties.get(key)
            if child is None and isinstance(node.additional, Node):
                child = node.additional
            if child is None:
                if node.keeps_unknown:
                    continue
                found.append(join_path(path, key))
                del value[key]
                continue
            item = value[key]
            if isinstance(item, dict | list):  # a scalar has nothing to prune
                _prune(child, item, join_path(path, key), found, child.embedded)
    elif isinstance(value, list) and node.items is not None:
        for index, item in enumerate(value):
            if isinstance(item, dict | list):
                _prune(node.items, item, f"{path}[{index}]", found, node.items.embedded)


def unknown_metadata(node: Node, obj: Any) -> list[str]:
    """Paths (``metadata.foo``, ``spec.template.metadata.bar``) of fields ObjectMeta does not
    define, in the root's metadata and every embedded resource's (upstream drops them on
    decode, and reports them under strict field validation)."""
    found: list[str] = []
    _unknown_metadata(node, obj, "", found, True)
    return found


def _unknown_metadata(node: Node, value: Any, path: str, found: list[str], resource: bool) -> None:
    if isinstance(value, dict):
        if resource and isinstance(value.get("metadata"), dict):
            meta = unknown_fields_of("meta.ObjectMeta", value["metadata"], join_path(path, "metadata"))
            found.extend(p.lstrip(".") for p in meta)
        for key, item in value.items():
            child = node.properties.get(key)
            if child is None and isinstance(node.additional, Node):
                child = node.additional
            if child is not None:
                _unknown_metadata(child, item, join_path(path, key), found, child.embedded)
    elif isinstance(value, list) and node.items is not None:
        for index, item in enumerate(value):
            _unknown_metadata(node.items, item, f"{path}[{index}]", found, node.items.embedded)


def default(node: Node, value: Any) -> None:
    """Fill ``default`` values into ``value`` in place (absent fields, and nulls that are
    not allowed)."""
    if isinstance(value, dict):
        for key, child in node.properties.items():
            if not child.has_defaults:
                continue
            if child.default is not NO_DEFAULT and (
                key not in value or (value[key] is None and not child.nullable)
            ):
                value[key] = copy.deepcopy(child.default)
            if key in value:
                default(child, value[key])
        if isinstance(node.additional, Node) and node.additional.has_defaults:
            for key, item in value.items():
                if key not in node.properties:
                    default(node.additional, item)
    elif isinstance(value, list) and node.items is not None and node.items.has_defaults:
        for item in value:
            default(node.items, item)


def lacks_defaults(node: Node, value: Any) -> bool:
    """Whether :func:`default` would change ``value`` (a read-only walk: objects read from
    storage are only copied when it would)."""
    if not node.has_defaults:
        return False
    if isinstance(value, dict):
        for key, child in node.properties.items():
            if not child.has_defaults:
                continue
            if child.default is not NO_DEFAULT and (
                key not in value or (value[key] is None and not child.nullable)
            ):
                return True
            if key in value and lacks_defaults(child, value[key]):
                return True
        if isinstance(node.additional, Node):
            extra = (v for k, v in value.items() if k not in node.properties)
            return any(lacks_defaults(node.additional, v) for v in extra)
        return False
    if isinstance(value, list) and node.items is not None:
        return any(lacks_defaults(node.items, item) for item in value)
    return False
