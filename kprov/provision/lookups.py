"""Ansible's lookup plugins as roles use them: ``lookup()``/``query()`` in templates and ``with_<name>``.

Each lookup takes the list of terms, the task's variables and its keyword options, and
returns a list, as Ansible's do. The terms are templated first (lookup_terms: ansible-core's
``listify_lookup_plugin_terms``), a string inside them too.
``lookup()`` joins a list of strings with commas (one non-string item comes back as itself,
several as the list); ``query()``/``q()`` and ``wantlist=True`` keep the list; a
``with_<name>:`` loop iterates it.

Files are searched like Ansible's ``find_file_in_search_path``: for each directory of
``ansible_search_path`` (the role chain innermost first, the task file's directory, the
playbook directory) ``<dir>/<subdir>/<name>`` then ``<dir>/<name>``; ``subdir`` is ``files``
except for a ``with_first_found`` loop of a ``template`` (``templates``) or ``include_vars``
(``vars``) task. Everything runs on the controller, never on a host.
"""

from __future__ import annotations

import glob
import itertools
import os
import re
import secrets
import string
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from kprov.provision.errors import TemplateError, UndefinedVariableError
from kprov.provision.lookup_terms import flattened
from kprov.provision.lookups_data import DATA_LOOKUPS
from kprov.provision.searchpath import search_file, search_paths
from kprov.provision.template_filters import to_bool
from kprov.provision.template_includes import literal_value, lookup_search_path, template_vars
from kprov.provision.template_settings import DEFAULT_SETTINGS, TemplateSettings

__all__ = ["LOOKUPS", "join_lookup", "run_lookup", "search_file"]


class Templar(Protocol):
    def template(self, value: Any, where: str) -> Any: ...

    def render(self, source: str, where: str, settings: TemplateSettings = ...,
               searchpath: Sequence[Path] = ...) -> str: ...

    def child(self, layer: Mapping[str, Any], templated: bool = False) -> Templar: ...


Vars = Mapping[str, Any]
Kw = dict[str, Any]
Lookup = Callable[[list[Any], Mapping[str, Any], Templar, str, dict[str, Any]], list[Any]]


def _listify(terms: Any) -> list[Any]:
    if terms is None:
        return []
    if isinstance(terms, list | tuple):
        return list(terms)
    return [terms]


def _items(terms: list[Any], variables: Vars, t: Templar, sub: str, kw: Kw) -> list[Any]:
    """ansible.builtin.items: one level flattened (LookupBase._flatten)."""
    return [x for term in terms for x in (term if isinstance(term, list | tuple) else [term])]


def _list(terms: list[Any], variables: Vars, t: Templar, sub: str, kw: Kw) -> list[Any]:
    return list(terms)


def _dict(terms: list[Any], variables: Vars, t: Templar, sub: str, kw: Kw) -> list[Any]:
    out: list[Any] = []
    for term in terms:
        if not isinstance(term, Mapping):
            raise TemplateError(f"with_dict expects a dict, got {type(term).__name__}")
        out += [{"key": k, "value": v} for k, v in term.items()]
    return out


def _subelements(terms: list[Any], variables: Vars, t: Templar, sub: str,
                 kw: Kw) -> list[Any]:
    """Pairs [element, sub-element] for each item of the list ``terms[1]`` names in each
    element; ansible-core's checks, in its order and with its words."""
    def wrong(detail: str = "") -> TemplateError:
        return TemplateError("subelements lookup expects a list of two or three items, " + detail)

    if not 2 <= len(terms) <= 3:
        raise wrong()
    elements, subkey = terms[0], terms[1]
    if not isinstance(elements, list | Mapping):  # listified first, as ansible-core does
        elements = [elements]
    if not isinstance(subkey, str):
        raise wrong("first a dict or a list, second a string pointing to the subkey")
    flags = terms[2] if len(terms) == 3 else {}
    if not isinstance(flags, Mapping):
        raise wrong("the optional third item must be a dict with flags ['skip_missing']")
    if isinstance(elements, Mapping):
        if elements.get("skipped", False) is not False:
            return []
        elements = list(elements.values())
    skip_missing = bool(flags.get("skip_missing", False))
    keys = subkey.split(".")
    out: list[Any] = []
    for element in elements:
        if not isinstance(element, Mapping):
            raise TemplateError(f"subelements lookup expects a dictionary, got '{element}'")
        if element.get("skipped", False) is not False:
            continue
        value: Any = element
        found: list[Any] = []
        for depth, key in enumerate(keys):
            if key not in value:
                if skip_missing:
                    break
                raise TemplateError(f"could not find '{key}' key in iterated item '{value}'")
            if depth < len(keys) - 1:
                if not isinstance(value[key], Mapping):
                    if skip_missing:
                        break
                    raise TemplateError(f"the key {key} should point to a dictionary, got '{value[key]}'")
                value = value[key]
            elif not isinstance(value[key], list):
                raise TemplateError(f"the key {key} should point to a list, got '{value[key]}'")
            else:
                found = value[key]
        out += [[element, x] for x in found]
    return out


