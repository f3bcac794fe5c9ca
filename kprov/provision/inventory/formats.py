"""Parsers for Ansible's two static inventory formats, YAML and INI, into an :class:`Inventory`.

YAML: top-level keys are groups, each with optional ``hosts`` (name -> vars), ``vars`` and
``children`` (name -> group). INI: ``[group]`` host lines with inline ``k=v`` vars (values
parsed as Python literals, like Ansible), ``[group:vars]`` (values kept as strings) and
``[group:children]``. Host names may use ranges: ``web[01:03]``, ``db-[a:c]``.
"""

from __future__ import annotations

import ast
import re
import shlex
import string
from typing import Any

from kprov.provision.errors import InventoryError
from kprov.provision.inventory.model import Inventory
from kprov.provision.yamlfile import load_yaml_text, origin_of

__all__ = ["expand_host_range", "parse_ini", "parse_yaml"]

_RANGE = re.compile(r"^(.*?)\[([0-9a-zA-Z]+):([0-9a-zA-Z]+)(?::(\d+))?\](.*)$")


def expand_host_range(pattern: str) -> list[str]:
    match = _RANGE.match(pattern)
    if not match:
        return [pattern]
    head, start, end, step, tail = match.groups()
    stride = int(step or 1)
    if start.isdigit() and end.isdigit():
        width = len(start) if start.startswith("0") else 0
        items = [str(i).zfill(width) for i in range(int(start), int(end) + 1, stride)]
    elif len(start) == 1 and len(end) == 1 and start in string.ascii_letters:
        letters = string.ascii_letters
        items = list(letters[letters.index(start) : letters.index(end) + 1 : stride])
    else:
        raise InventoryError(f"bad host range in '{pattern}': use [01:09] or [a:f]")
    return [name for item in items for name in expand_host_range(f"{head}{item}{tail}")]


def parse_yaml(text: str, source: str, inv: Inventory) -> None:
    data = load_yaml_text(text, source)
    if data is None:
        return
    if not isinstance(data, dict):
        raise InventoryError(
            f"{source}: a YAML inventory is a mapping of group names, got {type(data).__name__}"
        )
    for name, body in data.items():
        _yaml_group(inv, str(name), body, source)


def _yaml_group(inv: Inventory, name: str, body: Any, source: str) -> None:
    group = inv.group(name)
    if body is None:
        return
    where = origin_of(body, source)
    if not isinstance(body, dict):
        raise InventoryError(f"{where}: group '{name}' must be a mapping with hosts/vars/children")
    unknown = set(body) - {"hosts", "vars", "children"}
    if unknown:
        raise InventoryError(
            f"{where}: group '{name}' has unknown key(s) {sorted(unknown)}; allowed: hosts, vars, children"
        )
    hosts = body.get("hosts") or {}
    if isinstance(hosts, list):
        raise InventoryError(f"{where}: 'hosts' of group '{name}' must be a mapping (host: vars), not a list")
    for host_pattern, host_vars in hosts.items():
        if host_vars is not None and not isinstance(host_vars, dict):
            raise InventoryError(
                f"{origin_of(hosts, where)}: vars of host '{host_pattern}' must be a mapping"
            )
        for host in expand_host_range(str(host_pattern)):
            inv.add_host(name, host, dict(host_vars or {}))
    group_vars = body.get("vars") or {}
    if not isinstance(group_vars, dict):
        raise InventoryError(f"{where}: 'vars' of group '{name}' must be a mapping")
    group.vars.update(group_vars)
    for child, child_body in (body.get("children") or {}).items():
        inv.add_child(name, str(child))
        _yaml_group(inv, str(child), child_body, source)


def _literal(value: str) -> Any:
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return value


def parse_ini(text: str, source: str, inv: Inventory) -> None:
    group, kind = "ungrouped", "hosts"
    pending_children: list[tuple[str, str, int]] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        where = f"{source}:{lineno}"
        if line.startswith("["):
            header = re.fullmatch(r"\[([^\]:]+)(?::(\w+))?\]\s*(?:[#;].*)?", line)
            if not header:
                raise InventoryError(
                    f"{where}: bad section header {line!r}; use [group], [group:vars], [group:children]"
                )
            group, kind = header.group(1).strip(), header.group(2) or "hosts"
            if kind not in ("hosts", "vars", "children"):
                raise InventoryError(f"{where}: unknown section kind ':{kind}'; use :vars or :children")
            inv.group(group)
            continue
        if kind == "vars":
            if "=" not in line:
                raise InventoryError(f"{where}: expected key=value in [{group}:vars], got {line!r}")
            key, value = (part.strip() for part in line.split("=", 1))
            inv.group(group).vars[key] = value
        elif kind == "children":
            pending_children.append((group, line.split()[0], lineno))
        else:
            try:
                tokens = shlex.split(line, comments=True)
            except ValueError as err:
                raise InventoryError(f"{where}: cannot parse host line: {err}") from None
            host_vars: dict[str, Any] = {}
            for token in tokens[1:]:
                if "=" not in token:
                    raise InventoryError(f"{where}: expected key=value after the host name, got {token!r}")
                key, value = token.split("=", 1)
                host_vars[key] = _literal(value)
            for host in expand_host_range(tokens[0]):
                inv.add_host(group, host, host_vars)
    for parent, child, _lineno in pending_children:
        if child not in inv.groups:
            inv.group(child)
        inv.add_child(parent, child)
