"""Run-time state shared by the executor: options, per-host state, per-play context.

* :class:`RunOptions` — what the CLI asked for (check, diff, tags, extra vars, forks...).
* :class:`HostState` — one per host per run: its session, facts, set_fact/registered vars
  (the *raw* layer: never re-templated), its probe cache, failed/unreachable flags.
* :class:`RunContext` — the inventory, the template engine, the loader, every HostState,
  the report, the run log, the observer, the interrupt flag.
* :class:`PlayContext` — one play: its hosts, the batch sync, the handler lists.
"""

from __future__ import annotations

import functools
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kprov.provision.connect.base import Connector
from kprov.provision.execute.interrupt import Interrupt
from kprov.provision.execute.probes.probecache import ProbeCache
from kprov.provision.execute.results import NullObserver, RunObserver, RunReport
from kprov.provision.execute.runlog import RunLog
from kprov.provision.inventory.model import Inventory
from kprov.provision.modules.base import ModuleResult, file_digest
from kprov.provision.modules.commands.detached import Finisher
from kprov.provision.modules.protocol.pack import ModulePack
from kprov.provision.playbook.loader import PlaybookLoader
from kprov.provision.playbook.model import Play, Role, Task
from kprov.provision.templates import TemplateEngine

__all__ = ["HostState", "PlayContext", "RunContext", "RunOptions"]


def _env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    return default if not value else value in ("1", "true", "yes", "on", "y", "t")


@dataclass
class RunOptions:
    check: bool = False
    diff: bool = False
    tags: frozenset[str] = frozenset()
    skip_tags: frozenset[str] = frozenset()
    extra_vars: dict[str, Any] = field(default_factory=dict)
    forks: int = 0  # 0: as wide as the inventory, when the machine holds it (execute.forks)
    limit: str | None = None
    verbosity: int = 0
    roles_path: list[Path] = field(default_factory=list)
    # template every host's tasks before the first play (execute.resolve): kprov's playbooks
    resolve_first: bool = False
    # where the vault secrets come from, as ``--vault-id`` names them ("label@file", "file",
    # "label@prompt"; --vault-password-file and --ask-vault-pass too): provision.vault
    vault_ids: list[str] = field(default_factory=list)
    # --force-handlers: a failed host still runs the handlers it notified (a play's
    # force_handlers keyword overrides it)
    force_handlers: bool = False
    # ansible-core's ERROR_ON_MISSING_HANDLER, from its environment variable as ansible-core
    # reads it: a notification that names no handler ends the run (off: a warning)
    error_on_missing_handler: bool = field(
        default_factory=lambda: _env_flag("ANSIBLE_ERROR_ON_MISSING_HANDLER", True))


@dataclass
class HostState:
    name: str
    inventory_vars: dict[str, Any]
    connector: Connector | None = None
    facts: dict[str, Any] = field(default_factory=dict)  # ansible_facts (un-prefixed keys)
    runtime_vars: dict[str, Any] = field(default_factory=dict)  # set_fact + register
    registered: set[str] = field(default_factory=set)  # register names: untrusted module data
    included_vars: dict[str, Any] = field(default_factory=dict)  # include_vars (templated when used)
    injected_facts: dict[str, Any] = field(default_factory=dict)  # modules' facts under their own names
    probes: ProbeCache = field(default_factory=ProbeCache)  # read-only probe results (execute.probecache)
    unreachable: bool = False
    # the session did not open and no play gathers facts from the host: it stays in the play,
    # and the first task that needs the host finds it unreachable (as ansible-core, which
    # connects when a task first needs the connection: debug, fail, set_fact never do)
    connect_error: str = ""
    failed: bool = False
    errors_cleared: int = 0  # how many ``meta: clear_host_errors`` reached this host
    error: str = ""
    # the plays' ``remote_user``/``connection`` keywords as ansible_user/ansible_connection:
    # beneath the host's own variables, as Ansible ranks them (pipelines.apply sets them)
    connection_keywords: dict[str, Any] = field(default_factory=dict)
    # handler names with a marker on the host (execute.pending); None: not read from facts yet
    pending_handlers: set[str] | None = None
    facts_changes: int = 0  # counts in-place changes of facts (new keys or values)
    fact_layer_memo: tuple[tuple[int, ...], dict[str, Any]] | None = field(default=None, repr=False)

    @property
    def tracks_handlers(self) -> bool:
        """Pending handlers are recorded only where they can be read back: hosts with facts."""
        return "kprov_pending_handlers" in self.facts

    def pending(self) -> set[str]:
        if self.pending_handlers is None:
            self.pending_handlers = set(self.facts.get("kprov_pending_handlers") or ())
        return self.pending_handlers

    def pending_reason(self, handler: str) -> str:
        """Why an earlier run (or the runtime switch, or pki) recorded this handler."""
        reasons = self.facts.get("kprov_pending_reasons") or {}
        return str(reasons.get(handler) or "recorded as pending by an earlier run")

    @property
    def alive(self) -> bool:
        return not (self.unreachable or self.failed)


