"""Ansible's math, combinatorics and size filters (ansible.builtin's ``mathstuff`` set).

``log``, ``pow``, ``root``; ``product``, ``permutations``, ``combinations``, ``zip``,
``zip_longest`` (lists of tuples: what ``| list`` of Ansible's iterators gives, and how
they print inside a string); ``subelements``; ``rekey_on_member``; ``human_readable`` and
``human_to_bytes`` with Ansible's binary units and its accepted spellings (no sizes library
spells them the same: ``'1 GB'`` is 2**30 bytes there, ``'1 Kb'`` an error unless bits).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["MATH_FILTERS", "human_readable", "human_to_bytes"]

_SIZES = {"Y": 1 << 80, "Z": 1 << 70, "E": 1 << 60, "P": 1 << 50, "T": 1 << 40, "G": 1 << 30,
          "M": 1 << 20, "K": 1 << 10, "B": 1}
# per range: (long name, short name) for bytes, then for bits
_UNIT_NAMES = {
    "B": (("byte", "B"), ("bit", "b")), "K": (("kilobyte", "KB"), ("kilobit", "Kb")),
    "M": (("megabyte", "MB"), ("megabit", "Mb")), "G": (("gigabyte", "GB"), ("gigabit", "Gb")),
    "T": (("terabyte", "TB"), ("terabit", "Tb")), "P": (("petabyte", "PB"), ("petabit", "Pb")),
    "E": (("exabyte", "EB"), ("exabit", "Eb")), "Z": (("zetabyte", "ZB"), ("zetabit", "Zb")),
    "Y": (("yottabyte", "YB"), ("yottabit", "Yb")),
}
_HUMAN = re.compile(r"^([0-9]*\.?[0-9]+)(?:\s*([A-Za-z]+))?\s*$")


def human_to_bytes(size: Any, default_unit: str | None = None, isbits: bool = False) -> int:
    """``'10M'`` -> 10485760; a bare number is taken as is (or in ``default_unit``)."""
    match = _HUMAN.match(str(size))
    if match is None:
        raise ValueError(f"human_to_bytes() can't interpret following string: {size}")
    number = float(match.group(1))
    unit = match.group(2) or default_unit
    if unit is None:
        return int(round(number))
    scale = unit[0].upper()
    if scale not in _SIZES:
        raise ValueError(f"human_to_bytes() failed to convert {size} (unit = {unit}). "
                         f"The suffix must be one of {', '.join(_SIZES)}")
    if len(unit) > 1:
        long_name, short_name = _UNIT_NAMES[scale][1 if isbits else 0]
        if unit.lower() != long_name and unit != short_name:
            kind = "b" if isbits else "B"
            expect = (f"expect {kind} or {'bit' if isbits else 'byte'}" if scale == "B"
                      else f"expect {scale}{kind} or {scale}")
            raise ValueError(f"human_to_bytes() failed to convert {size}. "
                             f"Value is not a valid string ({expect})")
    return int(round(number * _SIZES[scale]))


def human_readable(size: Any, isbits: bool = False, unit: str | None = None) -> str:
    """1048576 -> ``'1.00 MB'``: the largest unit the size reaches (or ``unit``)."""
    if isinstance(size, bool) or not isinstance(size, int | float):
        raise ValueError(f"human_readable() failed on bad input: {size!r} is not a number")
    base = "bits" if isbits else "Bytes"
    suffix, limit = "B", 1
    for suffix, limit in sorted(_SIZES.items(), key=lambda item: -item[1]):
        if (unit is None and size >= limit) or (unit is not None and unit.upper() == suffix[0]):
            break
    label = suffix + base[0] if limit != 1 else base
    return f"{size / limit:.2f} {label}"


def _log(value: Any, base: float = math.e) -> float:
    return math.log10(value) if base == 10 else math.log(value, base)


def _root(value: Any, base: float = 2) -> float:
    return math.sqrt(value) if base == 2 else math.pow(value, 1.0 / float(base))


def _subelements(obj: Any, subelements: Any, skip_missing: bool = False) -> list[tuple[Any, Any]]:
    """Each element paired with each item of its list at the dotted path ``subelements``."""
    if isinstance(obj, Mapping):
        elements = list(obj.values())
    elif isinstance(obj, list):
        elements = list(obj)
    else:
        raise ValueError("obj must be a list of dicts or a nested dict")
    if isinstance(subelements, str):
        path = subelements.split(".")
    elif isinstance(subelements, list):
        path = list(subelements)
    else:
        raise ValueError("subelements must be a list or a string")
    pairs: list[tuple[Any, Any]] = []
    for element in elements:
        values = element
        for name in path:
            try:
                values = values[name]
            except KeyError:
                if not skip_missing:
                    raise ValueError(f"could not find {name!r} key in iterated item {values!r}") from None
                values = []
                break
            except TypeError:
                raise ValueError(f"the key {name} should point to a dictionary, got '{values}'") from None
        if not isinstance(values, list):
            raise ValueError(f"the key {name!r} should point to a list, got {values!r}")
        pairs.extend((element, value) for value in values)
    return pairs


def _rekey_on_member(data: Any, key: Any, duplicates: str = "error") -> dict[Any, Any]:
    """A dict of dicts (or a list of dicts) keyed on each one's ``key`` member."""
    if duplicates not in ("error", "overwrite"):
        raise ValueError(f"duplicates parameter to rekey_on_member has unknown value: {duplicates}")
    if isinstance(data, Mapping):
        items: Iterable[Any] = data.values()
    elif isinstance(data, Iterable) and not isinstance(data, str | bytes):
        items = data
    else:
        raise ValueError("Type is not a valid list, set, or dict")
    keyed: dict[Any, Any] = {}
    for item in items:
        if not isinstance(item, Mapping):
            raise ValueError("List item is not a valid dict")
        if key not in item:
            raise ValueError(f"Key {key} was not found")
        value = item[key]
        if keyed.get(value) and duplicates == "error":
            raise ValueError(f"Key {value} is not unique, cannot correctly turn into dict")
        keyed[value] = item
    return keyed


MATH_FILTERS: dict[str, Callable[..., Any]] = {
    "log": _log,
    "pow": math.pow,
    "root": _root,
    "product": lambda a, *more, **kw: list(itertools.product(a, *more, **kw)),
    "permutations": lambda a, r=None: list(itertools.permutations(a, r)),
    "combinations": lambda a, r: list(itertools.combinations(a, r)),
    "zip": lambda a, *more: list(zip(a, *more, strict=False)),
    "zip_longest": lambda a, *more, fillvalue=None: list(
        itertools.zip_longest(a, *more, fillvalue=fillvalue)),
    "subelements": _subelements,
    "rekey_on_member": _rekey_on_member,
    "human_readable": human_readable,
    "human_to_bytes": human_to_bytes,
}
