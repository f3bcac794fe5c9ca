"""Host patterns, as for ``--limit`` and a play's ``hosts``.

Terms are separated by ``:`` or ``,``. A plain term (group, host, ``all``/``*``, shell
wildcard like ``web*``, ``~regex``) adds hosts; ``&term`` keeps only hosts also in term;
``!term`` removes hosts. Like Ansible, unions are applied first, then intersections, then
exclusions, whatever their order in the pattern; results keep inventory order.
"""

from __future__ import annotations

import fnmatch
import re

from kprov.provision.errors import InventoryError
from kprov.provision.inventory.model import Inventory

__all__ = ["select_hosts"]


def _term_hosts(inv: Inventory, term: str, *, strict: bool) -> set[str]:
    if term in inv.implicit:  # the implicit localhost: by its name only
        return {term}
    if term in ("all", "*"):
        return set(inv.hosts) - inv.implicit
    if term in inv.groups:
        return set(inv.members(term))
    if term in inv.hosts:
        return {term}
    if term.startswith("~"):
        regex = re.compile(term[1:])
        names = {h for h in inv.hosts if regex.search(h)} - inv.implicit
        names |= {h for g in inv.groups if regex.search(g) for h in inv.members(g)}
    elif any(c in term for c in "*?["):
        names = {h for h in inv.hosts if fnmatch.fnmatchcase(h, term)} - inv.implicit
        names |= {h for g in inv.groups if fnmatch.fnmatchcase(g, term) for h in inv.members(g)}
    else:
        names = set()
    if not names and strict:
        raise InventoryError(f"host pattern '{term}' matches no host or group in the inventory")
    return names


def select_hosts(inv: Inventory, pattern: str | list[str], *, strict: bool = False) -> list[str]:
    """Hosts matching the pattern, in inventory order. ``strict`` makes an unmatched term an error."""
    text = ",".join(pattern) if isinstance(pattern, list) else str(pattern)
    terms = [t.strip() for t in re.split(r"[:,]", text) if t.strip()]
    if not terms:
        return []
    plus = [t for t in terms if t[0] not in "&!"]
    ands = [t[1:] for t in terms if t[0] == "&"]
    nots = [t[1:] for t in terms if t[0] == "!"]
    chosen: set[str] = set()
    for term in plus or ["all"]:
        chosen |= _term_hosts(inv, term, strict=strict)
    for term in ands:
        chosen &= _term_hosts(inv, term, strict=strict)
    for term in nots:
        chosen -= _term_hosts(inv, term, strict=False)
    return [h for h in inv.hosts if h in chosen]