@dataclass
class RunContext:
    inventory: Inventory
    options: RunOptions
    engine: TemplateEngine
    report: RunReport
    log: RunLog
    loader: PlaybookLoader | None = None
    observer: RunObserver = field(default_factory=NullObserver)
    hosts: dict[str, HostState] = field(default_factory=dict)
    groups: dict[str, list[str]] = field(default_factory=dict)
    playbook_dir: Path = field(default_factory=Path.cwd)
    local_connector: Connector | None = None
    interrupt: Interrupt = field(default_factory=Interrupt)  # SIGINT/SIGTERM seen (execute.interrupt)
    # role-file lookups found (TaskRunner.find_file) and controller files hashed (file_digest):
    # every host and loop item asks for the same files
    found_files: dict[tuple[Any, ...], Path] = field(default_factory=dict, repr=False)
    # how each ``async`` job this run started turns its output into its module's result
    async_finishers: dict[str, Finisher] = field(default_factory=dict, repr=False)
    # modules run through Ansible's module protocol, packed once per file (execute.task.protocol_fallback)
    module_packs: dict[tuple[str, int, int], ModulePack] = field(default_factory=dict, repr=False)
    # check mode (plan): the results of the ``async``/``poll: 0`` jobs it did not start
    planned_jobs: dict[str, ModuleResult] = field(default_factory=dict, repr=False)
    # one host's look-ahead predicts at a time (execute.lookahead)
    lookahead_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # group_vars/host_vars next to the playbook, as ("group:<name>"|"host:<name>", vars)
    playbook_var_layers: list[tuple[str, dict[str, Any]]] = field(default_factory=list, repr=False)
    # group_by changes the inventory while host threads read it (execute.group_by)
    inventory_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _digests: dict[tuple[Any, ...], tuple[str, int]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _digest_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @functools.cached_property
    def inventory_dir(self) -> str:
        """The first inventory source's directory (resolved once: every task scope shows it)."""
        if not self.inventory.sources:
            return ""
        source = Path(self.inventory.sources[0]).resolve()
        return str(source if source.is_dir() else source.parent)

    def file_digest(self, path: Path) -> tuple[str, int]:
        """A controller file's (sha1, size), hashed once per run while the file keeps its
        inode, size and mtime: a copy's source is hashed for its first host only, the others
        stat it (the cluster's no-op apply hashes the same sources for every host otherwise).
        One hash at a time: hosts run the same task together and would each hash."""
        st = path.stat()
        key = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
        found = self._digests.get(key)
        if found is None:
            with self._digest_lock:
                found = self._digests.get(key)
                if found is None:
                    found = self._digests[key] = file_digest(path)
        return found

    def localhost(self) -> Connector:
        """A logged local connector for ``delegate_to: localhost`` (created on first use)."""
        from kprov.provision.connect.transports import connector_for
        from kprov.provision.execute.runlog import LoggedConnector

        with self._lock:
            if self.local_connector is None:
                inner = connector_for("localhost", {"ansible_connection": "local"})
                self.local_connector = LoggedConnector(inner, self.log)
            return self.local_connector


@dataclass
class PlayContext:
    play: Play
    hosts: list[str]  # the play's hosts (all batches)
    batch: list[str]
    sync: Any  # BatchSync (execute.sync); typed loosely to keep this module import-light
    handlers: dict[str, list[Task]] = field(default_factory=dict)  # per host: play + included role handlers
    notified: dict[str, list[str]] = field(default_factory=dict)  # per host, notification order
    # per host: handler name -> why it was notified (the changed tasks and their files)
    why: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    sync_tasks: dict[int, bool] = field(default_factory=dict)  # task uid -> needs a sync point
    # roles an ``include_role`` with ``public: true`` loaded: their vars and defaults are the
    # rest of the play's, every host's (ansible-core appends them to the play's roles)
    public_roles: list[Role] = field(default_factory=list)
    throttles: dict[int, threading.Semaphore] = field(default_factory=dict)  # task uid -> its throttle
    # hosts a ``meta`` ended in this play (end_host, end_batch, end_play): out of
    # ansible_play_hosts and ansible_play_batch for the rest of it (ansible-core's
    # play._removed_hosts; failed and unreachable hosts are left out by HostState.alive)
    ended: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def publish(self, role: Role) -> None:
        """An included public role's vars and defaults join the play's, for every host."""
        with self.lock:
            if all(role is not r for r in self.public_roles):
                self.public_roles.append(role)

    def end(self, hosts: list[str]) -> None:
        with self.lock:
            self.ended.update(hosts)

    def in_play(self, host: str) -> bool:
        """Whether the host is still in the play: reached, not failed, not ended by a meta."""
        return host not in self.ended

    def throttle(self, task: Task) -> threading.Semaphore | None:
        if not task.throttle:
            return None
        with self.lock:
            return self.throttles.setdefault(task.uid, threading.Semaphore(task.throttle))
