"""Ansible's filters that read the operator's machine: paths, files, time, randomness, UUIDs.

Templates are rendered on the operator, as Ansible renders them on its controller, so
``fileglob``, ``realpath`` and ``strftime`` (local time) answer for the operator's machine.
``random`` and ``shuffle`` with a ``seed`` give what Ansible gives for it (both are Python's
``random.Random``); without one they differ every run, in both.
"""

from __future__ import annotations

import datetime
import glob
import os
import random
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["HOST_FILTERS"]

# ansible-core's namespace for to_uuid (its documented default)
_ANSIBLE_UUID_NAMESPACE = uuid.UUID("361E6D51-FAEC-444A-9079-341386DA8E2E")


def _path_join(paths: Any) -> str:
    if isinstance(paths, str):
        return os.path.join(paths)
    if isinstance(paths, Sequence):
        return os.path.join(*paths)
    raise ValueError(f"|path_join expects string or sequence, got {type(paths)} instead.")


def _fileglob(pattern: str) -> list[str]:
    return [path for path in glob.glob(pattern) if os.path.isfile(path)]


def _strftime(string_format: str, second: Any = None, utc: bool = False) -> str:
    if second is not None:
        try:
            second = float(second)
        except (TypeError, ValueError):
            raise ValueError(f"Invalid value for epoch value ({second})") from None
    return time.strftime(string_format, (time.gmtime if utc else time.localtime)(second))


def _random(end: Any, start: Any = None, step: Any = None, seed: Any = None) -> Any:
    chooser = random.SystemRandom() if seed is None else random.Random(seed)
    if isinstance(end, int) and not isinstance(end, bool):
        return chooser.randrange(start or 0, end, step or 1)
    if hasattr(end, "__iter__"):
        if start or step:
            raise ValueError("start and step can only be used with integer values")
        return chooser.choice(list(end) if not isinstance(end, Sequence) else end)
    raise ValueError("random can only be used on sequences and integers")


def _shuffle(items: Any, seed: Any = None) -> list[Any]:
    shuffled = list(items)
    (random.Random(seed) if seed else random.SystemRandom()).shuffle(shuffled)
    return shuffled


def _to_uuid(value: Any, namespace: Any = _ANSIBLE_UUID_NAMESPACE) -> str:
    if not isinstance(namespace, uuid.UUID):
        try:
            namespace = uuid.UUID(namespace)
        except (AttributeError, ValueError) as err:
            raise ValueError(f"Invalid value '{namespace}' for 'namespace': {err}") from None
    return str(uuid.uuid5(namespace, str(value)))


HOST_FILTERS: dict[str, Callable[..., Any]] = {
    "expandvars": os.path.expandvars,
    "path_join": _path_join,
    "realpath": os.path.realpath,
    "relpath": os.path.relpath,
    "normpath": os.path.normpath,
    "commonpath": os.path.commonpath,
    "fileglob": _fileglob,
    "to_datetime": lambda value, format="%Y-%m-%d %H:%M:%S": datetime.datetime.strptime(value, format),
    "strftime": _strftime,
    "random": _random,
    "shuffle": _shuffle,
    "to_uuid": _to_uuid,
}
