"""A fact's key in ``ansible_facts`` and its name as a variable, as Ansible names them:
``hostname`` is the variable ``ansible_hostname``; ``ansible_local`` (facts.d) keeps its name
in both (ansible-core's ``namespace_facts`` does not strip it)."""

from __future__ import annotations

__all__ = ["fact_key", "fact_variable"]

_KEPT = frozenset({"ansible_local"})


def fact_variable(key: str) -> str:
    """The variable a fact key becomes: ``hostname`` -> ``ansible_hostname``."""
    return key if key in _KEPT else f"ansible_{key}"


def fact_key(name: str) -> str:
    """The ``ansible_facts`` key of a module's fact name: ``ansible_hostname`` -> ``hostname``."""
    return name if name in _KEPT else name.removeprefix("ansible_")
