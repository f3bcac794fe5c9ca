"""``resourceFieldRef``: a container's limits and requests as numbers, for env and downward API files.

As upstream's kubelet: a limit the container does not set is the node's allocatable amount
(so a program can size itself to what it may use); a request it does not set is 0; the
value is divided by ``divisor`` (unset or 0 — what Go clients send for an unset
Quantity — means 1) and rounded up — CPU in millicores
(``limits.cpu`` with divisor ``1m`` gives millicores, with ``1`` whole cores), everything
else in units.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kprov.cluster.api.objects import cpu_millis, memory_bytes, parse_quantity

__all__ = ["SUPPORTED", "ResourceFieldError", "resource_field_value"]

SUPPORTED = frozenset(
    f"{kind}.{name}" for kind in ("limits", "requests") for name in ("cpu", "memory", "ephemeral-storage")
)

Obj = Mapping[str, Any]


class ResourceFieldError(ValueError):
    """The reference names an unsupported resource, an unknown container or a bad divisor."""


def _ceil_div(value: int, divisor: int) -> int:
    return -(-value // divisor)


def resource_field_value(container: Obj, ref: Obj, allocatable: Mapping[str, str]) -> str:
    resource = str(ref.get("resource", ""))
    if resource not in SUPPORTED and not resource.startswith(("limits.hugepages-", "requests.hugepages-")):
        raise ResourceFieldError(f"unsupported container resource : {resource}")
    kind, _, name = resource.partition(".")
    divisor_text = ref.get("divisor") or "1"
    try:
        divisor = parse_quantity(divisor_text)
    except ValueError as err:
        raise ResourceFieldError(f"resourceFieldRef {resource}: divisor: {err}") from None
    if divisor == 0:
        divisor_text = "1"
    elif divisor < 0:
        raise ResourceFieldError(f"resourceFieldRef {resource}: divisor must be positive, not {divisor_text}")
    amount = ((container.get("resources") or {}).get(kind) or {}).get(name)
    if amount is None and kind == "limits":
        amount = allocatable.get(name)
    if amount is None:
        amount = "0"
    if name == "cpu":
        return str(_ceil_div(cpu_millis(amount), max(1, cpu_millis(divisor_text))))
    return str(_ceil_div(memory_bytes(amount), max(1, memory_bytes(divisor_text))))
