"""`kprov pki`: create, show and rotate the cluster PKI next to an inventory."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from kprov.pki.from_inventory import ensure_inventory_pki, pki_dir_for
from kprov.pki.listing import list_certs
from kprov.pki.store import PkiError, PkiReport
from kprov.pki.topology import TopologyError
from kprov.provision.errors import ProvisionError

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, help="Cluster CA, etcd CA, certificates and kubeconfigs.")

InventoryOpt = typer.Option(..., "-i", "--inventory", help="Inventory file or directory.")


def _console() -> Console:
    # Piped output (CI logs, tests) gets a fixed width so table cells are not cut.
    return Console(highlight=False, width=None if sys.stdout.isatty() else 200)


def _run(inventory: Path, rotate: bool) -> None:
    console = _console()
    try:
        directory, report = ensure_inventory_pki(inventory, rotate=rotate)
    except (PkiError, TopologyError, ProvisionError, OSError, ValueError) as e:
        Console(stderr=True).print(f"[red]kprov pki:[/red] {e}", highlight=False)
        raise typer.Exit(1) from e
    _print_report(console, directory, report)


def _print_report(console: Console, directory: Path, report: PkiReport) -> None:
    for change in report.changed:
        reason = f" ({change.reason})" if change.reason and change.reason != "missing" else ""
        console.print(f"  {change.action:8} {change.name}{reason}")
    unchanged = len(report.changes) - len(report.changed)
    console.print(f"{directory}: {len(report.changed)} changed, {unchanged} ok")


@app.command()
def init(inventory: Path = InventoryOpt) -> None:
    """Create (or complete) <inventory dir>/pki; existing valid material is reused."""
    _run(inventory, rotate=False)


@app.command()
def rotate(inventory: Path = InventoryOpt) -> None:
    """Renew every leaf certificate and kubeconfig (both CAs stay)."""
    _run(inventory, rotate=True)


@app.command()
def show(inventory: Path = InventoryOpt) -> None:
    """List every certificate with its subject and expiry."""
    directory = pki_dir_for(inventory)
    if not directory.is_dir():
        Console(stderr=True).print(
            f"[red]kprov pki:[/red] {directory} does not exist; run `kprov pki init -i {inventory}`"
        )
        raise typer.Exit(1)
    table = Table(title=str(directory))
    for col in ("certificate", "CN", "O", "issuer", "expires", "days", "status"):
        table.add_column(col, no_wrap=True)
    table.add_column("SANs", overflow="fold", min_width=30)
    colors = {"ok": "green", "renew soon": "yellow", "expired": "red", "unreadable": "red"}
    for info in list_certs(directory):
        table.add_row(
            info.name, info.common_name, ",".join(info.organizations), info.issuer,
            "" if info.error else f"{info.not_after:%Y-%m-%d}", "" if info.error else str(info.days_left),
            f"[{colors[info.status]}]{info.status}[/]", ", ".join(info.sans),
        )
    _console().print(table)
