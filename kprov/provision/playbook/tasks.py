"""Turning one task mapping into a :class:`Task`: keywords, the module key, and its arguments.

The module key is the one key that is not a task keyword. Its value may be a mapping or a
free-form string: ``k=v`` pairs become arguments; for ``command``/``shell`` (and any text
that is not ``k=v``) the rest is ``_raw_params``, as in Ansible. ``args:`` merges in.
``local_action``/``action`` forms are accepted.
"""

from __future__ import annotations

import codecs
import difflib
import re
from collections.abc import Callable, Iterable
from typing import Any

from kprov.provision.errors import PlaybookError, UnknownModuleError
from kprov.provision.playbook.ansible_names import deferrable
from kprov.provision.playbook.model import Scope, Task
from kprov.provision.yamlfile import origin_of

__all__ = ["ENGINE_ACTIONS", "TASK_KEYWORDS", "normalize_action", "parse_free_form", "parse_task"]

TASK_KEYWORDS = frozenset(
    [
        "name",
        "when",
        "loop",
        "with_items",
        "with_list",
        "with_dict",
        "loop_control",
        "register",
        "notify",
        "listen",
        "become",
        "become_user",
        "become_method",
        "tags",
        "changed_when",
        "failed_when",
        "until",
        "retries",
        "delay",
        "vars",
        "run_once",
        "delegate_to",
        "delegate_facts",
        "ignore_errors",
        "ignore_unreachable",
        "check_mode",
        "diff",
        "no_log",
        "args",
        "environment",
        "any_errors_fatal",
        "throttle",
        "timeout",
        "collections",
        "module_defaults",
        "debugger",
        "async",
        "poll",
    ]
)
ENGINE_ACTIONS = frozenset(
    [
        "debug",
        "set_fact",
        "assert",
        "fail",
        "meta",
        "include_tasks",
        "import_tasks",
        "include_role",
        "import_role",
        "include_vars",
        "group_by",
        "add_host",
        "validate_argument_spec",
    ]
)
_RAW_MODULES = frozenset({"command", "shell", "raw", "script"})
# ansible-core's _BUILTIN_RAW_PARAM_MODULES_SIMPLE: free-form text is theirs to read
_RAW_PARAM_ACTIONS = frozenset({"include_vars", "include_tasks", "include_role", "import_tasks",
                                "import_role", "add_host", "group_by", "set_fact", "meta"})
_RAW_OPTIONS = frozenset({"chdir", "creates", "removes", "executable", "stdin", "warn", "stdin_add_newline"})
_PREFIXES = ("ansible.builtin.", "ansible.legacy.")
# the escapes ansible-core's parse_kv decodes in a k=v token (\n, \t, \b, \xNN, \uNNNN...):
# ``regexp='\b(.+)\b'`` in free form is a backspace, ``'\\b'`` a word boundary; a
# backreference ``\1`` is not one of them
_ESCAPES = re.compile(r"\\(?:U[0-9a-fA-F]{8}|u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|N\{[^}]+\}|[\\'\"abfnrtv])")


def normalize_action(name: str) -> str:
    """``ansible.builtin.debug`` -> ``debug`` for engine actions; module names stay as written."""
    for prefix in _PREFIXES:
        if name.startswith(prefix) and name[len(prefix) :] in ENGINE_ACTIONS:
            return name[len(prefix) :]
    return name


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def split_args(text: str) -> list[str]:
    """Split on whitespace outside quotes and outside Jinja2 ``{{ }}`` / ``{% %}`` (quotes kept)."""
    return [text[a:b] for a, b in _token_spans(text)]


