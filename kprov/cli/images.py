"""`kprov images`: build small OCI images locally, import them on nodes, and load image
archives into the cluster's image mirrors (role registry) under their public names."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from kprov.images import build_archive, busybox_image, pause_image, push_archive
from kprov.images.archive import ArchiveError
from kprov.images.mirror import list_mirror, load_archives
from kprov.images.standins import build_standins
from kprov.images.targets import targets_from_inventory
from kprov.pki.from_inventory import pki_dir_for
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


@app.command("standins")
def standins_cmd(
    output: Path = typer.Option(..., "-o", "--output", help="Where to write the archive (.tar)."),
    agnhost: Path | None = typer.Option(None, "--agnhost",
                                        help="An agnhost binary: adds agnhost's e2e name and nginx/httpd "
                                             "stand-ins (serving HTTP on port 80)."),
    names: list[str] = typer.Option([], "--name",
                                    help="Also this public name (repeatable), if a stand-in provides its "
                                         "repository: e.g. gcr.io/google_containers/pause."),
) -> None:
    """Build kprov's stand-ins under their public names into one archive (for `kprov images load`)."""
    console = Console()
    try:
        digests = build_standins(output, agnhost, names)
    except (OSError, ValueError) as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(1) from err
    for reference in digests:
        console.print(reference, markup=False, highlight=False)
    console.print(f"{output}: {len(digests)} images")


@app.command("load")
def load_cmd(
    archives: list[Path] = typer.Argument(..., help="Image archives (docker save or OCI) naming images."),
    inventory: Path = typer.Option(..., "-i", "--inventory", help="Inventory file or directory."),
    limit: str = typer.Option("control_plane", "--limit", "-l", help="The mirror hosts (Ansible pattern)."),
) -> None:
    """Load the archives' images into every control-plane host's mirror, by their names."""
    console = Console()
    try:
        results = load_archives(targets_from_inventory(inventory, limit), archives)
    except (OSError, ValueError, ArchiveError, ProvisionError) as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(1) from err
    for result in results:
        mark = "[green]ok[/green]" if result.ok else "[red]failed[/red]"
        console.print(f"{result.host}: {mark}")
        for line in result.output.splitlines():
            console.print(f"  {line}", markup=False, highlight=False)
    if not all(r.ok for r in results):
        raise typer.Exit(1)


@app.command("ls")
def ls_cmd(
    inventory: Path = typer.Option(..., "-i", "--inventory", help="Inventory file or directory."),
    limit: str = typer.Option("control_plane", "--limit", "-l", help="The mirror hosts (Ansible pattern)."),
    port: int = typer.Option(5000, "--port", help="The mirrors' port."),
) -> None:
    """List what each mirror holds (asked over TLS, verified with the cluster CA)."""
    console = Console()
    try:
        targets = targets_from_inventory(inventory, limit)
    except (OSError, ValueError, ProvisionError) as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(1) from err
    ca_file = pki_dir_for(inventory) / "ca.crt"
    failed = False
    for target in targets:
        listing = list_mirror(target.name, target.address, ca_file, port)
        if listing.error:
            failed = True
            console.print(f"{target.name}: [red]failed[/red] {listing.error}", highlight=False)
            continue
        count = sum(len(tags) for tags in listing.images.values())
        console.print(f"{target.name}: {count} images")
        for repository, tags in listing.images.items():
            for tag in tags:
                console.print(f"  {repository}:{tag}", markup=False, highlight=False)
    if failed:
        raise typer.Exit(1)
