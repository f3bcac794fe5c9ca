"""`kprov etcd`: status, backup, restore, membership and defragmentation of an inventory's etcd cluster."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from kprov.etcdops.cluster import EtcdCluster, EtcdOpsError
from kprov.etcdops.defrag import defragment
from kprov.etcdops.etcdctl import EtcdctlError
from kprov.etcdops.members import apply_membership, ensure_member_certs, plan_for_inventory
from kprov.etcdops.quorum import MembershipError
from kprov.etcdops.snapshots import backup as take_backup
from kprov.etcdops.snapshots import restore as restore_snapshot
from kprov.pki.from_inventory import inventory_dir
from kprov.pki.store import PkiError
from kprov.pki.topology import TopologyError
from kprov.provision.connect.base import ConnectionFailure
from kprov.provision.errors import ProvisionError

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, help="The etcd cluster: status, backup, restore, members, defrag.")
InventoryOpt = typer.Option(..., "-i", "--inventory", help="Inventory file or directory.")
_ERRORS = (EtcdOpsError, EtcdctlError, MembershipError, ConnectionFailure, ProvisionError, PkiError,
           TopologyError, OSError)


def _console() -> Console:
    # Piped output (CI logs, tests) gets a fixed width so table cells are not cut.
    return Console(highlight=False, width=None if sys.stdout.isatty() else 150)


def _fail(e: Exception) -> typer.Exit:
    Console(stderr=True).print(f"[red]kprov etcd:[/red] {e}", highlight=False)
    return typer.Exit(1)


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 1024:.0f} KiB"


@app.command()
def status(inventory: Path = InventoryOpt) -> None:
    """Every member: endpoint, leader, version, db size, raft index, health."""
    try:
        with EtcdCluster(inventory) as cluster:
            anchor = cluster.anchor()
            views = cluster.members(anchor)
    except _ERRORS as e:
        raise _fail(e) from e
    table = Table(title=f"etcd members (seen from {anchor.host})")
    for col in ("member", "id", "endpoint", "leader", "version", "db size", "raft index", "health"):
        table.add_column(col)
    for v in sorted(views, key=lambda v: v.name or "~"):
        health = "[green]healthy[/]" if v.healthy else f"[red]unhealthy[/] {v.error}"
        table.add_row(
            v.name or "(not started)", f"{v.info.member_id:x}", v.endpoint, "*" if v.is_leader else "",
            v.version, _size(v.db_size) if v.version else "", str(v.raft_index) if v.version else "", health,
        )
    _console().print(table)
    if not all(v.healthy for v in views):
        raise typer.Exit(2)


@app.command()
def backup(
    inventory: Path = InventoryOpt,
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Directory (default: <inventory dir>/backups/etcd)."
    ),
) -> None:
    """Save a snapshot on this machine (timestamped, with a .sha256 beside it)."""
    console = _console()
    out_dir = out or inventory_dir(inventory) / "backups" / "etcd"
    try:
        with EtcdCluster(inventory) as cluster:
            result = take_backup(cluster, out_dir, progress=lambda m: console.print(f"  {m}"))
    except _ERRORS as e:
        raise _fail(e) from e
    console.print(f"{result.path} ({_size(result.size)}, from {result.member})")
    console.print(f"sha256 {result.sha256}  ({result.checksum_path.name})")


@app.command()
def restore(
    snapshot: Path = typer.Argument(..., help="Snapshot file from `kprov etcd backup`."),
    inventory: Path = InventoryOpt,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Replace the data of every member by SNAPSHOT (stops the cluster, new cluster token)."""
    console = _console()
    if not yes and not typer.confirm(f"Replace all etcd data of {inventory} with {snapshot}?"):
        raise typer.Exit(1)
    try:
        with EtcdCluster(inventory) as cluster:
            views = restore_snapshot(cluster, snapshot, progress=lambda m: console.print(f"  {m}"))
    except _ERRORS as e:
        raise _fail(e) from e
    console.print(f"restored: {len(views)} members healthy ({', '.join(sorted(v.name for v in views))})")


@app.command()
def members(
    inventory: Path = InventoryOpt,
    dry_run: bool = typer.Option(False, "--dry-run", "-n", help="Show the plan only."),
) -> None:
    """Grow or shrink the cluster to the inventory's etcd group, one member at a time."""
    console = _console()
    try:
        with EtcdCluster(inventory) as cluster:
            issued = ensure_member_certs(cluster)
            if issued:
                console.print(f"pki: issued {', '.join(issued)}")
            plan, _views = plan_for_inventory(cluster)
            console.print(f"members: {', '.join(plan.current)} -> {', '.join(plan.target)}")
            if plan.empty:
                console.print("nothing to change")
                return
            for i, step in enumerate(plan.steps, 1):
                console.print(f"  {i}. {step.describe()}")
            if dry_run:
                return
            done = apply_membership(cluster, plan, progress=lambda m: console.print(f"  {m}"))
    except _ERRORS as e:
        raise _fail(e) from e
    console.print(f"{len(done)} steps done in {sum(d.seconds for d in done):.1f}s")


@app.command()
def defrag(inventory: Path = InventoryOpt) -> None:
    """Shrink every member's database file after compaction: one member at a time, the leader last."""
    console = _console()
    try:
        with EtcdCluster(inventory) as cluster:
            done = defragment(cluster, progress=lambda m: console.print(f"  {m}"))
    except _ERRORS as e:
        raise _fail(e) from e
    table = Table(title="etcd defragmentation")
    for col in ("member", "db size before", "after", "seconds"):
        table.add_column(col)
    for d in done:
        table.add_row(d.member, _size(d.before_bytes), _size(d.after_bytes), f"{d.seconds:.1f}")
    console.print(table)