def _token_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    start = -1
    quote = ""
    depth = 0
    i = 0
    while i < len(text):
        pair = text[i : i + 2]
        char = text[i]
        if not quote and pair in ("{{", "{%"):
            depth += 1
            start = i if start < 0 else start
            i += 2
            continue
        if not quote and depth and pair in ("}}", "%}"):
            depth -= 1
            i += 2
            continue
        if quote:
            if char == quote and text[i - 1] != "\\":
                quote = ""
        elif char in "'\"" and not depth:
            quote = char
        elif char.isspace() and not depth:
            if start >= 0:
                spans.append((start, i))
                start = -1
            i += 1
            continue
        start = i if start < 0 else start
        i += 1
    if quote or depth:
        raise ValueError("unbalanced quotes or Jinja2 braces")
    if start >= 0:
        spans.append((start, len(text)))
    return spans


def parse_free_form(text: str, action: str) -> dict[str, Any]:
    """``k=v`` pairs become args; the rest is ``_raw_params``. For command/shell the rest keeps
    its exact text (newlines included: a multi-line ``shell: |`` script stays a script). Args
    that are one whole template (``file: "{{ file_args }}"``) are ``_variable_params``: the
    mapping it renders to is the arguments (ansible-core's ModuleArgsParser; the actions that
    take raw params keep it as ``_raw_params``)."""
    stripped = text.strip()
    if (_short(action) not in _RAW_MODULES | _RAW_PARAM_ACTIONS and stripped.startswith("{{")
            and stripped.endswith("}}") and stripped.count("{{") == 1):
        return {"_variable_params": stripped}
    try:
        spans = _token_spans(text)
    except ValueError as err:
        raise PlaybookError(f"cannot parse arguments {text!r} of '{action}': {err}") from None
    raw_module = _short(action) in _RAW_MODULES
    args: dict[str, Any] = {}
    rest: list[tuple[int, int]] = []
    for a, b in spans:
        key, eq, value = _kv_split(text[a:b])
        # a templated key (``set_fact: "{{ item }}=moo"``) is a key too, as ansible-core's parse_kv has it
        # (or partly templated: ``"user_{{ item.0.name }}={{ item.1 }}"``)
        templated_key = not raw_module and "{{" in key and key.count("{{") == key.count("}}")
        is_kv = eq and (key.isidentifier() or templated_key)
        if is_kv and (not raw_module or key in _RAW_OPTIONS):
            args[key] = _unquote(_decode_escapes(value))
        else:
            rest.append((a, b))
    if rest:
        if raw_module:
            # the text after the last word stays when that word is the command's (ansible-core
            # keeps a block scalar's final newline in ``cmd``)
            end = len(text) if rest[-1] == spans[-1] else rest[-1][1]
            args["_raw_params"] = text[rest[0][0] : end]
            removed = [(a, b) for a, b in spans if (a, b) not in rest and rest[0][0] < a < rest[-1][1]]
            for a, b in reversed(removed):
                offset = rest[0][0]
                raw = args["_raw_params"]
                args["_raw_params"] = raw[: a - offset] + raw[b - offset :]
            args["_raw_params"] = _join_continued_lines(args["_raw_params"])
        else:
            args["_raw_params"] = " ".join(text[a:b] for a, b in rest)
    return args


def _join_continued_lines(raw: str) -> str:
    """ansible-core's split_args/join_args on a command's text: a line whose last word is a
    lone backslash outside quotes continues on the next line (the backslash and the newline
    become one space); every other newline, and newlines inside quotes, stay."""
    lines = raw.split("\n")
    out: list[str] = []
    quote: str | None = None
    for number, line in enumerate(lines):
        words = line.split(" ")
        for word in words[:-1]:
            quote = _quote_after(word, quote)
        continued = words[-1] == "\\" and quote is None and len(words) > 1
        if not continued:
            quote = _quote_after(words[-1], quote)
        out.append(" ".join(words[:-1]) if continued else line)
        if number < len(lines) - 1:
            out.append(" " if continued else "\n")
    return "".join(out)


def _quote_after(word: str, quote: str | None) -> str | None:
    """The open quote after ``word`` (a quote escaped by a backslash in the word is no quote)."""
    for at, char in enumerate(word):
        if char in "'\"" and (at == 0 or word[at - 1] != "\\"):
            if quote is None:
                quote = char
            elif char == quote:
                quote = None
    return quote


