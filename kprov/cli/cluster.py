"""`kprov up | verify | reset | upgrade | kubeconfig`: the whole-cluster commands. No logic lives here."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from kprov.bundle.build_error import BuildError
from kprov.cli.provision import EXIT_INTERRUPTED
from kprov.cli.run_output import LiveView, print_preflight, print_recap
from kprov.deploy.reset import reset_cluster
from kprov.deploy.up import UpOptions, up
from kprov.deploy.upgrade import UpgradeOptions, UpgradeResult, upgrade
from kprov.deploy.verify import VerifyReport, verify_cluster
from kprov.deploy.verify.cis import CisReport, Status, verify_cis
from kprov.deploy.verify.run import admin_kubeconfig_path
from kprov.lab import LabError
from kprov.pki.from_inventory import pki_dir_for
from kprov.pki.users import UserKubeconfigError, issue_user_kubeconfig
from kprov.provision.errors import ProvisionError

__all__ = ["register"]

InventoryOpt = typer.Option(..., "-i", "--inventory", help="Inventory file or directory.")


def _print_verify(console: Console, report: VerifyReport) -> None:
    table = Table(title=f"verify ({report.duration_s:.1f}s)", title_justify="left")
    for col in ("scope", "check", "result", "detail"):
        table.add_column(col, overflow="fold")
    for c in report.checks:
        table.add_row(c.scope, c.name, "[green]ok[/]" if c.ok else "[red]FAILED[/]", c.detail)
    console.print(table)
    failed = len(report.failures)
    console.print("[green]all checks passed[/]" if report.ok else f"[red]{failed} check(s) failed[/]")


_CIS_COLOURS = {Status.PASS: "green", Status.FAIL: "red", Status.WARN: "yellow", Status.MANUAL: "blue"}


def _print_cis(console: Console, report: CisReport) -> None:
    table = Table(title="CIS Kubernetes Benchmark v1.10", title_justify="left")
    for col in ("id", "host", "result", "control", "evidence", "remediation"):
        table.add_column(col, overflow="fold")
    for row in report.rows:
        colour = _CIS_COLOURS[row.status]
        result = f"[{colour}]{row.status.value}[/]" + ("" if row.automated else " (manual)")
        table.add_row(
            row.id,
            row.host,
            result,
            row.title,
            row.evidence,
            "" if row.status is Status.PASS else row.remediation,
        )
    console.print(table)
    counts = ", ".join(f"{n} {s}" for s, n in report.counts().items())
    verdict = (
        "[green]no automated control fails[/]"
        if report.ok
        else f"[red]{len(report.failed)} automated FAIL(s)[/]"
    )
    console.print(f"{counts}: {verdict}")


def _print_upgrade(console: Console, result: UpgradeResult) -> None:
    hosts = Table(title="UPGRADE", title_justify="left")
    for col in ("host", "kind", "runs", "gets"):
        hosts.add_column(col)
    for plan in result.plans:
        hosts.add_row(plan.host, plan.kind, plan.current or "?", plan.new if plan.needed else "(current)")
    console.print(hosts)
    for title, ok, detail in result.phases:
        mark = "[green]ok[/]" if ok else "[red]FAILED[/]"
        console.print(f"{mark} {title}" + (f" — {detail}" if detail else ""))
    if not result.ok:
        stopped = "upgrade interrupted" if result.interrupted else "upgrade stopped"
        console.print(f"[red]{stopped}:[/red] {result.stopped}")
        console.print(result.how_to_continue, highlight=False, markup=False)


def up_cmd(
    hosts: int = typer.Option(5, "--hosts", "-n", help="Lab hosts (h1..hN)."),
    lab: int = typer.Option(None, "--lab", help="Lab instance 0..9 (default: env KPROV_LAB, else 0)."),
    verify: bool = typer.Option(True, "--verify/--no-verify", help="Run kprov verify at the end."),
    skip_preflight: list[str] = typer.Option(
        None, "--skip-preflight", help="Skip a named preflight check (repeatable)."
    ),
    dual_stack: bool = typer.Option(
        False, "--dual-stack", help="IPv4 and IPv6: the lab network, nodes, pods and Services."
    ),
) -> None:
    """Bring up a local lab of hosts, apply the cluster to it, verify it, print how to use it."""
    console = Console()
    try:
        with LiveView(console, 0, enabled=True) as view:
            skips = tuple(s for v in skip_preflight or [] for s in v.split(","))
            options = UpOptions(lab, hosts, verify, dual_stack=dual_stack, skip_preflight=skips)
            result = up(options, lambda m: console.print(m, highlight=False), view)
    except BuildError as err:  # pip's whole output is the exception's text: one line instead
        console.print(f"[red]error:[/red] {err.one_line()}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except (LabError, ProvisionError, ValueError) as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(1) from None
    if result.apply_report is not None:
        print_preflight(console, result.apply_report)
        print_recap(console, result.apply_report)
    if result.verify_report is not None:
        report = result.verify_report
        for c in report.failures:
            console.print(f"[red]FAILED[/] {c.scope}: {c.name} {c.detail}", highlight=False)
        console.print(
            f"verify: {len(report.checks) - len(report.failures)}/{len(report.checks)} checks "
            f"passed ({report.duration_s:.1f}s; details: kprov verify -i {result.inventory})",
            highlight=False,
        )
    times = ", ".join(f"{k} {v:.1f}s" for k, v in result.timings.items())
    console.print(f"inventory: {result.inventory}   ({times})")
    if result.ok and result.kubeconfig:
        print("The cluster is up. Try:")
        print(f"  kubectl --kubeconfig {result.kubeconfig} get nodes -o wide")
    raise typer.Exit(0 if result.ok else 2)


def verify_cmd(
    inventory: Path = InventoryOpt,
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    smoke: bool = typer.Option(True, "--smoke/--no-smoke", help="Deploy the smoke workload."),
    drift: bool = typer.Option(True, "--drift/--no-drift", help="Check-mode run: files as rendered."),
    cis: bool = typer.Option(False, "--cis", help="Check the CIS Benchmark's controls instead."),
) -> None:
    """Check every host and the cluster; non-zero exit on any failure (with --cis: on any
    FAIL of an automated CIS control)."""
    if cis:
        cis_report = verify_cis(inventory)
        if as_json:
            print(json.dumps(cis_report.to_dict(), indent=2))
        else:
            _print_cis(Console(), cis_report)
        raise typer.Exit(0 if cis_report.ok else 2)
    report = verify_cluster(inventory, smoke=smoke, drift=drift)
    if as_json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        _print_verify(Console(), report)
    raise typer.Exit(0 if report.ok else 2)


def upgrade_cmd(
    inventory: Path = InventoryOpt,
    source: Path = typer.Option(None, "--source", help="The kprov tree to build (default: this one)."),
    max_unavailable: str = typer.Option(
        "1", "--max-unavailable", help="Workers drained and upgraded at once (N or P%)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="List what each host gets; change nothing."),
) -> None:
    """Roll a new kprov build onto a running cluster: preflight (versions, etcd quorum, an
    etcd backup), control-plane hosts one by one, then workers in drained batches."""
    console = Console()
    options = UpgradeOptions(inventory, max_unavailable=max_unavailable, dry_run=dry_run)
    if source is not None:
        options.source = source
    try:
        result = upgrade(options, lambda msg: console.print(f"[bold]{msg}[/bold]"))
    except ProvisionError as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:  # between playbook runs (a build, a drain): no run to report
        console.print(
            "[red]upgrade interrupted[/red] (SIGINT): run `kprov upgrade` again to continue; "
            "a node being drained stays cordoned until then"
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    _print_upgrade(console, result)
    raise typer.Exit(0 if result.ok else EXIT_INTERRUPTED if result.interrupted else 2)


def reset_cmd(
    inventory: Path = InventoryOpt,
    limit: str = typer.Option(None, "--limit", "-l", help="Only these hosts (pattern)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Stop and remove everything kprov installed (services, units, data, packages)."""
    console = Console()
    if not yes and not typer.confirm(f"Remove the cluster on every host of {inventory}?"):
        raise typer.Exit(1)
    try:
        with LiveView(console, 0, enabled=True) as view:
            report = reset_cluster(inventory, limit=limit, observer=view)
    except ProvisionError as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(1) from None
    print_recap(console, report)
    raise typer.Exit(0 if report.ok else 2)


