"""What field ownership and server-side apply need to know of a field: its list semantics.

Design: a :data:`Shape` is where a value sits in a schema, either a Go type name of the
built-in kinds (``core.PodSpec``, from :mod:`kprov.cluster.api.schema.known_fields`) or a
node of a custom resource's structural schema (:class:`kprov.cluster.api.crd.structural.Node`).
:func:`field_shape` answers, for one field of a value of some shape, the same three things
either way: a :class:`FieldSpec` carrying its list markers (merge key / patch strategy for
built-in kinds; ``x-kubernetes-list-type`` and ``x-kubernetes-list-map-keys`` for custom
ones), the shape of its value, and the shape of its list elements. A custom object's
``metadata`` is ObjectMeta whatever its schema says (:class:`CustomRoot`), so its
``finalizers`` are a set as on any built-in object; a custom list without a list type is
atomic, as upstream's structured-merge-diff treats it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from kprov.cluster.api.resources import ResourceInfo
from kprov.cluster.api.schema.known_fields import FieldSpec, element_type, fields_of, root_type

__all__ = ["ANY", "CustomRoot", "Shape", "field_shape", "root_shape"]

ANY = "any"
_OBJECT_META = "meta.ObjectMeta"


@dataclass(frozen=True)
class CustomRoot:
    """The top of a custom object: its schema's root node, with ``metadata`` as ObjectMeta."""

    node: Any


Shape = str | CustomRoot | Any  # Any: a structural schema Node


def root_shape(info: ResourceInfo) -> Shape:
    if info.custom is not None:
        return CustomRoot(info.custom.node)
    return root_type(info)


def field_shape(shape: Shape, key: str) -> tuple[FieldSpec | None, Shape, Shape]:
    """(the field's spec, or None when it has no list semantics to tell; the shape of its
    value; the shape of its list elements) for field ``key`` of a value of ``shape``."""
    if isinstance(shape, str):
        return _builtin_field(shape, key)
    if isinstance(shape, CustomRoot):
        if key == "metadata":
            return None, _OBJECT_META, ANY
        shape = shape.node
    return _custom_field(shape, key)


def _builtin_field(type_name: str, key: str) -> tuple[FieldSpec | None, Shape, Shape]:
    if type_name.startswith("map[string]"):
        value = type_name[len("map[string]") :]
        return None, value, element_type(value)
    return _struct_field(type_name, key)


@functools.lru_cache(maxsize=4096)  # every write's field-manager walk asks: 40% of its time
def _struct_field(type_name: str, key: str) -> tuple[FieldSpec | None, Shape, Shape]:
    spec = fields_of(type_name).get(key)
    if spec is None:
        return None, ANY, ANY
    return spec, spec.base, element_type(spec.type)


def _custom_field(node: Any, key: str) -> tuple[FieldSpec | None, Shape, Shape]:
    child = node.properties.get(key) if node.properties else None
    if child is None and node.additional is not None and not isinstance(node.additional, bool):
        child = node.additional
    if child is None:
        return None, ANY, ANY
    if child.type != "array":
        return None, child, ANY
    list_type = child.list_type or "atomic"
    keys = child.list_map_keys if list_type == "map" else ()
    spec = FieldSpec(key, "[]any", list_type=list_type, list_map_keys=keys)
    return spec, child, child.items if child.items is not None else ANY
