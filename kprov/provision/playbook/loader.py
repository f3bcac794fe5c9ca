"""Load a playbook into plays of blocks and tasks, expanding static imports.

* ``import_playbook`` / ``import_tasks`` / ``import_role`` and a play's ``roles:`` are
  expanded here, once; their ``when``/``tags``/``vars``/``become`` are inherited by every task.
* ``include_tasks`` / ``include_role`` stay tasks; the executor calls :meth:`PlaybookLoader.
  include_tasks` / :meth:`PlaybookLoader.role_items` per host at run time.
* A play's items are ``pre_tasks``, ``meta: flush_handlers``, roles, ``tasks``, a flush,
  ``post_tasks``, a flush — the points where Ansible runs notified handlers.
* A role runs once per play (dependencies first) unless its params differ or its meta sets
  ``allow_duplicates``; its handlers join the play's handlers.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from kprov.provision.errors import PlaybookError, ProvisionError, RunParseError
from kprov.provision.modules.protocol.locate import Locator, collection_roots, default_library_dirs
from kprov.provision.playbook.argspec import validation_task
from kprov.provision.playbook.include_checks import check_include_args, resolved
from kprov.provision.playbook.model import EXTENDED_KEYWORDS, Block, Item, Play, Playbook, Role, Scope, Task
from kprov.provision.playbook.tasks import normalize_action, parse_task, tag_list
from kprov.provision.roles.loader import RoleFinder, argument_specs, role_file
from kprov.provision.template_filters import to_bool
from kprov.provision.yamlfile import load_yaml_file, origin_of

__all__ = ["PlaybookLoader", "load_playbook"]

_PLAY_KEYS = frozenset(
    [
        "name",
        "hosts",
        "roles",
        "tasks",
        "pre_tasks",
        "post_tasks",
        "handlers",
        "vars",
        "become",
        "become_user",
        "become_method",
        "serial",
        "any_errors_fatal",
        "force_handlers",
        "max_fail_percentage",
        "gather_facts",
        "check_mode",
        "tags",
        "vars_files",
        "strategy",
        "connection",
        "remote_user",
        "environment",
        "module_defaults",
        "collections",
        "order",
        "ignore_errors",
        "no_log",
        "diff",
    ]
)
_INHERITED = (
    "become",
    "become_user",
    "become_method",
    "ignore_errors",
    "ignore_unreachable",
    "check_mode",
    "no_log",
    "delegate_to",
    "delegate_facts",
    "run_once",
    "diff",
    "throttle",
    "notify",  # a block's, for the tasks that have none (ansible-core's Notifiable)
)


def _known_modules() -> frozenset[str]:
    from kprov.provision.modules.registry import known_module_names

    return frozenset(known_module_names())


class PlaybookLoader:
    def __init__(
        self,
        playbook_dir: Path,
        roles_path: list[Path] | None = None,
        known_modules: frozenset[str] | None = None,
        decrypt: Callable[[str, str], str] | None = None,
        extra_vars: dict[str, Any] | None = None,
    ) -> None:
        self.playbook_dir = playbook_dir
        self.extra_vars = dict(extra_vars or {})  # for names templated at load (static imports)
        self.decrypt = decrypt  # vars files ansible-vault encrypted (vault.Vault.decrypt)
        self.roles = RoleFinder(playbook_dir, roles_path, decrypt)
        self.known = known_modules if known_modules is not None else _known_modules()
        self._uids = itertools.count(1)
        # the play being loaded: a static import_role in its tasks joins it as a ``roles:``
        # entry does (its handlers, its vars and defaults for the rest of the play)
        self._loading: Play | None = None
        self._uid_lock = threading.Lock()
        # where modules kprov lacks are found (modules.protocol): the playbook's library/,
        # each role's as it loads (visible to the whole run, as in ansible-core), collections
        self.modules = Locator([playbook_dir / "library", *default_library_dirs()],
                               collection_roots(playbook_dir))

    def _resolvable(self, action: str) -> bool:
        return self.modules.find(action) is not None

    def _number(self, task: Task) -> Task:
        with self._uid_lock:
            task.uid = next(self._uids)
        return task

    # -- playbooks and plays ---------------------------------------------------------------
    def load(self, path: Path, imported: dict[str, Any] | None = None) -> Playbook:
        """The playbook's plays; ``imported``: an ``import_playbook``'s vars and tags, which
        its plays take (its vars above their own, as ansible-core's PlaybookInclude sets)."""
        data = load_yaml_file(path)
        if data is None:
            data = []
        if not isinstance(data, list):
            raise PlaybookError(f"{path}: a playbook is a list of plays, got {type(data).__name__}")
        book = Playbook(path=path)
        for entry in data:
            where = origin_of(entry, str(path))
            if not isinstance(entry, dict):
                raise PlaybookError(f"{where}: a play must be a mapping")
            if "import_playbook" in entry:
                book.plays += self._import_playbook(entry, path, imported or {}, where).plays
            else:
                book.plays.append(self.load_play(_with_import(entry, imported), path,
                                                 tuple((imported or {}).get("when") or ())))
        return book

    def _import_playbook(self, entry: dict[str, Any], path: Path, imported: dict[str, Any],
                         where: str) -> Playbook:
        own_vars = entry.get("vars") or {}
        if not isinstance(own_vars, dict):
            raise PlaybookError(f"{where}: vars must be a mapping")
        merged: dict[str, Any] = {**(imported.get("vars") or {}), **own_vars}
        when = [*(imported.get("when") or []), *(w for w in _list(entry.get("when")) if w is not None)]
        context = {"vars": merged, "tags": [*(imported.get("tags") or []), *tag_list(entry.get("tags"))],
                   "when": when}
        name = self.static_text(entry["import_playbook"], [merged], where)
        target = (path.parent / str(name)).resolve()
        self.modules.add_library(target.parent / "library")  # an imported playbook's own modules
        return self.load(target, context)

    def static_text(self, value: Any, layers: Sequence[dict[str, Any]], where: str) -> Any:
        """A name templated at load (ansible-core templates static imports' names with the
        play's vars and the extra vars): ``layers`` lowest first, extra vars above them."""
        if not (isinstance(value, str) and "{{" in value):
            return value
        from kprov.provision.templates import TemplateEngine

        scope = TemplateEngine().scope([(self.extra_vars, True), *((v, True) for v in reversed(layers))])
        try:
            return scope.template(value, where)
        except ProvisionError as err:
            raise PlaybookError(f"{where}: {err}") from None

    def load_play(self, data: dict[str, Any], path: Path, when: tuple[Any, ...] = ()) -> Play:
        """One play; ``when``: an ``import_playbook``'s conditions, on every task of it."""
        where = origin_of(data, str(path))
        unknown = sorted(set(data) - _PLAY_KEYS)
        if unknown:
            raise PlaybookError(f"{where}: unknown play keyword(s) {unknown}")
        if "hosts" not in data:
            raise PlaybookError(f"{where}: a play needs 'hosts'")
        hosts = ",".join(map(str, data["hosts"])) if isinstance(data["hosts"], list) else str(data["hosts"])
        play = Play(
            name=str(data.get("name") or hosts),  # Play.get_name: the hosts, a list joined by commas
            hosts=hosts,
            origin=where,
            base_dir=path.parent,
            vars=dict(data.get("vars") or {}),
            become=data.get("become"),
            become_user=data.get("become_user"),
            become_method=data.get("become_method"),
            remote_user=data.get("remote_user"),
            connection=data.get("connection"),
            serial=data.get("serial"),
            any_errors_fatal=bool(data.get("any_errors_fatal", False)),
            force_handlers=data.get("force_handlers"),
            max_fail_percentage=data.get("max_fail_percentage"),
            gather_facts=bool(data.get("gather_facts", True)),
            included_when=when,
            check_mode=data.get("check_mode"),
            tags=[str(t) for t in _list(data.get("tags"))],
        )
        for vars_file in _list(data.get("vars_files")):
            loaded = load_yaml_file(path.parent / str(vars_file), self.decrypt)
            for mapping in vars_file_mappings(loaded):
                play.vars.update(mapping)
        keywords = tuple((k, data[k]) for k in _INHERITED if k in data)
        scope = Scope(base_dir=path.parent, tags=tuple(play.tags), keywords=keywords, when=when,
                      static_vars=(play.vars,)).extended(data)
        seen: set[tuple[str, str]] = set()
        items: list[Item] = []
        self._loading = play
        items += self.items(_list(data.get("pre_tasks")), scope, str(path))
        items.append(self._flush(scope, where))
        for ref in _list(data.get("roles")):
            ref = {"role": ref} if isinstance(ref, str) else ref
            if not isinstance(ref, dict) or not (ref.get("role") or ref.get("name")):
                raise PlaybookError(
                    f"{origin_of(ref, where)}: a play's role entry is a name or {{role: NAME, ...}}"
                )
            items += self.role_items(dict(ref), scope, play, seen, origin_of(ref, where))
        items += self.items(_list(data.get("tasks")), scope, str(path))
        items.append(self._flush(scope, where))
        items += self.items(_list(data.get("post_tasks")), scope, str(path))
        items.append(self._flush(scope, where))
        self._loading = None
        play.items = items
        play.handlers += self.handlers(_list(data.get("handlers")), scope, str(path))
        return play

    # -- task lists ------------------------------------------------------------------------
    def items(self, data: list[Any], scope: Scope, source: str) -> list[Item]:
        out: list[Item] = []
        for entry in data:
            out += self.item(entry, scope, source)
        return out

    def item(self, data: Any, scope: Scope, source: str) -> list[Item]:
        where = origin_of(data, source)
        if not isinstance(data, dict):
            raise PlaybookError(f"{where}: a task must be a mapping, got {type(data).__name__}")
        if "block" in data:
            inner = self._inherit(scope, data, where)
            return [
                Block(
                    block=self.items(_list(data["block"]), inner, source),
                    rescue=self.items(_list(data.get("rescue")), inner, source),
                    always=self.items(_list(data.get("always")), inner, source),
                    name=str(data.get("name") or ""),
                    origin=where,
                )
            ]
        task = self._number(parse_task(data, scope, self.known, source, self._resolvable))
        if task.action in ("include_tasks", "include_role", "import_tasks", "import_role"):
            written = next((k for k in data if normalize_action(k) == task.action), task.action)
            check_include_args(task.action, task.args, where, written)
        if task.action in ("import_tasks", "import_role"):  # names templated at load
            layers = [*scope.static_vars, *scope.vars, task.vars]
            task.args = {k: self.static_text(v, layers, where) for k, v in task.args.items()}
        if task.action == "import_tasks":
            file = self._include_path(task, scope)
            inner = self._inherit(scope, data, where, include_vars=task.vars)
            return self.items(
                _list(load_yaml_file(file)), dataclasses.replace(inner, base_dir=file.parent), str(file)
            )
        if task.action == "import_role":
            inner = self._inherit(scope, data, where)
            return self.role_items(dict(task.args), inner, self._loading, None, where)
        return [task]

    def include_tasks(self, task: Task, args: dict[str, Any], as_handlers: bool = False) -> list[Item]:
        """Run-time expansion of ``include_tasks`` (args already templated); a handler's
        include loads its file as handlers (what they refuse ends the run, as ansible-core's)."""
        file = self._include_path(dataclasses.replace(task, args=args), task.scope)
        inner = dataclasses.replace(
            task.include_scope(), base_dir=file.parent, vars=(*task.scope.vars, dict(task.vars)),
            include_params=(*task.scope.include_params, dict(task.vars)),
        )
        if args.get("apply"):  # a block around the included tasks (TaskInclude.build_parent_block)
            inner = self._inherit(inner, args["apply"], task.origin)
        if not as_handlers:
            try:
                loaded = self.items(_list(load_yaml_file(file)), inner, str(file))
                return resolved(loaded, self.known, self._resolvable)
            except PlaybookError as err:  # the included file's parser error ends the run
                raise err if isinstance(err, RunParseError) else RunParseError(str(err)) from err
        try:
            return list(self.handlers(_list(load_yaml_file(file)), inner, str(file)))
        except PlaybookError as err:
            raise RunParseError(str(err)) from err

    def handlers(self, data: list[Any], scope: Scope, source: str) -> list[Task]:
        """A handlers list, refusing what ansible-core refuses at load: a role include, a flush, a
        block inside a handler block or from an imported file (a top-level one is a list)."""
        for entry in (e for e in data if isinstance(e, dict)):
            where = origin_of(entry, source)
            action = next((k for k in entry if k.rpartition(".")[2] in ("include_role", "import_role")), None)
            if action is not None:
                raise PlaybookError(f"{where}: Using '{action}' as a handler is not supported.")
            if entry.get("meta") == "flush_handlers":
                raise PlaybookError(f"{where}: flush_handlers cannot be used as a handler")
        flat: list[Task] = []
        for item in self.items(data, scope, source):
            inner = [i for part in (item.block, item.rescue, item.always) for i in part] \
                if isinstance(item, Block) else []
            if any(isinstance(i, Block) for i in inner) or (
                    isinstance(item, Block) and not item.origin.startswith(f"{source}:")):
                raise PlaybookError(f"{item.origin}: Using a block as a handler is not supported.")
            flat += _flatten(item)
        return flat

    # -- roles -----------------------------------------------------------------------------
    def role_items(self, ref: dict[str, Any], scope: Scope, play: Play | None,
                   seen: set[tuple[str, str]] | None, where: str,
                   found: list[Role] | None = None) -> list[Item]:
        """A role's tasks (dependencies first) as items; its handlers join ``play`` (or scope role).
        ``found`` gets the role (with its ``vars_from``/``defaults_from`` variables)."""
        ref = dict(ref)
        name = str(ref.pop("role", None) or ref.pop("name"))
        tasks_from = str(ref.pop("tasks_from", "main"))
        handlers_from = str(ref.pop("handlers_from", "main"))
        defaults_from, vars_from = ref.pop("defaults_from", None), ref.pop("vars_from", None)
        ref.pop("public", None)
        apply = ref.pop("apply", None)
        if apply:  # include_role's: a block around the role's tasks (the loader refuses it elsewhere)
            scope = self._inherit(scope, apply, where)
        dynamic = seen is None  # include_role/import_role (ansible-core's from_include)
        allow = ref.pop("allow_duplicates", True)
        validate = to_bool(ref.pop("rolespec_validate", True))
        role_when = _list(ref.pop("when", None))
        role_tags = [str(t) for t in _list(ref.pop("tags", None))]
        params = dict(ref.pop("vars", None) or {})
        vars_keyword = set(params)  # the entry's ``vars:``: not role parameters to the arg spec
        keywords = dict(scope.keywords)
        for key in _INHERITED:
            if key in ref:
                keywords[key] = ref.pop(key)
        extending = scope.extended({k: ref.pop(k) for k in EXTENDED_KEYWORDS if k in ref})
        params.update(ref)
        role = self.roles.find(name, where, vars_from, defaults_from)
        if found is not None:
            found.append(role)
        self.modules.add_library(role.path / "library")
        role_key = (str(role.path), repr(sorted(params.items())) + tasks_from)
        if seen is not None:
            if role_key in seen and not role.allow_duplicates:
                return []
            seen.add(role_key)
        chain = (*scope.role_chain, role) if scope.role else (role,)
        inner = Scope(
            base_dir=role.path / "tasks",
            role=role,
            role_chain=chain,
            # a role's params reach its dependencies (and the roles it includes): ansible-core's
            # get_role_params combines the dependency chain's params under the role's own
            role_params=tuple({**dict(scope.role_params), **params}.items()),
            when=(*scope.when, *role_when),
            tags=tuple(sorted({*scope.tags, *role_tags})),
            vars=scope.vars,
            keywords=tuple(keywords.items()),
            environment=extending.environment,
            module_defaults=extending.module_defaults,
            role_key=repr((str(role.path), id(role), dynamic, tasks_from, handlers_from,
                           sorted(params.items()), role_when, role_tags, [dict(v) for v in scope.vars])),
            allow_duplicates=to_bool(allow) if dynamic else role.allow_duplicates,
        )
        items: list[Item] = []
        for dep in role.dependencies:
            dep_scope = dataclasses.replace(inner, role=None, base_dir=scope.base_dir)
            items += self.role_items(dict(dep), dep_scope, play, seen, f"{role.path}/meta")
        tasks_file = role_file(role.path, "tasks", tasks_from)
        if tasks_file is None and tasks_from != "main":
            raise PlaybookError(f"{where}: role '{name}' has no tasks/{tasks_from}.yml")
        spec_file, specs = argument_specs(role.path)
        entry_spec = specs.get(tasks_from) if isinstance(specs, dict) else None
        if spec_file is not None and entry_spec and validate:  # ansible-core's validation task, run first
            provided = {k: v for k, v in params.items() if k not in vars_keyword or k in ref}
            task = validation_task(entry_spec, tasks_from, provided, name, str(role.path))
            items += self.items([task], inner, str(spec_file))
        if tasks_file is not None:
            items += self.items(_list(load_yaml_file(tasks_file)), inner, str(tasks_file))
        items.append(self._implicit_meta("role_complete", inner, where))  # marks the invocation done
        if play is not None:
            self._join_play(play, role, inner, handlers_from)
        return items

    def _join_play(self, play: Play, role: Role, inner: Scope, handlers_from: str) -> None:
        """A play's role (or static import): its vars and defaults, its handlers (once)."""
        if role not in play.roles:
            play.roles.append(role)
        handlers_file = role_file(role.path, "handlers", handlers_from)
        if handlers_file is not None and not any(h.scope.role is role for h in play.handlers):
            # a handlers file's imports resolve from its own folder first
            handler_scope = dataclasses.replace(inner, when=(), tags=(), base_dir=handlers_file.parent)
            listed = _list(load_yaml_file(handlers_file))
            play.handlers += self.handlers(listed, handler_scope, str(handlers_file))

    def role_handlers(self, role: Role, scope: Scope, handlers_from: str = "main") -> list[Task]:
        handlers_file = role_file(role.path, "handlers", handlers_from)
        if handlers_file is None:
            return []
        return self.handlers(
            _list(load_yaml_file(handlers_file)),
            dataclasses.replace(scope, when=(), tags=(), base_dir=handlers_file.parent),
            str(handlers_file),
        )

    # -- helpers ---------------------------------------------------------------------------
    def _include_path(self, task: Task, scope: Scope) -> Path:
        name = task.args.get("file") or task.args.get("_raw_params")
        if not name:
            raise PlaybookError(f"{task.origin}: {task.action} needs a file name")
        # as ansible-core's path_dwim_relative for a role: the including file's folder, the
        # role's tasks/, the role itself (``include_tasks: tasks/x.yml``), then the playbook's
        candidates = [scope.base_dir / str(name)]
        if scope.role is not None:
            candidates += [scope.role.path / "tasks" / str(name), scope.role.path / str(name)]
        candidates.append(self.playbook_dir / str(name))
        for path in candidates:
            if path.is_file():
                return path
        raise PlaybookError(
            f"{task.origin}: {task.action}: file '{name}' not found (looked in "
            f"{', '.join(str(c.parent) for c in candidates)})"
        )

    @staticmethod
    def _inherit(
        scope: Scope, data: dict[str, Any], where: str, include_vars: dict[str, Any] | None = None
    ) -> Scope:
        block_vars = data.get("vars") or {}
        if not isinstance(block_vars, dict):
            raise PlaybookError(f"{where}: vars must be a mapping")
        keywords = dict(scope.keywords)
        keywords.update({k: data[k] for k in _INHERITED if k in data})
        layers = [*scope.vars]
        if block_vars:
            layers.append(dict(block_vars))
        if include_vars:
            layers.append(dict(include_vars))
        return dataclasses.replace(
            scope.extended(data),
            when=(*scope.when, *[c for c in _list(data.get("when")) if c is not None]),
            tags=tuple(sorted({*scope.tags, *(str(t) for t in _list(data.get("tags")))})),
            vars=tuple(layers),
            keywords=tuple(keywords.items()),
        )

    def _flush(self, scope: Scope, where: str) -> Task:
        return self._implicit_meta("flush_handlers", scope, where)

    def _implicit_meta(self, action: str, scope: Scope, where: str) -> Task:
        """A meta task the loader adds (never printed nor counted; tagged always, no ``when``)."""
        bare = dataclasses.replace(scope, when=())
        task = self._number(parse_task({"meta": action}, bare, self.known, where))
        task.tags = ["always"]
        task.origin = where
        task.implicit = True
        return task


def vars_file_mappings(loaded: Any) -> list[dict[str, Any]]:
    """A ``vars_files`` entry's content as ansible-core's ``preprocess_vars`` takes it: a
    mapping, or a list of mappings merged in order (an empty file is none)."""
    if loaded is None:
        return []
    data = loaded if isinstance(loaded, list) else [loaded]
    for item in data:
        if not isinstance(item, dict):
            raise PlaybookError("variable files must contain either a dictionary of variables, "
                                f"or a list of dictionaries. Got: {loaded} ({type(loaded)})")
    return data


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _flatten(item: Item) -> list[Task]:
    if isinstance(item, Task):
        return [item]
    return [t for part in (item.block, item.rescue, item.always) for i in part for t in _flatten(i)]


def load_playbook(path: str | Path, roles_path: list[Path] | None = None) -> Playbook:
    path = Path(path)
    if not path.is_file():
        raise PlaybookError(f"playbook {path} does not exist")
    return PlaybookLoader(path.parent.resolve(), roles_path).load(path.resolve())


def _with_import(entry: dict[str, Any], imported: dict[str, Any] | None) -> dict[str, Any]:
    """A play of an imported playbook with the import's vars (above its own) and tags."""
    if not imported:
        return entry
    own = entry.get("vars") or {}
    return {**entry, "vars": {**own, **imported["vars"]} if isinstance(own, dict) else own,
            "tags": [*tag_list(entry.get("tags")), *imported["tags"]]}