def _kv_split(token: str) -> tuple[str, str, str]:
    """``key=value`` at the first ``=`` outside a Jinja2 expression."""
    depth = 0
    for i, char in enumerate(token):
        pair = token[i:i + 2]
        if pair == "{{":
            depth += 1
        elif pair == "}}" and depth:
            depth -= 1
        elif char == "=" and not depth:
            return token[:i], "=", token[i + 1:]
    return token, "", ""


def _decode_escapes(value: str) -> str:
    return _ESCAPES.sub(lambda found: codecs.decode(found.group(0), "unicode-escape"), value)


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _run_once(value: Any) -> bool | str:
    """``run_once`` as a bool, or a template the run renders (``"{{ testvar | default(False) }}"``)."""
    if isinstance(value, str):
        if "{{" in value or "{%" in value:
            return value
        return value.strip().lower() in ("1", "true", "yes", "on", "y", "t")
    return bool(value)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def tag_list(value: Any) -> list[str]:
    """A ``tags`` keyword as ansible-core loads it: a string is comma separated."""
    if isinstance(value, str):
        return [t.strip() for t in value.split(",") if t.strip()]
    return [str(t) for t in _as_list(value)]


def _closest(name: str, known: Iterable[str]) -> str | None:
    pool = sorted(set(known))
    match = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    if not match:
        match = difflib.get_close_matches(_short(name), [_short(n) for n in pool], n=1, cutoff=0.6)
    return match[0] if match else None


def parse_task(data: dict[str, Any], scope: Scope, known_modules: frozenset[str], source: str,
               resolvable: Callable[[str], bool] | None = None) -> Task:
    """One task. A module neither kprov nor Ansible's name lists know is still accepted when
    ``resolvable`` finds it (a ``library/`` or collection module: modules.protocol)."""
    where = origin_of(data, source)
    if not isinstance(data, dict):
        raise PlaybookError(f"{where}: a task must be a mapping, got {type(data).__name__}")
    candidates = [k for k in data if k not in TASK_KEYWORDS and not _is_with(k)]
    if "local_action" in data or "action" in data:
        key = "local_action" if "local_action" in data else "action"
        value = data[key]
        if isinstance(value, dict):
            value = dict(value)
            action = str(value.pop("module", ""))
            args = value
        else:
            action, _, rest = str(value).strip().partition(" ")
            args = parse_free_form(rest, action) if rest else {}
        candidates = [c for c in candidates if c not in ("local_action", "action")]
        if candidates:
            raise PlaybookError(f"{where}: '{key}' task has unknown key(s) {candidates}")
    else:
        if not candidates:
            raise PlaybookError(f"{where}: task has no module (keys: {sorted(data)})")
        if len(candidates) > 1:
            raise PlaybookError(
                f"{where}: task has more than one module-like key {candidates}; only one is allowed "
                "(a misspelt keyword?)"
            )
        action = candidates[0]
        value = data[action]
        if value is None:
            args = {}
        elif isinstance(value, dict):
            args = dict(value)
        elif isinstance(value, str | int | float | bool):
            args = (
                parse_free_form(str(value), action)
                if normalize_action(action) not in ("include_tasks", "import_tasks")
                else {"file": str(value)}
            )
        else:
            raise PlaybookError(f"{where}: arguments of '{action}' must be a mapping or a string")
    action = normalize_action(action)
    if (action not in ENGINE_ACTIONS and action not in known_modules and not deferrable(action)
            and not (resolvable is not None and resolvable(action))):
        all_known = (
            set(known_modules) | set(ENGINE_ACTIONS) | {p + a for p in _PREFIXES[:1] for a in ENGINE_ACTIONS}
        )
        raise UnknownModuleError(action, _closest(action, all_known), where)
    extra_args = data.get("args") or {}
    if not isinstance(extra_args, dict):
        raise PlaybookError(f"{where}: 'args' must be a mapping")
    args.update(extra_args)
    if "local_action" in data:
        data = {**data, "delegate_to": "localhost"}
    return _build(data, action, args, scope, where)


