"""`kprov apply | plan | ping | facts | exec`: the provisioning engine's commands.

Parses options, calls kprov.provision.pipelines, renders: a live per-host progress view (rich),
failures with their messages, diffs (``--diff`` / ``plan``), then a recap table per host like
Ansible's. ``--json`` prints the run report as JSON instead (apply/plan: one compact line; a run
that stops before its report, on a playbook that does not load, prints one document all the
same: ``ok: false`` and ``error`` with the message, file and line). The cluster's operator-side
artifacts are made current while the hosts are being connected, and after kprov's cluster
playbook apply removes the nodes that left the inventory (plan names them): the phases are
kprov.deploy.apply's; this module renders them (the preflight's problems as one table;
``--skip-preflight NAME``). Exit code: 0 only when nothing failed and every host was reached; 2 when a
host failed or was unreachable (or a node removal had problems, or the preflight found some); 1
for bad input (inventory, playbook, options); 130 when SIGINT/SIGTERM interrupted the run (it
prints "interrupted", the recap and the log path). Every run writes a log (path printed at the
end, mode 0600). Nothing printed carries key material (kprov.provision.redact).
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import typer
import yaml
from rich.console import Console, Group
from rich.text import Text

from kprov.cli.lightargs import LightCommand
from kprov.cli.run_output import (
    STATUS_STYLE,
    LiveView,
    print_diffs,
    print_preflight,
    print_recap,
    redacted_text,
)
from kprov.deploy.apply import ApplyOutcome, PreflightSkipError, run_apply, run_plan
from kprov.provision.errors import ProvisionError
from kprov.provision.execute import RunOptions, RunReport
from kprov.provision.execute.callback_default import AnsibleConsole, load_error_lines
from kprov.provision.execute.results import failed_run_document
from kprov.provision.pipelines import exec_command, host_facts, ping
from kprov.provision.redact import redact_data, redact_text

if TYPE_CHECKING:  # the live view and the tables are imported when drawn (not for --json)

    from kprov.deploy.scale_in import NodeRemoval

__all__ = ["EXIT_INTERRUPTED", "register"]

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a command ended by Ctrl-C


InventoryOpt = typer.Option(..., "-i", "--inventory", help="Inventory file or directory (repeatable).")
LimitOpt = typer.Option(
    None, "--limit", "-l", help="Host pattern: group, host, a:b, group:!host, group:&other."
)
ExtraOpt = typer.Option(None, "-e", "--extra-vars", help="key=value, @file.yml, or a JSON/YAML mapping.")
ForksOpt = typer.Option(
    0, "--forks", "-f", help="Hosts running at once (0: every host, as far as this machine holds it)."
)
JsonOpt = typer.Option(False, "--json", help="Print the run report as JSON (no live view).")
VaultPasswordFileOpt = typer.Option(
    None, "--vault-password-file", "--vault-pass-file",
    help="Ansible Vault password file or script (repeatable).",
)
VaultIdOpt = typer.Option(
    None, "--vault-id", help="Ansible Vault secret: label@file, label@prompt or file (repeatable)."
)
AskVaultOpt = typer.Option(False, "--ask-vault-pass", "-J", help="Ask for the Ansible Vault password.")


def _vault_ids(vault_id: list[str] | None, password_files: list[str] | None, ask: bool) -> list[str]:
    return [*(vault_id or []), *(password_files or []), *(["prompt"] if ask else [])]
VerboseOpt = typer.Option(0, "-v", "--verbose", count=True, help="-v: every task result; -vv: with its data.")
TagsOpt = typer.Option(None, "--tags", "-t", help="Only tasks with these tags (comma separated).")
SkipTagsOpt = typer.Option(None, "--skip-tags", help="Skip tasks with these tags (comma separated).")
RolesPathOpt = typer.Option(None, "--roles-path", help="Extra directory to search for roles (repeatable).")
SkipPreflightOpt = typer.Option(
    None, "--skip-preflight", help="Skip a named preflight check of the cluster playbook (repeatable)."
)


def parse_extra_vars(values: list[str] | None) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for value in values or []:
        value = value.strip()
        if value.startswith("@"):
            data = yaml.safe_load(Path(value[1:]).read_text(encoding="utf-8")) or {}
        elif value.startswith(("{", "---")):
            data = yaml.safe_load(value)
        else:
            data = {}
            for pair in value.split():
                key, eq, val = pair.partition("=")
                if not eq:
                    raise typer.BadParameter(f"-e {pair!r}: expected key=value, @file or a mapping")
                data[key] = val
        if not isinstance(data, dict):
            raise typer.BadParameter(f"-e {value!r}: must give a mapping")
        merged.update(data)
    return merged


def _split(values: list[str] | None) -> frozenset[str]:
    return frozenset(t.strip() for v in values or [] for t in v.split(",") if t.strip())
















def _redacted_report(doc: dict[str, Any]) -> dict[str, Any]:
    """The report with its data redacted and its task and play names as written: labels the
    playbook's author wrote, which ansible-playbook prints verbatim, and whose ``role : task``
    form read as a credential where a role's name ends in one (``geerlingguy.htpasswd : Ensure``
    showed as ``geerlingguy.htpasswd : ******** the packages``)."""
    redacted = redact_data(doc)
    for shown, result in zip(redacted.get("results", []), doc.get("results", []), strict=True):
        for label in ("task", "play"):
            if label in result:
                shown[label] = result[label]
    return cast(dict[str, Any], redacted)


def _finish(
    console: Console, report: RunReport, as_json: bool, diff: bool, removed: list[NodeRemoval] | None = None
) -> None:
    removed = removed or []
    if as_json:
        doc = report.to_dict()
        if removed:
            doc["removed_nodes"] = [dataclasses.asdict(r) for r in removed]
        # Compact: the C encoder (indent forces the pure-Python one, a tenth of a second for
        # the ~650 KB report of a cluster run).
        # the data is redacted, not the JSON text (a mask over text breaks the JSON: redact)
        print(json.dumps(_redacted_report(doc), default=redacted_text, separators=(",", ":")))
    else:
        if diff:
            print_diffs(console, report)
        print_preflight(console, report)
        if report.interrupted:
            console.print(
                f"[red]interrupted[/red] ({report.interrupted}): no new task was started; "
                "rerun apply to finish (pending restarts are redone)",
                highlight=False,
            )
        print_recap(console, report)
        for removal in removed:
            state = "[green]removed[/green]" if removal.ok else "[red]removed with problems[/red]"
            console.print(f"node {removal.node}: {state} ({len(removal.evicted)} pods evicted)")
            for problem in removal.problems:
                console.print(f"  [red]{problem}[/red]", highlight=False)
    if report.interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)
    raise typer.Exit(0 if report.ok and all(r.ok for r in removed) else 2)


def _json_failure(as_json: bool, err: Exception, message: str | None = None) -> None:
    """With ``--json``: the document of a run that stopped before its report (stdout)."""
    if as_json:
        text = redact_text(str(err) if message is None else message)
        print(json.dumps(failed_run_document(err, text), separators=(",", ":")))


def _error(console: Console, err: Exception) -> typer.Exit:
    console.print(f"[red]error:[/red] {redact_text(str(err))}", highlight=False)
    return typer.Exit(1)


def _cluster_errors() -> tuple[type[Exception], ...]:
    """The PKI's and the topology's errors, reported like the engine's (a cluster run's
    preparation raises them; imported here, not for every run)."""
    from kprov.pki.store import PkiError
    from kprov.pki.topology import TopologyError

    return PkiError, TopologyError


def _run_playbook(
    console: Console,
    action: Callable[..., ApplyOutcome],
    playbook: str | None,
    inventory: list[str],
    options: RunOptions,
    as_json: bool,
    show_diff: bool,
    skip_preflight: list[str] | None = None,
    ansible_output: bool = False,
) -> None:
    """apply and plan: run the action (kprov.deploy.apply: its phases), render (kprov's live
    view, or ansible-playbook's console lines: kprov.provision.execute.callback_default)."""
    ansible = AnsibleConsole(partial(print, flush=True), options.verbosity) \
        if ansible_output and not as_json else None
    try:
        with LiveView(console, options.verbosity, enabled=not as_json and ansible is None) as view:
            outcome = action(list(inventory), playbook, options, ansible or view,
                             skip_preflight=_split(skip_preflight))
    except PreflightSkipError as err:
        _json_failure(as_json, err)
        raise typer.BadParameter(str(err), param_hint="--skip-preflight") from None
    except ProvisionError as err:
        _json_failure(as_json, err)
        if ansible is not None:  # ansible-playbook's own error form: runme scripts grep it
            print("\n".join(load_error_lines(str(err))), file=sys.stderr, flush=True)
            raise typer.Exit(1) from None
        raise _error(console, err) from None
    except Exception as err:
        from kprov.bundle.build_error import BuildError  # raised by a cluster run's preparation

        if isinstance(err, BuildError):  # pip's whole output is its text: one line, as `kprov up`
            _json_failure(as_json, err, err.one_line())
            console.print(f"[red]error:[/red] {err.one_line()}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        _json_failure(as_json, err)  # --json prints one document whatever stopped the run
        if isinstance(err, _cluster_errors()):
            raise _error(console, err) from None
        raise
    except KeyboardInterrupt:  # before the run's own signal handling was in place
        console.print("[red]interrupted[/red]", highlight=False)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if outcome.would_remove:
        names = ", ".join(outcome.would_remove)
        console.print(f"would drain and remove nodes no longer in the inventory: {names}")
    if ansible is not None:
        ansible.recap(outcome.report)
        raise typer.Exit(EXIT_INTERRUPTED if outcome.report.interrupted else (0 if outcome.report.ok else 2))
    _finish(console, outcome.report, as_json, show_diff, outcome.removed)


def apply_cmd(
    playbook: str = typer.Argument(
        None, help="Playbook (default: ./site.yml, else the repo's roles/site.yml)."
    ),
    inventory: list[str] = InventoryOpt,
    check: bool = typer.Option(False, "--check", "-C", help="Dry run."),
    diff: bool = typer.Option(False, "--diff", "-D", help="Show file diffs."),
    limit: str = LimitOpt,
    tags: list[str] = TagsOpt,
    skip_tags: list[str] = SkipTagsOpt,
    extra_vars: list[str] = ExtraOpt,
    forks: int = ForksOpt,
    as_json: bool = JsonOpt,
    verbose: int = VerboseOpt,
    roles_path: list[Path] = RolesPathOpt,
    skip_preflight: list[str] = SkipPreflightOpt,
    vault_password_file: list[str] = VaultPasswordFileOpt,
    vault_id: list[str] = VaultIdOpt,
    ask_vault_pass: bool = AskVaultOpt,
    max_unavailable: str = typer.Option(
        None,
        "--max-unavailable",
        help="Nodes changed at once (a count or a percentage; default: all): the nodes play's "
        "batch size (kprov_node_serial). Running control-plane hosts roll one at a time "
        "(a fresh cluster's install all at once).",
    ),
    list_tasks: bool = typer.Option(
        False, "--list-tasks", help="List the tasks that would run; run nothing."
    ),
    list_tags: bool = typer.Option(False, "--list-tags", help="List the tags of those tasks; run nothing."),
    force_handlers: bool = typer.Option(
        False, "--force-handlers", help="Run the handlers a host notified even when it failed."
    ),
    output: str = typer.Option(
        "kprov", "--output",
        help="Console output: kprov (live view, recap table) or ansible (the lines "
        "ansible-playbook's default callback prints).",
    ),
) -> None:
    """Apply a playbook to the inventory's hosts (Ansible-compatible roles)."""
    console = Console(stderr=as_json)
    extra = parse_extra_vars(extra_vars)
    if max_unavailable:
        extra = {"kprov_node_serial": max_unavailable, **extra}
    options = RunOptions(
        check=check,
        diff=diff,
        tags=_split(tags),
        skip_tags=_split(skip_tags),
        extra_vars=extra,
        forks=forks,
        limit=limit,
        verbosity=verbose,
        roles_path=list(roles_path or []),
        vault_ids=_vault_ids(vault_id, vault_password_file, ask_vault_pass),
        force_handlers=force_handlers,
    )
    if list_tasks or list_tags:
        from kprov.provision.pipelines import find_playbook, list_playbook

        try:
            path = find_playbook(playbook)
            lines = list_playbook(path, playbook or str(path), options, tags_only=list_tags)
        except ProvisionError as err:
            raise _error(console, err) from None
        print("\n".join(lines))
        return
    _run_playbook(
        console,
        partial(run_apply, progress=lambda line: console.print(f"[dim]{line}[/dim]")),
        playbook,
        inventory,
        options,
        as_json,
        show_diff=diff,
        skip_preflight=skip_preflight,
        ansible_output=_ansible_output(output),
    )


def _ansible_output(output: str) -> bool:
    if output not in ("kprov", "ansible"):
        raise typer.BadParameter(f"{output!r}: expected kprov or ansible", param_hint="--output")
    return output == "ansible"


def plan_cmd(
    playbook: str = typer.Argument(None, help="Playbook (default as for apply)."),
    inventory: list[str] = InventoryOpt,
    limit: str = LimitOpt,
    tags: list[str] = TagsOpt,
    skip_tags: list[str] = SkipTagsOpt,
    extra_vars: list[str] = ExtraOpt,
    forks: int = ForksOpt,
    as_json: bool = JsonOpt,
    verbose: int = VerboseOpt,
    roles_path: list[Path] = RolesPathOpt,
    skip_preflight: list[str] = SkipPreflightOpt,
    vault_password_file: list[str] = VaultPasswordFileOpt,
    vault_id: list[str] = VaultIdOpt,
    ask_vault_pass: bool = AskVaultOpt,
) -> None:
    """Show, per host, what apply would change (check mode + diffs); changes nothing."""
    console = Console(stderr=as_json)
    options = RunOptions(
        tags=_split(tags),
        skip_tags=_split(skip_tags),
        extra_vars=parse_extra_vars(extra_vars),
        forks=forks,
        limit=limit,
        verbosity=verbose,
        roles_path=list(roles_path or []),
        vault_ids=_vault_ids(vault_id, vault_password_file, ask_vault_pass),
    )
    _run_playbook(
        console,
        run_plan,
        playbook,
        inventory,
        options,
        as_json,
        show_diff=True,
        skip_preflight=skip_preflight,
    )


def ping_cmd(
    inventory: list[str] = InventoryOpt,
    limit: str = LimitOpt,
    forks: int = ForksOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Connect to every host and run one command: pong or UNREACHABLE."""
    console = Console()
    try:
        outcome = ping(list(inventory), RunOptions(forks=forks, limit=limit))
    except ProvisionError as err:
        raise _error(console, err) from None
    if as_json:
        print(json.dumps(outcome.report.to_dict(), indent=2, default=str))
    for r in [] if as_json else outcome.report.results:
        word = "pong" if r.status == "ok" else f"{r.status.upper()} {r.msg}"
        console.print(Text.assemble((f"{r.host}: ", "bold"), (word, STATUS_STYLE[r.status])))
    raise typer.Exit(0 if outcome.report.ok else 2)


def facts_cmd(
    host: str = typer.Argument(..., help="Inventory host name."), inventory: list[str] = InventoryOpt
) -> None:
    """Print a host's ansible_facts as JSON (one round trip)."""
    console = Console(stderr=True)
    try:
        outcome = host_facts(list(inventory), host, RunOptions())
    except ProvisionError as err:
        raise _error(console, err) from None
    if host not in outcome.facts:
        msgs = [r.msg for r in outcome.report.results if r.host == host]
        console.print(f"[red]{host}:[/red] {'; '.join(msgs) or 'no facts'}")
        raise typer.Exit(2)
    print(json.dumps(outcome.facts[host], indent=2, sort_keys=True, default=str))


def exec_cmd(
    command: list[str] = typer.Argument(..., help="Command (after --)."),
    inventory: list[str] = InventoryOpt,
    limit: str = LimitOpt,
    forks: int = ForksOpt,
    become: bool = typer.Option(False, "--become", "-b", help="Run through sudo."),
    as_json: bool = JsonOpt,
) -> None:
    """Run a shell command on the hosts in parallel and print each host's output."""
    console = Console()
    try:
        outcome = exec_command(
            list(inventory), " ".join(command), RunOptions(forks=forks, limit=limit), become
        )
    except ProvisionError as err:
        raise _error(console, err) from None
    if as_json:
        data = {h: {"rc": r.rc, "stdout": r.stdout, "stderr": r.stderr} for h, r in outcome.outputs.items()}
        print(json.dumps({"outputs": data, **outcome.report.to_dict()}, indent=2, default=str))
    else:
        for r in outcome.report.results:
            out = outcome.outputs.get(r.host)
            head = Text.assemble(
                (r.host, "bold"), " | ", (r.status.upper(), STATUS_STYLE[r.status]), f" | {r.msg}"
            )
            console.print(head)
            if out is not None:
                console.print(Group(Text(out.stdout.rstrip()), Text(out.stderr.rstrip(), style="red")))
    raise typer.Exit(0 if outcome.report.ok else 2)


def disconnect_cmd() -> None:
    """Close the SSH sessions kept between runs (ControlPersist) and stop their keeper."""
    from kprov.provision.connect.persist import control_dir, stop_keeper

    stopped = stop_keeper()
    print(f"closed the kept SSH sessions ({control_dir()})" if stopped else "no SSH sessions were kept")


def register(app: typer.Typer) -> None:
    app.command("apply", cls=LightCommand)(apply_cmd)
    app.command("plan", cls=LightCommand)(plan_cmd)
    app.command("ping", cls=LightCommand)(ping_cmd)
    app.command("facts", cls=LightCommand)(facts_cmd)
    app.command("exec", cls=LightCommand)(exec_cmd)
    app.command("disconnect", cls=LightCommand)(disconnect_cmd)
