"""One Jinja2 environment for the engine (strict undefined + Ansible filters) and lazy variables.

* :class:`TemplateEngine` owns the environment and a cache of compiled templates; their
  byte-code is also kept on disk across runs (Jinja2's own FileSystemBytecodeCache, keyed
  by the source and this environment's settings), so a run does not compile again what the
  last one compiled. The optimizer is off: it folds constants' filters and tests into code.
* :class:`VarScope` is the variable view a template sees: layers from highest to lowest
  precedence; string values of *templated* layers (inventory, play, role, task vars) are
  rendered on access in the same scope (so ``a: "{{ b }}"`` works, with cycle detection),
  while *raw* layers (facts, registered results, set_fact values) are returned as-is.
* A string that is exactly one ``{{ expression }}`` evaluates to the native value (a list
  stays a list), as in Ansible; anything else renders to a string.
* An undefined variable raises :class:`UndefinedVariableError` naming the variable and the
  template (a file path, or ``task field 'when'`` etc.); the executor adds the task name.
* A template may carry its own Jinja2 settings (template_settings: a template task's
  ``trim_blocks`` etc. and a ``#jinja2:`` first line): it is compiled in an overlay of the
  one environment with those settings (one overlay per distinct settings).
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import re
from collections.abc import Iterator, Mapping, MappingView, Sequence
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta
from jinja2.utils import concat

from kprov.provision.collection_plugins import CollectionPlugins, PluginMap
from kprov.provision.errors import TemplateError, UndefinedVariableError
from kprov.provision.lookup_terms import template_terms
from kprov.provision.lookups import join_lookup, run_lookup
from kprov.provision.template_filters import ANSIBLE_FILTERS, ANSIBLE_TESTS, to_bool
from kprov.provision.template_includes import ANSIBLE_MANAGED, IncludeLoader, literal_value, template_vars
from kprov.provision.template_settings import DEFAULT_SETTINGS, HEADER, TemplateSettings, split_header
from kprov.provision.template_unsafe import UnsafeMemo, wrap_unsafe
from kprov.provision.vault import Vault
from kprov.provision.yamlfile import EncryptedValue, UnsafeText

__all__ = [
    "ANSIBLE_MANAGED", "AnsibleUndefined", "OMIT", "Layer", "TemplateEngine", "VarScope",
    "escape_backslashes", "is_template", "template_vars",
]

OMIT = "__omit_place_holder__kprov__"
_SINGLE_EXPR = re.compile(r"^\{\{(?P<expr>(?:(?!\{\{|\}\}|\{%).)*)\}\}\Z", re.S)
_UNDEFINED_NAME = re.compile(r"'([^']+)' is undefined|has no attribute '([^']+)'|no element '?([^']+?)'?$")

Layer = tuple[Mapping[str, Any], bool]  # (variables, templated?)


def is_template(value: Any) -> bool:
    """Whether ``value`` is text to render (never a ``!unsafe`` one)."""
    return (isinstance(value, str) and ("{{" in value or "{%" in value or value.startswith(HEADER))
            and not isinstance(value, UnsafeText))


class AnsibleUndefined(jinja2.StrictUndefined):
    """Strict, except that an attribute or item of an undefined value is that same undefined
    value: ``a.b is defined`` is false and ``a.b | default(x)`` is x when ``a`` is undefined,
    as in Ansible; printing, comparing or iterating it still raises, naming ``a``."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        if name[:2] == "__":
            raise AttributeError(name)
        return self

    def __getitem__(self, key: Any) -> Any:
        return self

    def __repr__(self) -> str:  # ansible-core's, which '%r' | format shows
        return (f"AnsibleUndefined(hint={self._undefined_hint!r}, obj={self._undefined_obj!r}, "
                f"name={self._undefined_name!r})")