def _is_with(key: str) -> bool:
    """``with_<lookup>`` loop keywords (``with_items``, ``with_first_found``, ``with_ns.coll.x``)."""
    return key.startswith("with_") and len(key) > 5


def _throttle(value: Any, where: str) -> int | None:
    if value in (None, 0, "0"):
        return None
    try:
        return max(1, int(value))
    except (TypeError, ValueError):
        raise PlaybookError(f"{where}: throttle must be a number, got {value!r}") from None


def _build(data: dict[str, Any], action: str, args: dict[str, Any], scope: Scope, where: str) -> Task:
    loop = data.get("loop")
    if "with_items" in data or "with_list" in data:
        loop = data.get("with_items", data.get("with_list"))
        loop = {"__flatten__" if "with_items" in data else "__list__": loop}
    elif "with_dict" in data:
        loop = {"__dict2items__": data["with_dict"]}
    else:
        withs = [k for k in data if _is_with(k)]
        if len(withs) > 1:
            raise PlaybookError(f"{where}: a task has one loop, got {withs}")
        if withs:
            loop = {"__lookup__": withs[0][5:], "terms": data[withs[0]]}
    loop_control = data.get("loop_control") or {}
    if not isinstance(loop_control, dict):
        raise PlaybookError(f"{where}: loop_control must be a mapping")
    task_vars = data.get("vars") or {}
    if not isinstance(task_vars, dict):
        raise PlaybookError(f"{where}: vars must be a mapping")
    kw = scope.keyword
    extended = scope.extended(data)  # environment and module_defaults add up
    cond = [c for c in _as_list(data.get("when")) if c is not None]
    task = Task(
        name=str(data.get("name") or ""),
        action=action,
        args=args,
        origin=where,
        scope=scope,
        when=[*scope.when, *cond],
        tags=sorted({*scope.tags, *tag_list(data.get("tags"))}),
        loop=loop,
        loop_control=dict(loop_control),
        register=data.get("register"),
        notify=[str(n) for n in _as_list(data.get("notify", kw("notify")))],
        listen=[str(n) for n in _as_list(data.get("listen"))],
        become=data.get("become", kw("become")),
        become_user=data.get("become_user", kw("become_user")),
        become_method=data.get("become_method", kw("become_method")),
        changed_when=_as_list(data["changed_when"]) if "changed_when" in data else None,
        failed_when=_as_list(data["failed_when"]) if "failed_when" in data else None,
        until=_as_list(data["until"]) if "until" in data else None,
        retries=data.get("retries"),
        delay=data.get("delay"),
        vars=dict(task_vars),
        # add_host bypasses the host loop in Ansible: it runs once, for the first host
        run_once=_run_once(data.get("run_once", kw("run_once", False))) or action == "add_host",
        delegate_to=data.get("delegate_to", kw("delegate_to")),
        delegate_facts=data.get("delegate_facts", kw("delegate_facts")),
        ignore_unreachable=data.get("ignore_unreachable", kw("ignore_unreachable")),
        ignore_errors=data.get("ignore_errors", kw("ignore_errors", False)),  # templated per host
        check_mode=data.get("check_mode", kw("check_mode")),
        diff=data.get("diff", kw("diff")),
        no_log=data.get("no_log", kw("no_log", False)),  # templated per host, as ignore_errors
        throttle=_throttle(data.get("throttle", kw("throttle")), where),
        environment=extended.environment,
        module_defaults=extended.module_defaults,
        async_seconds=data.get("async"),
        poll=data.get("poll"),
    )
    if action == "meta" and args.get("_raw_params") == "end_role" and scope.role is None:
        raise PlaybookError(f"{where}: Cannot execute 'end_role' from outside of a role")
    if task.register is not None and not str(task.register).isidentifier():
        raise PlaybookError(f"{where}: register name {task.register!r} is not a valid variable name")
    return task