def _nested(terms: list[Any], variables: Vars, t: Templar, sub: str, kw: Kw) -> list[Any]:
    lists = [x if isinstance(x, list) else [x] for x in terms]
    return [list(p) for p in itertools.product(*lists)] if lists else []


def _together(terms: list[Any], variables: Vars, t: Templar, sub: str,
              kw: Kw) -> list[Any]:
    if not terms:
        raise TemplateError("with_together requires at least one element in each list")
    lists = [x if isinstance(x, list) else [x] for x in terms]
    return [list(p) for p in itertools.zip_longest(*lists)]


def _indexed_items(terms: list[Any], variables: Vars, t: Templar, sub: str,
                   kw: Kw) -> list[Any]:
    return [[i, x] for i, x in enumerate(terms)]


def _first_found(terms: list[Any], variables: Vars, t: Templar, sub: str,
                 kw: Kw) -> list[Any]:
    """The first file found among the candidates (``files`` x ``paths``); [] with ``skip``."""
    skip = bool(kw.get("skip", False))
    candidates: list[str] = []

    def split(value: Any, separators: str = ",;") -> list[str]:
        """ansible-core splits ``files`` on , and ; and ``paths`` on : too."""
        out: list[str] = []
        for v in _listify(value):
            out += [p for p in re.split(f"[{separators}]", str(v)) if p] if isinstance(v, str) else [str(v)]
        return out

    def add(files: list[str], paths: list[str]) -> None:
        if not paths:
            candidates.extend(files)
        else:
            candidates.extend(os.path.join(p, f) for p in paths for f in files)

    if kw.get("files") or kw.get("paths"):
        add(split(kw.get("files")), split(kw.get("paths"), ",:;"))
    def take(terms: list[Any]) -> None:
        nonlocal skip
        for term in terms:
            if isinstance(term, Mapping):
                skip = skip or bool(term.get("skip", False))
                add(split(term.get("files")), split(term.get("paths"), ",:;"))
            elif isinstance(term, list):  # a nested list is read as the terms are
                take(term)
            else:
                candidates.append(str(term))

    take(terms)
    for candidate in candidates:
        try:
            name = str(t.template(candidate, "lookup first_found"))
        except UndefinedVariableError:  # ansible-core skips a candidate naming an undefined variable
            continue
        found = search_file(variables, sub, name)
        if found is not None:
            return [str(found.resolve())]
    if skip:
        return []
    raise TemplateError(
        "No file was found when using first_found (candidates: " + ", ".join(candidates) + ")"
    )


def _varnames(terms: list[Any], variables: Vars, t: Templar, sub: str,
              kw: Kw) -> list[Any]:
    out: list[str] = []
    names = [n for n in variables if isinstance(n, str)]
    for term in terms:
        if not isinstance(term, str):
            raise TemplateError(f'Invalid setting identifier, "{term}" is not a string, it is a {type(term)}')
        try:
            pattern = re.compile(term)
        except re.error as err:
            raise TemplateError(f'Unable to use "{term}" as a search parameter: {err}') from None
        out += [n for n in names if pattern.search(n)]
    return out


_MISSING = object()


def _vars(terms: list[Any], variables: Vars, t: Templar, sub: str, kw: Kw) -> list[Any]:
    out: list[Any] = []
    default = kw.get("default", _MISSING)
    for term in terms:
        if not isinstance(term, str):
            raise TemplateError(f'Invalid setting identifier, "{term}" is not a string, its a {type(term)}')
        if term in variables:
            out.append(t.template(variables[term], f"lookup vars '{term}'"))
        elif default is not _MISSING:
            out.append(default)
        else:
            raise TemplateError(f"No variable found with this name: {term}")
    return out


def _file(terms: list[Any], variables: Vars, t: Templar, sub: str, kw: Kw) -> list[Any]:
    out = []
    for term in terms:
        found = search_file(variables, "files", str(term))
        if found is None:
            raise TemplateError(f"could not locate file in lookup: {term}")
        text = found.read_text(encoding="utf-8")
        # ansible-core strips whitespace of either kind: lstrip off by default, rstrip on
        if to_bool(kw.get("lstrip", False)):
            text = text.lstrip()
        out.append(text.rstrip() if to_bool(kw.get("rstrip", True)) else text)
    return out


