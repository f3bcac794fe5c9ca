"""Lookups that read data on the controller: ``ini`` and ``csvfile`` (files in the search
path), ``inventory_hostnames`` (a host pattern over the play's ``groups``), ``random_choice``.

Options come as keywords (``lookup('ini', 'user', section='s', file='f.ini')``) or, in
Ansible's older form, inline in the term (``'user section=s file=f.ini'``).
"""

from __future__ import annotations

import configparser
import csv
import io
import random
import re
from collections.abc import Callable, Mapping
from typing import Any

from kprov.provision.errors import TemplateError
from kprov.provision.inventory.model import Inventory
from kprov.provision.inventory.patterns import select_hosts
from kprov.provision.playbook.tasks import split_args
from kprov.provision.searchpath import search_file
from kprov.provision.template_filters import to_bool

__all__ = ["DATA_LOOKUPS"]

_INI_OPTIONS = {"type": "ini", "file": "ansible.ini", "section": "global", "re": False,
                "encoding": "utf-8", "default": "", "case_sensitive": False,
                "allow_no_value": False, "allow_none": False, "interpolation": True}
_CSV_OPTIONS = {"col": "1", "keycol": 0, "default": None, "delimiter": "TAB",
                "file": "ansible.csv", "encoding": "utf-8"}


def _inline_options(term: str, known: Mapping[str, Any], lookup: str) -> tuple[str, dict[str, str]]:
    """``'the key a=1 b="two words"'`` -> ("the key", {"a": "1", "b": "two words"}), as
    ansible-core's parse_kv reads a term: ``name=value`` words (quotes allowed) are options,
    the other words, as written, the key."""
    try:
        words = split_args(term)
    except ValueError:
        words = term.split()
    raw: list[str] = []
    options: dict[str, str] = {}
    for word in words:
        name, eq, value = word.partition("=")
        if eq and name.isidentifier():
            if name not in known:
                raise TemplateError(f"{lookup} lookup: {name} is not a valid option.")
            options[name] = _unquote(value)
        else:
            raw.append(word)
    if not raw:  # ansible-core's words (parse_kv found no _raw_params)
        raise TemplateError(f"{lookup} lookup: Search key is required but was not found")
    return " ".join(raw), options


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _read_file(variables: Mapping[str, Any], name: str, encoding: str, lookup: str) -> str:
    found = search_file(variables, "files", name)
    if found is None:
        raise TemplateError(f"{lookup} lookup: could not locate file in lookup: {name}")
    return found.read_text(encoding=encoding)


def _ini(terms: list[Any], variables: Mapping[str, Any], t: Any, sub: str, kw: dict[str, Any]) -> list[Any]:
    out: list[Any] = []
    for term in terms:
        opts = {**_INI_OPTIONS, **kw}
        key = str(term)
        if "=" in key or " " in key.strip():
            key, inline = _inline_options(key, _INI_OPTIONS, "ini")
            opts.update(inline)
        parser = configparser.ConfigParser(
            allow_no_value=to_bool(opts["allow_no_value"]) or to_bool(opts["allow_none"]),
            interpolation=configparser.BasicInterpolation() if to_bool(opts["interpolation"]) else None)
        if to_bool(opts["case_sensitive"]):
            parser.optionxform = str  # type: ignore[assignment,method-assign]
        text = _read_file(variables, str(opts["file"]), str(opts["encoding"]), "ini")
        section = str(opts["section"])
        if opts["type"] == "properties":
            text, section = "[java_properties]\n" + text, "java_properties"
        try:
            parser.read_string(text)
        except configparser.DuplicateOptionError as err:
            raise TemplateError(f"Duplicate option in '{opts['file']}': {err}") from None
        if not parser.has_section(section):
            raise TemplateError(f"No section '{section}' in {opts['file']}")
        if to_bool(opts["re"]):
            out += [value for name, value in parser.items(section) if re.match(key, name)]
        elif parser.has_option(section, key):
            value = parser.get(section, key)
            if value is not None:
                out.append(value)
        elif opts["default"] is not None:
            out.append(opts["default"])
    return out


def _csvfile(terms: list[Any], variables: Mapping[str, Any], t: Any, sub: str,
             kw: dict[str, Any]) -> list[Any]:
    if not terms:
        raise TemplateError("csvfile lookup: Search key is required but was not found")
    out: list[Any] = []
    for term in terms:
        opts = {**_CSV_OPTIONS, **kw}
        key, inline = _inline_options(str(term), _CSV_OPTIONS, "csvfile")
        opts.update(inline)
        delimiter = "\t" if opts["delimiter"] in ("TAB", "\\t") else str(opts["delimiter"])
        if search_file(variables, "files", str(opts["file"])) is None:
            # ansible-core opens the None its search returned: this is its text
            raise TemplateError("csvfile: expected str, bytes or os.PathLike object, not NoneType")
        text = _read_file(variables, str(opts["file"]), str(opts["encoding"]), "csvfile")
        value = opts["default"]
        try:
            for row in csv.reader(io.StringIO(text), delimiter=delimiter):
                if row and row[int(opts["keycol"])] == key:
                    value = row[int(opts["col"])]
                    break
        except (IndexError, ValueError, csv.Error) as err:
            raise TemplateError(f"csvfile: {err}") from None
        if value is not None:
            out.append(value)
    return out


def _inventory_hostnames(terms: list[Any], variables: Mapping[str, Any], t: Any, sub: str,
                         kw: dict[str, Any]) -> list[Any]:
    inventory = Inventory()
    for group, hosts in (variables.get("groups") or {}).items():
        inventory.group(group)
        for host in hosts:
            inventory.add_host(group, host)
    return select_hosts(inventory, [str(term) for term in terms])


def _random_choice(terms: list[Any], variables: Mapping[str, Any], t: Any, sub: str,
                   kw: dict[str, Any]) -> list[Any]:
    return [random.SystemRandom().choice(terms)] if terms else []


DATA_LOOKUPS: dict[str, Callable[..., list[Any]]] = {
    "ini": _ini,
    "csvfile": _csvfile,
    "inventory_hostnames": _inventory_hostnames,
    "random_choice": _random_choice,
}
