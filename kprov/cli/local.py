"""`kprov local up|down|status`: parse, call kprov.local.LocalControlPlane, render."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from kprov.local import DEFAULT_DIR, LocalControlPlane

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, help="A single-machine control plane on loopback.")
_out = Console(soft_wrap=True)  # paths stay on one line, ready to copy
_err = Console(stderr=True, soft_wrap=True)
_DIR = typer.Option(DEFAULT_DIR, "--dir", help="Where etcd data, certificates, kubeconfigs and logs live.")


@app.command()
def up(directory: Path = _DIR) -> None:
    """Start etcd, the API server (and scheduler/controller manager when installed)."""
    try:
        info = LocalControlPlane(directory).up()
    except (OSError, RuntimeError) as exc:
        _err.print(f"[red]kprov local up:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from exc
    _out.print(f"API server: {info.server}  (etcd {info.etcd_url})", highlight=False)
    if info.components:
        _out.print(f"components: {', '.join(info.components)}", highlight=False)
    _out.print(f"admin kubeconfig: {info.admin_kubeconfig}", highlight=False)
    _out.print(f"try: kubectl --kubeconfig {info.admin_kubeconfig} get ns", highlight=False)


@app.command()
def down(directory: Path = _DIR) -> None:
    """Stop every local component (data stays in --dir)."""
    stopped = LocalControlPlane(directory).down()
    _out.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running", highlight=False)


@app.command()
def status(directory: Path = _DIR) -> None:
    """Which local components run."""
    plane = LocalControlPlane(directory)
    table = Table("component", "state")
    for name, running in plane.status().items():
        table.add_row(name, "[green]running[/green]" if running else "[dim]stopped[/dim]")
    _out.print(table)
    info = plane.info()
    if info is not None:
        _out.print(f"API server: {info.server}\nadmin kubeconfig: {info.admin_kubeconfig}", highlight=False)
