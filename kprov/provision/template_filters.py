"""Ansible-compatible Jinja2 filters and tests: ansible.builtin's, but for the vault filters
and the win_* path filters.

Registered on the one environment built in :mod:`kprov.provision.templates`. Each function
follows the behaviour of the Ansible filter of the same name; the math and combinatorics set
lives in :mod:`template_filters_math`, the ones that read the operator's machine in
:mod:`template_filters_host`, ``password_hash`` in :mod:`template_filters_crypt`, and the tests
beyond the common ones in :mod:`template_tests`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import posixpath
import re
import shlex
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import yaml
from jinja2 import pass_environment
from jinja2.runtime import Undefined

from kprov.provision.template_filters_crypt import password_hash
from kprov.provision.template_filters_host import HOST_FILTERS
from kprov.provision.template_filters_math import MATH_FILTERS
from kprov.provision.template_tests import MORE_TESTS
from kprov.provision.yamlfile import UnsafeText

__all__ = ["ANSIBLE_FILTERS", "ANSIBLE_TESTS", "to_bool"]


def to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, int | float):
        return value == 1
    return str(value).strip().lower() in ("yes", "on", "1", "true", "y", "t")


def _type_debug(value: Any) -> str:
    """The value's class name; unsafe text (a fact, a with_* item) is ansible-core's class."""
    return "AnsibleUnsafeText" if isinstance(value, UnsafeText) else type(value).__name__


def _to_yaml(value: Any, indent: int = 2, **kw: Any) -> str:
    return yaml.safe_dump(
        _plain(value),
        allow_unicode=True,
        default_flow_style=kw.pop("default_flow_style", None),
        indent=indent,
        sort_keys=kw.pop("sort_keys", True),
        **kw,
    )


def _to_nice_yaml(value: Any, indent: int = 4, **kw: Any) -> str:
    return yaml.safe_dump(
        _plain(value),
        allow_unicode=True,
        default_flow_style=False,
        indent=indent,
        sort_keys=kw.pop("sort_keys", True),
        **kw,
    )


def _plain(value: Any) -> Any:
    """Plain dicts/lists/scalars, so YAML/JSON dumpers accept our mapping views and unsafe
    text (a str subclass, template_unsafe: the YAML dumper represents exact types only)."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Mapping):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    if isinstance(value, Undefined):  # an undefined value inside: say which, not "not serializable"
        value._fail_with_undefined_error()
    return value


def _to_json(value: Any, **kw: Any) -> str:
    return json.dumps(_plain(value), **kw)


def _to_nice_json(value: Any, indent: int = 4, **kw: Any) -> str:
    return json.dumps(_plain(value), indent=indent, sort_keys=True, **kw)


def _b64encode(value: Any, encoding: str = "utf-8") -> str:
    data = value if isinstance(value, bytes) else str(value).encode(encoding)
    return base64.b64encode(data).decode("ascii")


def _b64decode(value: Any, encoding: str = "utf-8") -> str:
    return base64.b64decode(str(value)).decode(encoding, errors="replace")


def _regex_flags(ignorecase: bool, multiline: bool) -> int:
    return (re.I if ignorecase else 0) | (re.M if multiline else 0)


def _regex_replace(
    value: Any,
    pattern: str,
    replacement: str = "",
    ignorecase: bool = False,
    multiline: bool = False,
    count: int = 0,
) -> str:
    return re.sub(pattern, replacement, str(value), count=count, flags=_regex_flags(ignorecase, multiline))


def _regex_search(
    value: Any, pattern: str, *groups: str, ignorecase: bool = False, multiline: bool = False
) -> Any:
    match = re.search(pattern, str(value), flags=_regex_flags(ignorecase, multiline))
    if not match:
        return None
    if not groups:
        return match.group(0)
    picked = []
    for g in groups:
        ref = g[1:] if g.startswith("\\") else g
        picked.append(
            match.group(int(ref)) if ref.isdigit() else match.group(ref.removeprefix("g<").rstrip(">"))
        )
    return picked


def _regex_findall(value: Any, pattern: str, ignorecase: bool = False, multiline: bool = False) -> list[Any]:
    return re.findall(pattern, str(value), flags=_regex_flags(ignorecase, multiline))


