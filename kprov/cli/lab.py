"""`kprov lab ...`: parse, call kprov.lab.Lab, render. No logic lives here."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from kprov.lab import Lab, LabError

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, help="A local lab of real hosts (systemd-nspawn machines).")
_out = Console()
_err = Console(stderr=True, soft_wrap=True)


def _lab(ctx: typer.Context) -> Lab:
    lab = ctx.obj
    assert isinstance(lab, Lab)
    return lab


def _fail(exc: LabError) -> typer.Exit:
    _err.print(f"[red]kprov lab:[/red] {exc}", markup=True, highlight=False)
    return typer.Exit(1)


@app.callback()
def main(
    ctx: typer.Context,
    lab: int | None = typer.Option(None, "--lab", help="Lab instance 0..9 (default: env KPROV_LAB, else 0)."),
) -> None:
    try:
        ctx.obj = Lab(lab)
    except LabError as exc:
        raise _fail(exc) from exc


@app.command()
def up(
    ctx: typer.Context,
    hosts: int = typer.Option(5, "--hosts", "-n", help="Number of hosts (h1..hN)."),
    dual_stack: bool = typer.Option(False, "--dual-stack",
                                    help="Also give the network the IPv6 prefix fd77:77:N::/64 (kept)."),
) -> None:
    """Build what is missing (base image, package repository, hosts) and boot hosts h1..hN."""
    lab = _lab(ctx)
    try:
        steps = lab.up(hosts, progress=lambda msg: _out.print(f"  {msg}", highlight=False),
                       dual_stack=dual_stack)
    except LabError as exc:
        raise _fail(exc) from exc
    _out.print(f"lab {lab.index}: {hosts} hosts running" + ("" if steps else " (nothing to change)"))


@app.command()
def status(ctx: typer.Context) -> None:
    """Hosts of the instance with their address and state."""
    lab = _lab(ctx)
    try:
        rows = lab.status()
    except LabError as exc:
        raise _fail(exc) from exc
    table = Table(title=f"kprov lab {lab.index}")
    for column in ("host", "IP", "state"):
        table.add_column(column)
    for row in rows:
        color = "green" if row.state == "running" else "yellow"
        table.add_row(row.name, row.ip, f"[{color}]{row.state}[/{color}]")
    _out.print(table)


@app.command()
def ssh(
    ctx: typer.Context,
    host: str = typer.Argument(..., help="Host name, e.g. h1."),
    command: list[str] | None = typer.Argument(None, help="Command to run (after --); a shell if none."),
) -> None:
    """SSH into a host as root (or run a command there)."""
    try:
        argv = _lab(ctx).ssh_argv(host, command or None)
    except LabError as exc:
        raise _fail(exc) from exc
    os.execvp(argv[0], argv)


@app.command()
def stop(ctx: typer.Context, host: str = typer.Argument(..., help="Host name, e.g. h2.")) -> None:
    """Power a host off (orderly shutdown); its disk is kept."""
    try:
        _lab(ctx).stop(host)
    except LabError as exc:
        raise _fail(exc) from exc
    _out.print(f"{host}: stopped")


@app.command()
def start(ctx: typer.Context, host: str = typer.Argument(..., help="Host name, e.g. h2.")) -> None:
    """Power a stopped host on and wait until it runs."""
    try:
        _lab(ctx).start(host)
    except LabError as exc:
        raise _fail(exc) from exc
    _out.print(f"{host}: running")


@app.command()
def down(ctx: typer.Context) -> None:
    """Stop all hosts and take the lab network down; disks are kept."""
    try:
        _lab(ctx).down()
    except LabError as exc:
        raise _fail(exc) from exc
    _out.print(f"lab {_lab(ctx).index}: down")


@app.command()
def wipe(ctx: typer.Context) -> None:
    """Remove everything of the instance: hosts, disks, mounts, namespaces, links, cgroups."""
    try:
        _lab(ctx).wipe()
    except LabError as exc:
        raise _fail(exc) from exc
    _out.print(f"lab {_lab(ctx).index}: wiped")


@app.command()
def inventory(
    ctx: typer.Context,
    out: Path | None = typer.Option(None, "--out", "-o", help="Write here (default: print it)."),
    hosts: int | None = typer.Option(None, "--hosts", "-n", help="Hosts (default: existing, else 5)."),
    vip: bool = typer.Option(False, "--vip", help="Name apiserver_vip (10.77.N.10): keepalived + HAProxy."),
    dual_stack: bool | None = typer.Option(
        None, "--dual-stack/--single-stack", help="Dual-stack variables (default: as the lab was brought up)."
    ),
) -> None:
    """The Ansible-format inventory of this lab instance."""
    lab = _lab(ctx)
    try:
        if out is None:
            typer.echo(lab.inventory_text(hosts, vip, dual_stack), nl=False)  # (rich would fold long lines)
            return
        lab.write_inventory(out, hosts, vip, dual_stack)
    except LabError as exc:
        raise _fail(exc) from exc
    _out.print(f"wrote {out}")
