"""Runs as explicit phase lists over the same machinery.

* ``apply``: connect + gather facts (each host as soon as it is connected, while the
  caller's ``meanwhile`` preparation runs) + each host's look-ahead of all its plays ->
  the caller's ``before_plays`` (kprov's cluster preflight) -> plays -> disconnect.
* ``plan``: the same phases in their dry-run form (check + diff): reports, never acts.
* ``ping`` / ``exec_command`` / ``host_facts``: connect (+ one command or facts) -> disconnect.

Each returns a :class:`RunReport` (plus data where it has some); SIGINT/SIGTERM end a run
early with its report marked ``interrupted`` (execute.interrupt). ``open_run`` builds the
:class:`RunContext` (inventory, every host's variables, template engine, run log).
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kprov.provision.connect.base import CommandResult, ConnectionFailure
from kprov.provision.errors import InventoryError, PlaybookError
from kprov.provision.execute.context import HostState, RunContext, RunOptions
from kprov.provision.execute.forks import resolve_forks
from kprov.provision.execute.interrupt import catching_signals
from kprov.provision.execute.play_runner import CONNECTION_KEYWORDS
from kprov.provision.execute.probes.lookahead import read_plays_ahead
from kprov.provision.execute.results import NullObserver, RunObserver, RunReport, TaskResult
from kprov.provision.execute.runlog import RunLog
from kprov.provision.inventory.loader import load_inventory, load_vars_dir
from kprov.provision.inventory.patterns import select_hosts
from kprov.provision.phases import ConnectPhase, DisconnectPhase, PhaseManager, PlaysPhase
from kprov.provision.phases.base import Phase, for_each_host
from kprov.provision.phases.open import OpenPhase
from kprov.provision.phases.resolve import ResolvePhase
from kprov.provision.playbook.loader import PlaybookLoader
from kprov.provision.playbook.model import Playbook
from kprov.provision.templates import TemplateEngine
from kprov.provision.vault import Vault, vault_secrets

__all__ = [
    "CommandOutcome",
    "apply",
    "exec_command",
    "find_playbook",
    "host_facts",
    "open_run",
    "ping",
    "plan",
]


def find_playbook(explicit: str | None) -> Path:
    """The playbook argument, else ``site.yml`` in the current directory or the repository."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise PlaybookError(f"playbook {path} does not exist")
        return path
    repo = Path(__file__).resolve().parents[2]
    for candidate in (Path.cwd() / "site.yml", repo / "roles" / "site.yml", repo / "site.yml"):
        if candidate.is_file():
            return candidate
    raise PlaybookError(
        "no PLAYBOOK given and no site.yml in the current directory or the repository; "
        "pass the playbook path: kprov apply -i INVENTORY PLAYBOOK"
    )


def open_run(
    inventory: list[str],
    options: RunOptions,
    observer: RunObserver | None = None,
    playbook_dir: Path | None = None,
) -> RunContext:
    vault = Vault(vault_secrets(options.vault_ids))
    inv = load_inventory(*inventory, decrypt=vault.decrypt)
    log = RunLog()
    base = (playbook_dir or Path.cwd()).resolve()
    run = RunContext(
        inventory=inv,
        options=options,
        engine=TemplateEngine(),
        report=RunReport(log_path=str(log.path)),
        log=log,
        observer=observer or NullObserver(),
        groups=inv.group_map(),
        playbook_dir=base,
    )
    extra = _playbook_var_layers(base, inv, vault) if playbook_dir else []
    run.playbook_var_layers = extra
    run.engine.vault = vault
    for name in inv.hosts:
        run.hosts[name] = HostState(name=name, inventory_vars=inv.host_vars(name, extra))
    options.forks = resolve_forks(options.forks, len(inv.hosts))
    return run


def _playbook_var_layers(base: Path, inv: Any, vault: Vault) -> list[tuple[str, dict[str, Any]]]:
    layers: list[tuple[str, dict[str, Any]]] = []
    if (base / "group_vars").is_dir():
        for group in inv.groups:
            data = load_vars_dir(base / "group_vars", group, vault.decrypt)
            if data:
                layers.append((f"group:{group}", data))
    if (base / "host_vars").is_dir():
        for host in inv.hosts:
            data = load_vars_dir(base / "host_vars", host, vault.decrypt)
            if data:
                layers.append((f"host:{host}", data))
    return layers


def list_playbook(playbook_path: Path, shown: str, options: RunOptions, *,
                  tags_only: bool = False) -> list[str]:
    """``--list-tasks`` / ``--list-tags``: the playbook's lines, no host reached."""
    from kprov.provision.execute.list_tasks import list_lines

    vault = Vault(vault_secrets(options.vault_ids))
    loader = PlaybookLoader(playbook_path.resolve().parent, options.roles_path, decrypt=vault.decrypt,
                            extra_vars=options.extra_vars)
    playbook = loader.load(playbook_path.resolve())
    return list_lines(playbook, shown, options.extra_vars, options.tags, options.skip_tags,
                      tags_only=tags_only)


