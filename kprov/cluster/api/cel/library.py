"""What a CEL library is to the one environment: a name, the function declarations it
registers on the runtime, and the value types it adds. The environment
(:mod:`kprov.cluster.api.cel.environment`) lists the libraries; each ``lib_*`` module makes one
(or two) of these and imports nothing else of the environment, so libraries sit below it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Library"]


@dataclass(frozen=True)
class Library:
    """A set of functions registered on the runtime: ``declare(cel, types, classes)`` returns
    the binding's ``FunctionDecl`` list (``types``: the runtime types of every library's
    value types by name, ``classes``: their message classes, to build values); ``messages``
    the value types it adds (message name -> field names, a string each, or
    ``name:<message>`` a message declared before it)."""

    name: str
    declare: Callable[[Any, Mapping[str, Any], Mapping[str, Any]], list[Any]]
    messages: tuple[tuple[str, tuple[str, ...]], ...] = ()
