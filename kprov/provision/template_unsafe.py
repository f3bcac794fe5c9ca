"""Unsafe data as ansible-core 2.18 tracks it through templates.

Text that is data, never a template, is an :class:`~kprov.provision.yamlfile.UnsafeText`:
``!unsafe`` values, the items of a ``with_<lookup>`` loop, what ``lookup()``/``query()``
return (ansible-core's ``wrap_var`` on lookup results, ``allow_unsafe_lookups`` off), and the
facts a module returned, the gathered ones too (``wrap_var`` of ``ansible_facts`` for every
action but set_fact and include_vars; wrapped once, as they are stored: a read of
``ansible_facts`` then finds unsafe text at its first string, no walk of all facts).

* Propagation: a template that reads an unsafe value (anywhere inside a list or mapping), a
  registered module result, or calls a lookup gives an unsafe result (ansible-core's
  ``AnsibleContext.unsafe``, set as the context resolves a name). So a ``set_fact`` fed
  from a ``with_dict`` item stores data that is never rendered again, while the same
  expression fed from a ``loop:`` of plain data stores text that is rendered when read.
* :func:`lenient` renders a value as ``hostvars[host][name]`` does (HostVarsVars:
  ``fail_on_undefined=False``): a string whose template names an undefined variable is
  returned as written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from kprov.provision.errors import UndefinedVariableError
from kprov.provision.yamlfile import UnsafeText

__all__ = ["KeySubset", "UnsafeMemo", "is_unsafe", "lenient", "wrap_unsafe"]


def is_unsafe(value: Any) -> bool:
    """Whether ``value`` is unsafe text or a plain list/mapping holding some."""
    if isinstance(value, str):
        return isinstance(value, UnsafeText)
    if isinstance(value, dict):
        return any(is_unsafe(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(is_unsafe(v) for v in value)
    return False


class UnsafeMemo:
    """:func:`is_unsafe` remembered per list or mapping for the life of one variable scope:
    a task's templates read ``ansible_facts`` or ``groups`` many times, each read would walk
    all of it again. Each value is held, so its id is not reused while the memo lives."""

    def __init__(self) -> None:
        self._seen: dict[int, tuple[Any, bool]] = {}

    def __call__(self, value: Any) -> bool:
        if not isinstance(value, dict | list):
            return is_unsafe(value)
        seen = self._seen.get(id(value))
        if seen is None:
            seen = self._seen[id(value)] = (value, is_unsafe(value))
        return seen[1]


def wrap_unsafe(value: Any) -> Any:
    """``value`` with every string inside it (keys too) unsafe text (ansible-core's wrap_var)."""
    if isinstance(value, UnsafeText):
        return value
    if isinstance(value, str):
        return UnsafeText(value)
    if isinstance(value, dict):
        return {wrap_unsafe(k): wrap_unsafe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [wrap_unsafe(v) for v in value]
    if isinstance(value, tuple):
        return tuple(wrap_unsafe(v) for v in value)
    return value


def lenient(value: Any, render: Callable[[str], Any]) -> Any:
    """``value`` rendered string by string, a string whose template reads an undefined
    variable kept as written (ansible-core's template with ``fail_on_undefined=False``)."""
    if isinstance(value, str):
        try:
            return render(value)
        except UndefinedVariableError:
            return value
    if isinstance(value, Mapping):
        return {k: lenient(v, render) for k, v in value.items()}
    if isinstance(value, list):
        return [lenient(v, render) for v in value]
    return value


class KeySubset(Mapping[str, Any]):
    """The keys of ``mapping`` that are (``inside=True``) or are not in ``keys``: one dict
    seen as two layers, e.g. a host's set_fact values (rendered when read) apart from its
    registered module results (raw) that share it."""

    def __init__(self, mapping: Mapping[str, Any], keys: set[str] | frozenset[str], inside: bool) -> None:
        self.__mapping, self.__keys, self.__inside = mapping, keys, inside

    def __contains__(self, key: object) -> bool:
        return key in self.__mapping and (key in self.__keys) == self.__inside

    def __getitem__(self, key: str) -> Any:
        if key not in self:
            raise KeyError(key)
        return self.__mapping[key]

    def __iter__(self) -> Iterator[str]:
        return (k for k in self.__mapping if (k in self.__keys) == self.__inside)

    def __len__(self) -> int:
        return sum(1 for _ in self)
