"""What every check shares: a check's verdict, the containers of a pod spec, and the wording
helpers (quoted lists, singular or plural) upstream's messages are built from."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CheckFn",
    "Violation",
    "containers",
    "is_windows",
    "join_quote",
    "pluralize",
    "security_context",
    "setters",
]

Pod = Mapping[str, Any]


@dataclass(frozen=True)
class Violation:
    """A failed check: the short reason (``privileged``) and its detail (which containers)."""

    reason: str
    detail: str = ""


# (pod metadata, pod spec) -> None when allowed
CheckFn = Callable[[Pod, Pod], Violation | None]


def containers(spec: Pod) -> Iterator[Mapping[str, Any]]:
    """Init containers, containers, then ephemeral containers, as upstream visits them."""
    for field in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(field) or ():
            if isinstance(container, Mapping):
                yield container


def security_context(holder: Pod) -> Mapping[str, Any]:
    found = holder.get("securityContext")
    return found if isinstance(found, Mapping) else {}


def is_windows(spec: Pod) -> bool:
    return ((spec.get("os") or {}).get("name")) == "windows"


def join_quote(items: list[str]) -> str:
    return '"' + '", "'.join(items) + '"' if items else ""


def pluralize(singular: str, plural: str, count: int) -> str:
    return singular if count == 1 else plural


def setters(pod_bad: bool, bad_containers: list[str]) -> list[str]:
    """``pod`` and/or ``container(s) "a", "b"``: who set a forbidden value."""
    found = ["pod"] if pod_bad else []
    if bad_containers:
        noun = pluralize("container", "containers", len(bad_containers))
        found.append(f"{noun} {join_quote(bad_containers)}")
    return found