def _fileglob(terms: list[Any], variables: Vars, t: Templar, sub: str,
              kw: Kw) -> list[Any]:
    out: list[str] = []
    for term in terms:
        pattern = str(term)
        bases = [Path("/")] if os.path.isabs(pattern) else [
            d for b in search_paths(variables) for d in (b / "files", b)
        ]
        for base in bases:
            hits = sorted(p for p in glob.glob(str(base / pattern)) if os.path.isfile(p))
            if hits:
                out += hits
                break
    return out


_TEMPLATE_STRINGS = ("variable_start_string", "variable_end_string", "comment_start_string",
                     "comment_end_string")


def _template(terms: list[Any], variables: Vars, t: Templar, sub: str,
              kw: Kw) -> list[Any]:
    """ansible-core's ``template`` lookup: each file rendered with the variables, its
    ``template_vars`` on top, its includes from its own folder and the search path, the
    delimiters its options name; ``convert_data`` (default) reads a rendered literal back."""
    extra = kw.get("template_vars") or {}
    if not isinstance(extra, Mapping):
        raise TemplateError(f"Invalid type for configuration option template_vars: {extra!r}")
    settings = DEFAULT_SETTINGS.merged({k: str(kw[k]) for k in _TEMPLATE_STRINGS if kw.get(k) is not None})
    convert = to_bool(kw.get("convert_data", True))
    out = []
    for term in terms:
        found = search_file(variables, "templates", str(term))
        if found is None:
            raise TemplateError(f"the template file {term} could not be found for the lookup")
        text = t.child({**template_vars(found), **extra}).render(
            found.read_text(encoding="utf-8"), str(found), settings, lookup_search_path(variables, found))
        out.append(literal_value(text) if convert else text)
    return out


def _run(command: str) -> str:
    done = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise TemplateError(f"lookup_plugin.lines({command}) returned {done.returncode}")
    return done.stdout


def _pipe(terms: list[Any], variables: Vars, t: Templar, sub: str, kw: Kw) -> list[Any]:
    return [_run(str(term)).rstrip() for term in terms]


def _lines(terms: list[Any], variables: Vars, t: Templar, sub: str, kw: Kw) -> list[Any]:
    return [line for term in terms for line in _run(str(term)).splitlines()]


def _env(terms: list[Any], variables: Vars, t: Templar, sub: str, kw: Kw) -> list[Any]:
    default = kw.get("default", "")
    return [os.environ.get(str(term), default) for term in terms]


_CHARSETS = {
    "ascii_letters": string.ascii_letters,
    "ascii_lowercase": string.ascii_lowercase,
    "ascii_uppercase": string.ascii_uppercase,
    "digits": string.digits,
    "hexdigits": string.hexdigits,
    "punctuation": string.punctuation,
    "letters": string.ascii_letters,
}


def _key_value(word: str) -> tuple[str, str]:
    """``key=value`` (a term's inline option) as a pair."""
    key, value = word.split("=", 1)
    return key, value


def _password(terms: list[Any], variables: Vars, t: Templar, sub: str,
              kw: Kw) -> list[Any]:
    """A random password kept in a file on the controller: read when the file exists."""
    out = []
    for term in terms:
        path, *params = str(term).split()
        options = dict(kw)
        options.update(_key_value(p) for p in params if "=" in p)
        length = int(options.get("length", 20))
        chars = "".join(
            _CHARSETS.get(c, c) for c in str(options.get("chars", "ascii_letters,digits,.,:-_")).split(",")
        ) or string.ascii_letters + string.digits
        if path == "/dev/null":
            out.append("".join(secrets.choice(chars) for _ in range(length)))
            continue
        file = Path(path)
        if file.exists():
            out.append(file.read_text(encoding="utf-8").split(" salt=")[0].rstrip("\n"))
            continue
        value = "".join(secrets.choice(chars) for _ in range(length))
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(value + "\n", encoding="utf-8")
        file.chmod(0o600)
        out.append(value)
    return out


_SEQUENCE_SHORTCUT = re.compile(r"^(?:((?:0[xX]?)?[0-9a-fA-F]+)-)?((?:0[xX]?)?[0-9a-fA-F]+)"
                                r"(?:/((?:0[xX]?)?[0-9a-fA-F]+))?(?::(.+))?$", re.IGNORECASE)