def kubeconfig_cmd(
    inventory: Path = InventoryOpt,
    out: Path = typer.Option(None, "--out", "-o", help="Copy the admin kubeconfig here (mode 0600)."),
    user: str = typer.Option(None, "--user", help="Issue a kubeconfig for this user instead."),
    groups: list[str] = typer.Option([], "--group", "-g", help="A group of --user (repeatable)."),
    days: int = typer.Option(365, "--days", help="Validity of the --user certificate."),
) -> None:
    """Print the path of the admin kubeconfig (or copy it with --out); with --user, issue
    a kubeconfig for a named user (a client certificate signed by the cluster CA)."""
    if user is not None:
        try:
            print(issue_user_kubeconfig(pki_dir_for(inventory), user, groups, days, out))
        except UserKubeconfigError as err:
            Console(stderr=True).print(f"[red]error:[/red] {err}")
            raise typer.Exit(1) from None
        return
    source = admin_kubeconfig_path(inventory)
    if not source.is_file():
        hint = f"run `kprov apply -i {inventory}` first"
        Console(stderr=True).print(f"[red]error:[/red] {source} does not exist; {hint}")
        raise typer.Exit(1)
    if out is None:
        print(source)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, out)
    out.chmod(0o600)
    print(out)


def register(app: typer.Typer) -> None:
    app.command("up")(up_cmd)
    app.command("verify")(verify_cmd)
    app.command("upgrade")(upgrade_cmd)
    app.command("reset")(reset_cmd)
    app.command("kubeconfig")(kubeconfig_cmd)
