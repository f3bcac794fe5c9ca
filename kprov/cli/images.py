"""`kprov images`: build small OCI images locally and import them on nodes (no registry)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from kprov.images import build_archive, busybox_image, pause_image, push_archive
from kprov.images.targets import targets_from_inventory
from kprov.provision.errors import ProvisionError

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, help="Build OCI image archives and import them on nodes.")
RECIPES = {"busybox": busybox_image, "pause": pause_image}


@app.command("build")
def build_cmd(
    recipe: str = typer.Argument(..., help="busybox | pause"),
    output: Path = typer.Option(..., "-o", "--output", help="Where to write the OCI archive (.tar)."),
    tag: str = typer.Option("", "-t", "--tag", help="Image reference (default kprov.local/<recipe>:1)."),
) -> None:
    console = Console()
    if recipe not in RECIPES:
        console.print(f"[red]error:[/red] unknown recipe {recipe!r}; choose one of: {', '.join(RECIPES)}")
        raise typer.Exit(2)
    try:
        spec = RECIPES[recipe](tag or f"kprov.local/{recipe}:1")
        digest = build_archive(spec, output)
    except (OSError, ValueError) as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(1) from err
    console.print(f"{output}: {spec.reference} {digest}")


@app.command("push")
def push_cmd(
    archive: Path = typer.Argument(..., help="OCI archive built by `kprov images build`."),
    inventory: Path = typer.Option(..., "-i", "--inventory", help="Inventory file or directory."),
    limit: str = typer.Option("all", "--limit", "-l", help="Host pattern (Ansible syntax)."),
) -> None:
    console = Console()
    try:
        results = push_archive(targets_from_inventory(inventory, limit), archive)
    except (OSError, ValueError, ProvisionError) as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(1) from err
    for result in results:
        mark = "[green]ok[/green]" if result.ok else "[red]failed[/red]"
        console.print(f"{result.host}: {mark} {result.output}")
    if not all(r.ok for r in results):
        raise typer.Exit(1)