class TemplateEngine:
    """The single Jinja2 environment; safe to share between host threads."""

    def __init__(self, extra_globals: Mapping[str, Any] | None = None,
                 bytecode_dir: Path | None = None) -> None:
        self.env = jinja2.Environment(
            undefined=AnsibleUndefined,
            # Ansible's: no trailing newline kept by Jinja itself (an included template adds
            # none), the source's trailing newlines restored after rendering (render)
            keep_trailing_newline=False,
            trim_blocks=True,
            extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols"],
            autoescape=False, optimized=False,  # no filter's or test's answer baked into code
            # Ansible's: a None printed by {{ }} is empty text ("a {{ none }}" is "a "), so a
            # template renders the same file under both
            finalize=_none_as_empty,
            # included templates come from the rendering file's search path (template_includes),
            # never from a cache keyed by name only
            loader=IncludeLoader(),
            cache_size=0,
        )
        self.vault = Vault()  # the run's vault secrets (pipelines.open_run): !vault values
        # kprov's filters and tests; a name it lacks is asked of the installed collections
        self.plugins = CollectionPlugins()
        self.env.filters = PluginMap("filter", self.plugins, {**self.env.filters, **ANSIBLE_FILTERS})
        self.env.tests = PluginMap("test", self.plugins, {**self.env.tests, **ANSIBLE_TESTS})
        self.env.globals.update(extra_globals or {})
        self.env.globals["omit"] = OMIT
        self.env.globals["lookup"] = _lookup
        self.env.globals["query"] = _query
        self.env.globals["q"] = _query
        self.env.globals["now"] = _now
        self._compiled: dict[str, jinja2.Template] = {}
        # templates with settings of their own, and the environment overlays they compile in
        self._compiled_with: dict[tuple[TemplateSettings, str], jinja2.Template] = {}
        self._overlays: dict[TemplateSettings, jinja2.Environment] = {}
        self._disk = _bytecode_cache(bytecode_dir)
        # What the compiled code depends on besides the source.
        self._settings = repr((jinja2.__version__, self.env.trim_blocks, self.env.lstrip_blocks,
                               self.env.keep_trailing_newline, sorted(self.env.extensions),
                               "finalize: none as empty", "not optimized"))

    def compile(self, source: str, where: str,
                settings: TemplateSettings = DEFAULT_SETTINGS) -> jinja2.Template:
        if settings is not DEFAULT_SETTINGS and settings != DEFAULT_SETTINGS:
            return self._compile_with(source, where, settings)
        cached = self._compiled.get(source)
        if cached is None:
            cached = self._build(self.env, source, where, self._settings)
            self._compiled[source] = cached
        return cached

    def _compile_with(self, source: str, where: str, settings: TemplateSettings) -> jinja2.Template:
        cached = self._compiled_with.get((settings, source))
        if cached is None:
            env = self._overlays.get(settings)
            if env is None:
                env = self._overlays.setdefault(settings, self.env.overlay(**settings.overlay()))
            cached = self._build(env, source, where, f"{self._settings} {settings!r}")
            self._compiled_with[(settings, source)] = cached
        return cached

    def _build(self, env: jinja2.Environment, source: str, where: str, settings: str) -> jinja2.Template:
        try:
            code = self._code(env, source, settings)
        except jinja2.TemplateSyntaxError as err:
            raise TemplateError(
                f"{where}: template syntax error at line {err.lineno}: {err.message}"
            ) from None
        return env.template_class.from_code(env, code, env.make_globals(None), None)

    def _code(self, env: jinja2.Environment, source: str, settings: str) -> Any:
        if self._disk is None:
            return env.compile(source)
        name = hashlib.sha256(f"{settings}\0{source}".encode()).hexdigest()
        bucket = self._disk.get_bucket(env, name, None, source)
        if bucket.code is None:
            bucket.code = env.compile(source)
            with contextlib.suppress(OSError):  # unwritable: the next run compiles again
                self._disk.set_bucket(bucket)
        return bucket.code

    def scope(self, layers: list[Layer]) -> VarScope:
        return VarScope(self, layers)


def _now(utc: bool = False, fmt: str | None = None) -> Any:
    """ansible-core's ``now()``: the current time (UTC when asked), or its text in ``fmt``."""
    moment = datetime.datetime.now(datetime.UTC) if utc else datetime.datetime.now()
    if utc:
        moment = moment.replace(tzinfo=None)
    return moment.strftime(fmt) if fmt else moment


def _bytecode_cache(directory: Path | None) -> jinja2.BytecodeCache | None:
    """Jinja2's file cache in ``directory`` (default: its own per-user temporary directory);
    None when there is none to be had."""
    try:
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
            return jinja2.FileSystemBytecodeCache(str(directory))
        return jinja2.FileSystemBytecodeCache()
    except (OSError, RuntimeError):
        return None