def _unique(values: Iterable[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if v not in out:
            out.append(v)
    return out


def _union(a: Iterable[Any], b: Iterable[Any]) -> list[Any]:
    return _unique([*a, *b])


def _intersect(a: Iterable[Any], b: Iterable[Any]) -> list[Any]:
    bl = list(b)
    return _unique([x for x in a if x in bl])


def _difference(a: Iterable[Any], b: Iterable[Any]) -> list[Any]:
    bl = list(b)
    return _unique([x for x in a if x not in bl])


def _symmetric_difference(a: Iterable[Any], b: Iterable[Any]) -> list[Any]:
    al, bl = list(a), list(b)
    return _unique([x for x in al if x not in bl] + [x for x in bl if x not in al])


def _dict2items(
    value: Mapping[str, Any], key_name: str = "key", value_name: str = "value"
) -> list[dict[str, Any]]:
    return [{key_name: k, value_name: v} for k, v in value.items()]


def _items2dict(
    value: Iterable[Mapping[str, Any]], key_name: str = "key", value_name: str = "value"
) -> dict[str, Any]:
    return {item[key_name]: item[value_name] for item in value}


def _combine(
    *dicts: Mapping[str, Any], recursive: bool = False, list_merge: str = "replace"
) -> dict[str, Any]:
    def merge(a: dict[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(a)
        for k, v in b.items():
            if recursive and isinstance(out.get(k), Mapping) and isinstance(v, Mapping):
                out[k] = merge(dict(out[k]), v)
            elif list_merge == "append" and isinstance(out.get(k), list) and isinstance(v, list):
                out[k] = out[k] + v
            else:
                out[k] = v
        return out

    result: dict[str, Any] = {}
    for d in dicts:
        for part in d if isinstance(d, list) else [d]:
            result = merge(result, part)
    return result


def _flatten(value: Iterable[Any], levels: int | None = None) -> list[Any]:
    out: list[Any] = []
    for item in value:
        if isinstance(item, list | tuple) and (levels is None or levels > 0):
            out.extend(_flatten(item, None if levels is None else levels - 1))
        elif item is not None:
            out.append(item)
    return out


def _extract(item: Any, container: Any, morekeys: Any = None) -> Any:
    value = container[item]
    for key in [] if morekeys is None else (morekeys if isinstance(morekeys, list) else [morekeys]):
        value = value[key]
    return value


def _hash(value: Any, algorithm: str = "sha1") -> str:
    return hashlib.new(algorithm, str(value).encode("utf-8")).hexdigest()


_COMMENT_STYLES: dict[str, dict[str, str]] = {
    "plain": {"decoration": "# "},
    "erlang": {"decoration": "% "},
    "c": {"decoration": "// "},
    "cblock": {"beginning": "/*", "decoration": " * ", "end": " */"},
    "xml": {"beginning": "<!--", "decoration": " - ", "end": "-->"},
}


def _comment(text: Any, style: str = "plain", **kw: Any) -> str:
    """Ansible's ``comment`` filter: ``text`` as a comment block of ``style``.

    Layout: [beginning NL] (prefix NL) x prefix_count, each line of text behind the
    decoration (a decoration followed by a newline loses its trailing blanks), (NL postfix) x
    postfix_count, [NL end]. prefix/postfix default to the decoration without trailing blanks."""
    if style not in _COMMENT_STYLES:
        raise ValueError(f"comment: unknown style '{style}' (known: {', '.join(_COMMENT_STYLES)})")
    params = dict(_COMMENT_STYLES[style])
    decoration = str(kw.get("decoration", params["decoration"]))
    settings: dict[str, Any] = {
        "newline": "\n", "beginning": "", "end": "", "decoration": "",
        "prefix": decoration.rstrip(), "postfix": decoration.rstrip(),
        "prefix_count": 1, "postfix_count": 1,
    }
    settings.update(params)
    settings.update(kw)
    nl, deco = str(settings["newline"]), str(settings["decoration"])
    head = f"{settings['beginning']}{nl}" if settings["beginning"] else ""
    prefix = str(settings["prefix"])
    if prefix:
        head += (nl if prefix == nl else prefix + nl) * int(settings["prefix_count"])
    body = (deco + str(text).replace(nl, nl + deco)).replace(deco + nl, deco.rstrip() + nl)
    tail = "".join(nl + str(settings["postfix"]) for _ in range(int(settings["postfix_count"])))
    if settings["end"]:
        tail += nl + str(settings["end"])
    return head + body + tail


def _ternary(value: Any, true_val: Any, false_val: Any, none_val: Any = None) -> Any:
    if value is None and none_val is not None:
        return none_val
    return true_val if value else false_val


@pass_environment
def _mandatory(env: Any, value: Any, msg: str | None = None) -> Any:
    if isinstance(value, Undefined):
        raise env.undefined_error(msg or "mandatory variable not defined")  # type: ignore[attr-defined]
    return value


@pass_environment
def _groupby(env: Any, value: Any, attribute: str | int) -> list[list[Any]]:
    """ansible-core overrides Jinja2's groupby to give plain pairs, not named tuples; a
    registered or set_fact value of it compares equal to a list of [key, items] lists."""
    from jinja2.filters import sync_do_groupby

    return [[group.grouper, list(group.list)] for group in sync_do_groupby(env, value, attribute)]


def _result_status(key: str) -> Callable[[Any], bool]:
    def test(result: Any) -> bool:
        if not isinstance(result, Mapping):
            raise TypeError(f"the '{key}' test needs a registered task result")
        if key == "failed":
            return bool(result.get("failed", False))
        if key == "succeeded":
            return not result.get("failed", False)
        return bool(result.get(key, False))

    return test


def _loose_key(value: Any) -> list[Any]:
    """distutils' LooseVersion components: runs of digits (as numbers) and of letters."""
    return [int(p) if p.isdigit() else p for p in re.findall(r"\d+|[a-zA-Z]+", str(value))]


def _version_key(value: Any, version_type: str, strict: bool) -> Any:
    if version_type in ("pep440", "semver") or strict or version_type == "strict":
        from packaging.version import InvalidVersion, Version

        try:
            return Version(str(value))
        except InvalidVersion as err:
            raise ValueError(f"Version comparison failed: {err}") from None
    if version_type != "loose":
        raise ValueError(f"version_type must be one of loose, strict, semver, pep440, got {version_type!r}")
    return _loose_key(value)


def _version(value: Any, other: Any, operator: str = "eq", strict: bool = False,
             version_type: str = "loose") -> bool:
    """Ansible's ``version`` test: LooseVersion order by default; ``strict``/``semver``/``pep440``
    use the ``packaging`` library's PEP 440 versions."""
    a, b = _version_key(value, version_type, strict), _version_key(other, version_type, strict)
    ops = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
    op = ops.get(operator, operator)
    try:
        if op == "==":
            return bool(a == b)
        if op == "!=":
            return bool(a != b)
        if op == "<":
            return bool(a < b)
        if op == "<=":
            return bool(a <= b)
        if op == ">":
            return bool(a > b)
        if op == ">=":
            return bool(a >= b)
    except TypeError as err:
        raise ValueError(f"Version comparison failed: {err}") from None
    raise ValueError(f"Invalid operator type ({operator})")


ANSIBLE_FILTERS: dict[str, Callable[..., Any]] = {
    "to_json": _to_json,
    "to_nice_json": _to_nice_json,
    "from_json": json.loads,
    "to_yaml": _to_yaml,
    "to_nice_yaml": _to_nice_yaml,
    "from_yaml": yaml.safe_load,
    "b64encode": _b64encode,
    "b64decode": _b64decode,
    "regex_replace": _regex_replace,
    "regex_search": _regex_search,
    "regex_findall": _regex_findall,
    "regex_escape": re.escape,
    "bool": to_bool,
    "unique": _unique,
    "union": _union,
    "intersect": _intersect,
    "difference": _difference,
    "symmetric_difference": _symmetric_difference,
    "dict2items": _dict2items,
    "items2dict": _items2dict,
    "combine": _combine,
    "flatten": _flatten,
    "basename": posixpath.basename,
    "dirname": posixpath.dirname,
    "expanduser": os.path.expanduser,
    "splitext": posixpath.splitext,
    "hash": _hash,
    "quote": lambda v: shlex.quote(str(v)),
    "ternary": _ternary,
    "comment": _comment,
    "mandatory": _mandatory,
    "groupby": _groupby,
    "type_debug": _type_debug,
    "checksum": lambda v: _hash(v, "sha1"),
    "md5": lambda v: _hash(v, "md5"),
    "sha1": lambda v: _hash(v, "sha1"),
    "extract": _extract,
    "split": lambda value, sep=None, maxsplit=-1: str(value).split(sep, maxsplit),
    "from_yaml_all": lambda data: list(yaml.safe_load_all(data)) if isinstance(data, str) else data,
    "password_hash": password_hash,
    **MATH_FILTERS,
    **HOST_FILTERS,
}

ANSIBLE_TESTS: dict[str, Callable[..., bool]] = {
    "match": lambda v, p, ignorecase=False, multiline=False: (
        re.match(p, str(v), _regex_flags(ignorecase, multiline)) is not None
    ),
    "search": lambda v, p, ignorecase=False, multiline=False: (
        re.search(p, str(v), _regex_flags(ignorecase, multiline)) is not None
    ),
    "regex": lambda v, p, ignorecase=False, multiline=False, match_type="search": (
        getattr(re, match_type)(p, str(v), _regex_flags(ignorecase, multiline)) is not None
    ),
    "changed": _result_status("changed"),
    "failed": _result_status("failed"),
    "skipped": _result_status("skipped"),
    "succeeded": _result_status("succeeded"),
    "success": _result_status("succeeded"),
    "successful": _result_status("succeeded"),
    "failure": _result_status("failed"),
    "change": _result_status("changed"),
    "version": _version,
    "version_compare": _version,
    "subset": lambda a, b: all(x in b for x in a),
    "superset": lambda a, b: all(x in a for x in b),
    "contains": lambda seq, x: x in seq,
    "truthy": lambda v: bool(v),
    "falsy": lambda v: not v,
    "abs": posixpath.isabs,
    **MORE_TESTS,
}