def _implicit_localhost(run: RunContext, playbook: Playbook) -> None:
    """A play naming ``localhost`` that the inventory lacks runs on Ansible's implicit
    localhost (kprov.provision.inventory.model)."""
    inv = run.inventory
    if "localhost" in inv.hosts:
        return
    for play in playbook.plays:
        text = ",".join(play.hosts) if isinstance(play.hosts, list) else str(play.hosts)
        if "localhost" in (t.strip().lstrip("&") for t in re.split(r"[:,]", text)):
            inv.add_implicit_localhost(sys.executable)
            run.hosts["localhost"] = HostState(
                name="localhost", inventory_vars=inv.host_vars("localhost", run.playbook_var_layers))
            return


def _targets(run: RunContext, pattern: str | None, playbook: Playbook | None = None) -> list[str]:
    if playbook is not None:
        used: set[str] = set()
        for play in playbook.plays:
            used.update(select_hosts(run.inventory, play.hosts))
        hosts = [h for h in run.inventory.hosts if h in used]
    else:
        hosts = list(run.inventory.hosts)
    if pattern:
        limited = set(select_hosts(run.inventory, pattern, strict=True))
        hosts = [h for h in hosts if h in limited]
    return hosts


def _run_phases(run: RunContext, phases: list[Phase], dry_run: bool) -> RunReport:
    """Run the phases with SIGINT/SIGTERM caught (execute.interrupt): an interrupted run
    stops scheduling, closes its sessions and returns its report marked interrupted."""
    start = time.monotonic()
    try:
        with catching_signals(run.interrupt):
            try:
                PhaseManager(phases, dry_run=dry_run).execute(run)
            except KeyboardInterrupt:
                run.interrupt.set(run.interrupt.signal_name or "SIGINT")
    finally:
        if run.interrupt.is_set():
            run.report.interrupted = run.interrupt.signal_name
            run.log.event("-", f"run interrupted by {run.report.interrupted}: no new task was started")
        run.report.duration_s = time.monotonic() - start
        run.log.event("-", f"run finished in {run.report.duration_s:.3f}s ok={run.report.ok}")
        run.log.close()
    return run.report


def _set_connection_keywords(run: RunContext, playbook: Playbook, targets: list[str]) -> None:
    """Give each host the ``remote_user``/``connection`` of the plays it is in. A host keeps
    one session for the whole run (Ansible would reconnect per play), so plays that ask for
    different ones are an error here, before anything runs, unless the host's own variable
    decides anyway."""
    members = [(play, set(select_hosts(run.inventory, play.hosts))) for play in playbook.plays]
    for host in targets:
        state = run.hosts[host]
        wanted: dict[str, tuple[Any, str]] = {}
        for play, hosts in members:
            if host not in hosts:
                continue
            for keyword, variable in CONNECTION_KEYWORDS:
                value = getattr(play, keyword)
                if value is None or variable in state.inventory_vars:
                    continue
                first = wanted.setdefault(variable, (value, play.name))
                if first[0] != value:
                    raise PlaybookError(
                        f"host {host}: play '{first[1]}' has {keyword}: {first[0]} and play '{play.name}' "
                        f"has {keyword}: {value}, but kprov reaches a host over one session per run: "
                        f"make the plays agree, or set {variable} for {host} in the inventory")
        state.connection_keywords = {variable: value for variable, (value, _) in wanted.items()}


def apply(
    inventory: list[str],
    playbook_path: Path,
    options: RunOptions,
    observer: RunObserver | None = None,
    *,
    dry_run: bool = False,
    meanwhile: Callable[[], None] | None = None,
    before_plays: list[Phase] | None = None,
) -> RunReport:
    """Run the playbook; ``meanwhile`` runs while the hosts are being connected (it may add
    to ``options.extra_vars``: the plays see them; connection settings do not);
    ``before_plays`` run between connecting and the plays (kprov's cluster preflight); a
    phase's ``early_probes`` (if it has that attribute) are read with the plays' look-ahead,
    in the same round trip per host."""
    playbook_path = playbook_path.resolve()
    run = open_run(inventory, options, observer, playbook_path.parent)
    try:
        loader = PlaybookLoader(playbook_path.parent, options.roles_path, decrypt=run.engine.vault.decrypt,
                                extra_vars=options.extra_vars)
        playbook = loader.load(playbook_path)
        run.loader = loader
        _implicit_localhost(run, playbook)
        targets = _targets(run, options.limit, playbook)
        if not targets:
            raise InventoryError(
                "no host matches the playbook's plays"
                + (f" and --limit {options.limit}" if options.limit else "")
            )
        _set_connection_keywords(run, playbook, targets)
    except BaseException:
        run.log.close()
        raise
    # Non-targeted hosts stay in hostvars but never run: mark them so plays skip them.
    for name, state in run.hosts.items():
        if name not in targets:
            state.failed = True
            state.error = "not targeted"
    gather = [
        h
        for h in targets
        if any(p.gather_facts and h in select_hosts(run.inventory, p.hosts) for p in playbook.plays)
    ]
    def prepare() -> None:
        if meanwhile is not None:
            with run.interrupt.raising():  # operator-side builds clean up after themselves
                meanwhile()

    early = [key for phase in before_plays or [] for key in getattr(phase, "early_probes", ())]
    phases: list[Phase] = [
        OpenPhase(targets, gather, prepare if meanwhile else None,
                  lambda host: read_plays_ahead(run, playbook.plays, host, early)),
        *(before_plays or []),
        *([ResolvePhase(playbook)] if options.resolve_first else []),
        PlaysPhase(playbook),
        DisconnectPhase(),
    ]
    return _run_phases(run, phases, dry_run)


