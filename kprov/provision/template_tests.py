"""Ansible's Jinja2 tests beyond the common ones in :mod:`template_filters`: async and
connection results (``finished``, ``started``, ``reachable``, ``timedout``), ``any``/``all``,
paths on the operator's machine (``exists``, ``directory``, ``file``, ``link``, ...; templates
are rendered there, as on Ansible's controller), ``nan``, and ``uri``/``url``/``urn``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlparse

__all__ = ["MORE_TESTS"]


def _result(name: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"The '{name}' test expects a dictionary")
    return value


def _async_state(key: str) -> Callable[[Any], bool]:
    """``finished``/``started`` of an async job's result; a result without the key (not an
    async task) counts as true, as in Ansible (which also warns)."""
    def test(value: Any) -> bool:
        result = _result(key, value)
        return result.get(key, 0) == 1 if key in result else True
    return test


def _timedout(value: Any) -> bool:
    timed = _result("timedout", value).get("timedout", False)
    return bool(timed and timed.get("period", False))


def _nan(value: Any) -> bool:
    try:
        return math.isnan(value)
    except TypeError:
        return False


def _uri(value: Any, schemes: list[str] | None = None) -> bool:
    try:
        parsed = urlparse(value)
    except (TypeError, ValueError, AttributeError):
        return False
    return not schemes or parsed.scheme in schemes


def _url(value: Any, schemes: list[str] | None = None) -> bool:
    if not _uri(value, schemes):
        return False
    parsed = urlparse(value)
    return bool(parsed.netloc or parsed.scheme == "file")


MORE_TESTS: dict[str, Callable[..., bool]] = {
    "unreachable": lambda value: bool(_result("unreachable", value).get("unreachable", False)),
    "reachable": lambda value: not _result("reachable", value).get("unreachable", False),
    "timedout": _timedout,
    "skip": lambda value: bool(_result("skip", value).get("skipped", False)),
    "finished": _async_state("finished"),
    "started": _async_state("started"),
    "any": any,
    "all": all,
    "directory": os.path.isdir,
    "is_dir": os.path.isdir,
    "file": os.path.isfile,
    "is_file": os.path.isfile,
    "link": os.path.islink,
    "is_link": os.path.islink,
    "exists": os.path.exists,
    "link_exists": os.path.lexists,
    "is_abs": os.path.isabs,
    "same_file": os.path.samefile,
    "is_same_file": os.path.samefile,
    "mount": os.path.ismount,
    "is_mount": os.path.ismount,
    "issubset": lambda a, b: set(a) <= set(b),
    "issuperset": lambda a, b: set(a) >= set(b),
    "nan": _nan,
    "isnan": _nan,
    "uri": _uri,
    "url": _url,
    "urn": lambda value: _uri(value, ["urn"]),
}