def _sequence_int(name: str, value: Any) -> int:
    text = str(value).strip()
    for base in (0, 10):  # 0x3f8 and 0664 as ansible-core documents them, and a plain 08
        try:
            return int(text, base)
        except ValueError:
            continue
    raise TemplateError(f"Invalid type for configuration option lookup plugin sequence setting "
                        f"{name}: invalid literal for int(): {text!r}")


def _sequence(terms: list[Any], variables: Vars, t: Templar, sub: str,
              kw: Kw) -> list[Any]:
    """ansible-core's sequence: ``[start-]end[/stride][:format]`` or its key=value form,
    with its checks and error texts."""
    fields = ("start", "end", "stride", "count", "format")
    out: list[Any] = []
    for spec in terms or [""]:  # (options given only as keywords: one sequence of them)
        opts: dict[str, Any] = {"start": 1, "stride": 1, "format": "%d", **kw}
        shortcut = _SEQUENCE_SHORTCUT.match(str(spec).strip())
        if shortcut:
            given = dict(zip(("start", "end", "stride", "format"), shortcut.groups(), strict=True))
            opts.update({k: v for k, v in given.items() if v is not None})
        else:
            pairs = dict(_key_value(p) for p in str(spec).split() if "=" in p)
            unknown = [k for k in pairs if k not in fields]
            if unknown:
                raise TemplateError(f"unrecognized arguments to with_sequence: {unknown}")
            opts.update(pairs)
        start, stride = _sequence_int("start", opts["start"]), _sequence_int("stride", opts["stride"])
        end = _sequence_int("end", opts["end"]) if opts.get("end") is not None else None
        count = _sequence_int("count", opts["count"]) if opts.get("count") is not None else None
        fmt = str(opts["format"])
        if count is None and end is None:
            raise TemplateError("must specify count or end in with_sequence")
        if count is not None and end is not None:
            raise TemplateError("can't specify both count and end in with_sequence")
        if count is not None:
            start, end, stride = (start, start + count * stride - 1, stride) if count else (0, 0, 0)
        assert end is not None
        if stride > 0 and end < start:
            raise TemplateError("to count backwards make stride negative")
        if stride < 0 and end > start:
            raise TemplateError("to count forward don't make stride negative")
        if fmt.count("%") != 1:
            raise TemplateError(f"bad formatting string: {fmt}")
        if stride == 0:
            continue
        for number in range(start, end + (1 if stride > 0 else -1), stride):
            try:
                out.append(fmt % number)
            except (ValueError, TypeError):
                raise TemplateError(f"problem formatting {number!r} with {fmt!r}") from None
    return out


LOOKUPS: dict[str, Lookup] = {
    "items": _items,
    "list": _list,
    "dict": _dict,
    "flattened": flattened,
    "community.general.flattened": flattened,
    "subelements": _subelements,
    "nested": _nested,
    "together": _together,
    "indexed_items": _indexed_items,
    "first_found": _first_found,
    "varnames": _varnames,
    "vars": _vars,
    "file": _file,
    "fileglob": _fileglob,
    "template": _template,
    "pipe": _pipe,
    "lines": _lines,
    "env": _env,
    "password": _password,
    "sequence": _sequence,
    **DATA_LOOKUPS,
}


def run_lookup(name: str, terms: Any, variables: Mapping[str, Any], templar: Templar,
               subdir: str = "files", **kwargs: Any) -> list[Any]:
    short = name.removeprefix("ansible.builtin.").removeprefix("ansible.legacy.")
    lookup = LOOKUPS.get(short)
    plugins = getattr(templar, "plugins", None)  # an installed collection's (collection_plugins)
    if lookup is None and plugins is not None:
        return plugins.lookup(name, _listify(terms), variables, kwargs)  # type: ignore[no-any-return]
    if lookup is None:
        raise TemplateError(
            f"lookup plugin '{name}' is not supported by kprov (supported: {', '.join(sorted(LOOKUPS))})"
        )
    if short == "indexed_items" and isinstance(terms, Mapping):
        raise TemplateError("with_indexed_items expects a list")  # ansible-core's check and words
    return lookup(_listify(terms), variables, templar, subdir, kwargs)


def join_lookup(values: list[Any]) -> Any:
    """What ``lookup()`` (without ``wantlist``) returns for a lookup's list, as Ansible does
    (an empty list stays a list: ansible-core joins only a non-empty one)."""
    if not values:
        return values
    if all(isinstance(v, str) for v in values):
        return ",".join(values)
    return values[0] if len(values) == 1 else values