def plan(
    inventory: list[str], playbook_path: Path, options: RunOptions, observer: RunObserver | None = None,
    *, meanwhile: Callable[[], None] | None = None, before_plays: list[Phase] | None = None,
) -> RunReport:
    options.check, options.diff = True, True
    return apply(inventory, playbook_path, options, observer, dry_run=True, meanwhile=meanwhile,
                 before_plays=before_plays)


def run_playbook(
    inventory: str | Path | list[str | Path],
    playbook: str | Path | None = None,
    *,
    extra_vars: dict[str, Any] | None = None,
    limit: str | None = None,
    check: bool = False,
    diff: bool = False,
    tags: list[str] | None = None,
    skip_tags: list[str] | None = None,
    forks: int = 0,
    roles_path: list[Path] | None = None,
    observer: RunObserver | None = None,
    before_plays: list[Phase] | None = None,
) -> RunReport:
    """The Python API of ``kprov apply``: run a playbook, return the report (``report.ok``)."""
    sources = [str(p) for p in inventory] if isinstance(inventory, list) else [str(inventory)]
    options = RunOptions(
        check=check,
        diff=diff,
        tags=frozenset(tags or ()),
        skip_tags=frozenset(skip_tags or ()),
        extra_vars=dict(extra_vars or {}),
        forks=forks,
        limit=limit,
        roles_path=list(roles_path or []),
    )
    return apply(sources, find_playbook(str(playbook) if playbook else None), options, observer,
                 before_plays=before_plays)


@dataclass
class CommandOutcome:
    report: RunReport
    outputs: dict[str, CommandResult] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)


class _CommandPhase:
    always = False

    def __init__(
        self, title: str, targets: list[str], command: str | None, become: bool, outcome: CommandOutcome
    ) -> None:
        self.title, self.targets, self.command, self.become, self.outcome = (
            title,
            targets,
            command,
            become,
            outcome,
        )

    def should_run(self, run: RunContext) -> bool:
        return bool(self.targets)

    def run(self, run: RunContext) -> None:
        for_each_host(run, [h for h in self.targets if run.hosts[h].alive], lambda h: self._one(run, h))

    dry_run = run

    def _one(self, run: RunContext, host: str) -> None:
        state = run.hosts[host]
        assert state.connector is not None
        start = time.monotonic()
        try:
            if self.command is None:
                from kprov.provision.facts import gather_facts

                self.outcome.facts[host] = gather_facts(state.connector)
                status, msg = "ok", ""
            else:
                result = state.connector.run(self.command, become=self.become)
                self.outcome.outputs[host] = result
                status, msg = ("ok" if result.rc == 0 else "failed"), f"rc={result.rc}"
        except ConnectionFailure as err:
            state.unreachable, status, msg = True, "unreachable", str(err)
        run.report.record(
            TaskResult(
                host=host,
                task=self.title,
                action="command",
                status=status,  # type: ignore[arg-type]
                msg=msg,
                duration_s=round(time.monotonic() - start, 3),
            )
        )

    def cleanup(self, run: RunContext) -> None:
        return None


def _command_run(
    inventory: list[str],
    pattern: str | None,
    title: str,
    command: str | None,
    options: RunOptions,
    become: bool = False,
    observer: RunObserver | None = None,
) -> CommandOutcome:
    run = open_run(inventory, options, observer)
    targets = _targets(run, pattern)
    outcome = CommandOutcome(report=run.report)
    phases: list[Phase] = [
        ConnectPhase(targets),
        _CommandPhase(title, targets, command, become, outcome),
        DisconnectPhase(),
    ]
    _run_phases(run, phases, dry_run=False)
    return outcome


def ping(inventory: list[str], options: RunOptions, observer: RunObserver | None = None) -> CommandOutcome:
    return _command_run(inventory, options.limit, "ping", "echo pong", options, observer=observer)


def exec_command(
    inventory: list[str],
    command: str,
    options: RunOptions,
    become: bool = False,
    observer: RunObserver | None = None,
) -> CommandOutcome:
    return _command_run(inventory, options.limit, command, command, options, become, observer)


def host_facts(inventory: list[str], host: str, options: RunOptions) -> CommandOutcome:
    return _command_run(inventory, host, "facts", None, options)