class VarScope(Mapping[str, Any]):
    """Layered, lazily rendered variables (highest precedence first)."""

    def __init__(self, engine: TemplateEngine, layers: list[Layer]) -> None:
        self.engine = engine
        self.plugins = engine.plugins  # a collection's lookups (lookups.run_lookup)
        self.layers = layers
        self._resolving: list[str] = []
        self._cache: dict[str, Any] = {}
        self.untrusted: frozenset[str] = frozenset()  # registered results: unsafe by name
        self._unsafe_reads: list[bool] = []  # per template() under way: read unsafe data?
        self._unsafe = UnsafeMemo()

    # -- Mapping ---------------------------------------------------------------------------
    def __getitem__(self, key: str) -> Any:
        value = self._resolve(key)
        if (reads := self._unsafe_reads) and not reads[-1] and (key in self.untrusted or self._unsafe(value)):
            reads[-1] = True  # template_unsafe: the result will be unsafe
        return value

    def mark_unsafe(self, unsafe: bool = True) -> None:  # the template under way ran a lookup
        self._unsafe_reads[-1:] = [unsafe or r for r in self._unsafe_reads[-1:]]

    def _resolve(self, key: str) -> Any:
        if key in self._cache:
            return self._cache[key]
        found = next(((m, t) for m, t in self.layers if key in m), None)
        if found is None:
            # the scope is the templates' whole context (shared=True), so the environment's
            # globals (lookup, omit, range, ...) are its lowest layer
            if key in self.engine.env.globals:
                return self.engine.env.globals[key]
            raise KeyError(key)
        value, templated = found[0][key], found[1]
        if not templated or not _needs_render(value):
            return value
        if key in self._resolving:
            chain = " -> ".join([*self._resolving[self._resolving.index(key) :], key])
            raise TemplateError(f"variable '{key}' refers to itself: {chain}")
        self._resolving.append(key)
        try:
            rendered = self.template(value, where=f"variable '{key}'")
        finally:
            self._resolving.pop()
        self._cache[key] = rendered
        return rendered

    def __contains__(self, key: object) -> bool:
        return any(key in mapping for mapping, _ in self.layers) or key in self.engine.env.globals

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for mapping, _ in self.layers:
            for key in mapping:
                if key not in seen:
                    seen.add(key)
                    yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def child(self, layer: Mapping[str, Any], templated: bool = False) -> VarScope:
        """A scope with one more highest-precedence layer (loop item, registered result)."""
        scope = VarScope(self.engine, [(layer, templated), *self.layers])
        scope.untrusted = self.untrusted
        return scope

    # -- rendering -------------------------------------------------------------------------
    def render(self, source: str, where: str, settings: TemplateSettings = DEFAULT_SETTINGS,
               searchpath: Sequence[Path] = ()) -> str:
        """``source`` rendered (``settings``: a template task's; a ``#jinja2:`` first line of
        ``source`` overrides them); its trailing newlines kept, in ``settings``' sequence;
        ``searchpath``: where its includes are found (template_includes)."""
        if searchpath:
            loader = self.engine.env.loader
            assert isinstance(loader, IncludeLoader)
            with loader.searching(searchpath):
                return self.render(source, where, settings)
        body, own = split_header(source, settings, where)
        template = self.engine.compile(body, where, own)
        context = template.new_context(self, shared=True)  # type: ignore[arg-type]
        try:
            return _restore_newlines(source, concat(template.root_render_func(context)),
                                     settings.newline_sequence)
        except jinja2.UndefinedError as err:
            raise _undefined(err, where) from None
        except UndefinedVariableError as err:
            raise _via(err, where) from None
        except TemplateError:
            raise
        except Exception as err:  # a filter or test raised: report it with the place
            raise TemplateError(f"{where}: {type(err).__name__}: {err}") from None

    def evaluate(self, expression: str, where: str) -> Any:
        """The native value of a bare Jinja2 expression (``when``, ``that``, ``{{ x }}``)."""
        source = "{% set __kprov_value__ = (" + expression + "\n) %}"
        template = self.engine.compile(source, where)
        context = template.new_context(self, shared=True)  # type: ignore[arg-type]
        try:
            for _ in template.root_render_func(context):
                pass
            value = context.vars["__kprov_value__"]
        except jinja2.UndefinedError as err:
            raise _undefined(err, where) from None
        except UndefinedVariableError as err:
            raise _via(err, where) from None
        except TemplateError:
            raise
        except Exception as err:
            raise TemplateError(f"{where}: {type(err).__name__}: {err}") from None
        if isinstance(value, jinja2.Undefined):
            try:
                value._fail_with_undefined_error()  # raises through StrictUndefined
            except jinja2.UndefinedError as err:
                raise _undefined(err, where) from None
        return value

    def template(self, value: Any, where: str) -> Any:
        """Render strings inside any structure; a lone ``{{ expr }}`` keeps its native type,
        except a number or None computed by an expression (not a bare ``{{ name }}``), which
        Ansible's (non-native) templating turns into its text ("" for None). String
        literals inside ``{{ }}`` keep their backslashes (see escape_backslashes). A result
        that read unsafe data is unsafe (template_unsafe)."""
        if isinstance(value, str):
            if not is_template(value):
                return value
            self._unsafe_reads.append(False)
            try:
                result = self._template_text(value, where)
            finally:
                unsafe = self._unsafe_reads.pop()
            return wrap_unsafe(result) if unsafe else result
        if isinstance(value, EncryptedValue):  # a !vault value: its plain text, never templated
            return self.engine.vault.decrypt(value.envelope, value.origin)
        if isinstance(value, Mapping) and not isinstance(value, VarScope):
            return {k: self.template(v, f"{where}.{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [self.template(v, where) for v in value]
        return value

    def _template_text(self, value: str, where: str) -> Any:
        source, value = value, escape_backslashes(value, self.engine.env)
        match = _SINGLE_EXPR.match(value)
        if match:
            try:
                result = _finalized(_unwrap(self.evaluate(match.group("expr"), where)))
            except jinja2.UndefinedError as err:
                raise _undefined(err, where) from None
            if result is not None and (isinstance(result, bool) or not isinstance(result, int | float)):
                return result  # the common case: no question of a bare variable
            name = match.group("expr").strip()
            if name.isidentifier() and name in self:
                return result  # a bare variable keeps its value, None included
            return "" if result is None else str(result)
        # the escaping re-joins Jinja's tokens, which drops a final newline: restore from the source
        return literal_value(_restore_newlines(source, self.render(value, where)))

    def condition(self, condition: Any, where: str) -> bool:
        """A ``when``/``failed_when``/``changed_when``/``until``/``that`` entry as a bool."""
        if isinstance(condition, bool):
            return condition
        if condition is None:
            return False
        text = str(condition).strip()
        if is_template(text):
            source, rendered = text, self.template(text, where)  # unsafe if it read a fact, a lookup
            if (text := str(rendered)) in ("True", "False", "true", "false", "yes", "no"):
                return to_bool(text)
            if isinstance(rendered, UnsafeText) or (self.untrusted and self._reads(source) & self.untrusted):
                raise TemplateError(f"The conditional check '{source}' failed. The error was: "
                                    "Conditional is marked as unsafe, and cannot be evaluated.")
        return bool(_unwrap(self.evaluate(text, where)))

    def _reads(self, source: str) -> set[str]:
        """The variables a template reads (its inline expressions put their text in the
        conditional: ansible-core's unsafe marking follows them)."""
        try:
            return set(jinja2.meta.find_undeclared_variables(self.engine.env.parse(source)))
        except jinja2.TemplateSyntaxError:
            return set()

    def render_file(self, path: Path, where: str | None = None) -> str:
        try:
            source = path.read_text(encoding="utf-8")
        except OSError as err:
            raise TemplateError(f"cannot read template {path}: {err.strerror}") from None
        return self.render(source, where or str(path))


def escape_backslashes(source: str, env: jinja2.Environment) -> str:
    """Double the backslashes of string literals inside ``{{ }}``, as Ansible does for task
    arguments and variables (not template files): ``regex_replace('^(\\d+)', '\\1')`` written in
    YAML reaches the regex engine as ``\\d`` and ``\\1``, not as control characters."""
    if "\\" not in source or "{{" not in source:
        return source
    try:
        tokens = list(env.lex(env.preprocess(source)))
    except jinja2.TemplateSyntaxError:
        return source  # the render reports it with its place
    out: list[str] = []
    inside = False
    for _, kind, text in tokens:
        if kind == "variable_begin":
            inside = True
        elif kind == "variable_end":
            inside = False
        elif inside and kind == "string":
            text = text.replace("\\", "\\\\")
        out.append(text)
    return "".join(out)


def _restore_newlines(source: str, result: str, newline: str = "\n") -> str:
    """At least as many trailing newlines as the source has, as Ansible's templating ensures."""
    missing = (len(source) - len(source.rstrip("\n"))) - (len(result) - len(result.rstrip("\n")))
    return result + newline * missing if missing > 0 else result


def _needs_render(value: Any) -> bool:
    if isinstance(value, EncryptedValue):
        return True
    if isinstance(value, str):
        return is_template(value)
    if isinstance(value, Mapping):
        return any(_needs_render(v) for v in value.values())
    if isinstance(value, list):
        return any(_needs_render(v) for v in value)
    return False


def _none_as_empty(value: Any) -> Any:
    value = _finalized(value)
    return "" if value is None else value


def _finalized(value: Any) -> Any:
    """ansible-core's finalize: a generator, iterator, view or range unrolled into a list, and
    an undefined value anywhere inside a list or mapping raised (``[a.x, ...]`` fails)."""
    if isinstance(value, Iterator | MappingView | range):
        value = list(value)  # type: ignore[arg-type]  # a MappingView iterates
    _raise_undefined(value)
    return value


def _raise_undefined(value: Any) -> None:
    if isinstance(value, jinja2.Undefined):
        str(value)  # StrictUndefined raises, naming the variable
    elif isinstance(value, dict):  # plain data only: a lazy mapping (hostvars) is not walked
        for item in value.values():
            _raise_undefined(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _raise_undefined(item)


def _unwrap(value: Any) -> Any:
    if isinstance(value, VarScope):
        return dict(value.items())
    return value


def _undefined(err: jinja2.UndefinedError, where: str) -> UndefinedVariableError:
    message = str(err)
    match = _UNDEFINED_NAME.search(message)
    name = next((g for g in match.groups() if g), message) if match else message
    return UndefinedVariableError(name, where, detail=message)


def _via(err: UndefinedVariableError, where: str) -> UndefinedVariableError:
    if err.template == where or err.template.startswith(f"{where} "):
        return err
    return UndefinedVariableError(err.variable, f"{where} (via {err.template})", err.task, err.detail)


@jinja2.pass_context
def _lookup(context: jinja2.runtime.Context, name: str, *terms: Any, wantlist: bool = False,
            **kwargs: Any) -> Any:
    """``lookup(NAME, TERMS..., wantlist=False, **options)`` (kprov.provision.lookups)."""
    values = _guarded(context, name, terms, kwargs)
    if values is None:  # failed under errors='warn'/'ignore': ansible-core's lookup() gives None
        return None
    return values if wantlist else join_lookup(values)


@jinja2.pass_context
def _query(context: jinja2.runtime.Context, name: str, *terms: Any, **kwargs: Any) -> list[Any]:
    """``query(NAME, TERMS...)`` / ``q(...)``: the lookup's list."""
    values = _guarded(context, name, terms, kwargs)
    return [] if values is None else values


def _guarded(context: jinja2.runtime.Context, name: str, terms: tuple[Any, ...],
             kwargs: dict[str, Any]) -> list[Any] | None:
    """The lookup's list, or None when it failed and its ``errors`` option is warn/ignore."""
    scope = context.parent
    if not isinstance(scope, VarScope):
        raise TemplateError(f"lookup('{name}') is only available in task templates")
    errors, allowed = str(kwargs.pop("errors", "strict")), to_bool(kwargs.pop("allow_unsafe", False))
    if errors not in ("strict", "warn", "ignore"):
        raise TemplateError("'errors' must be one of 'strict', 'warn' or 'ignore', not "
                            f"'{errors}'")  # ansible-core checks it as the lookup starts
    listed = template_terms(list(terms), scope, f"lookup('{name}')")  # whatever ``errors`` says
    try:
        values = run_lookup(name, listed, scope, scope, **kwargs)
        scope.mark_unsafe(not allowed)  # ansible-core: a lookup's result is unsafe unless allow_unsafe
        return values
    except UndefinedVariableError:
        raise  # ansible-core re-raises an undefined variable whatever 'errors' says
    except TemplateError:
        if errors == "strict":
            raise
        return None
