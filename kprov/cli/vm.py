"""`kprov vm ...`: the Vagrant box and the accelerator VMs get. Parse, call kprov.vm, render."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from kprov.lab.errors import LabError
from kprov.vm.accel import detect_accel
from kprov.vm.box import DEFAULT_MIRROR, add_box, build_box
from kprov.vm.libvirt import leftovers, recorded_daemons, start_daemons, stop_daemons
from kprov.vm.recipe import BOX_NAME, CACHE_DIR, BoxRecipe
from kprov.vm.vagrant import BOX_VOLUME_PREFIX, purge

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, help="Real VMs: the Vagrant box for libvirt, the accelerator.")
_out = Console()
_err = Console(stderr=True, soft_wrap=True)


@app.command()
def box(
    cache: Path = typer.Option(CACHE_DIR, "--cache", help="Where rootfs and boxes are cached."),
    mirror: str = typer.Option(DEFAULT_MIRROR, "--mirror", help="Debian mirror for the box's rootfs."),
    force: bool = typer.Option(False, "--force", help="Rebuild the box even when the cache has it."),
    add: bool = typer.Option(True, "--add/--no-add",
                             help=f"Register it with Vagrant as {BOX_NAME} (when Vagrant's copy differs)."),
) -> None:
    """Build the Debian 12 libvirt box from Debian's packages (cached; rebuilt when its recipe changes)."""
    recipe = BoxRecipe()
    try:
        result = build_box(recipe, cache=cache, mirror=mirror, force=force,
                           progress=lambda msg: _out.print(f"  {msg}", highlight=False))
        added = add_box(result.path, recipe.box_digest()) if add else False
    except LabError as exc:
        _err.print(f"[red]kprov vm box:[/red] {exc}", markup=True, highlight=False)
        raise typer.Exit(1) from exc
    for stage, seconds in result.timings.items():
        _out.print(f"  {stage} = {seconds:.0f}", highlight=False)
    _out.print(f"{result.path}" + (" (built)" if result.built else " (cached)")
               + (f"; added to Vagrant as {BOX_NAME}" if added else ""), highlight=False)


@app.command()
def accel() -> None:
    """Print the accelerator VMs get here: kvm (when /dev/kvm runs a stock guest) or tcg."""
    typer.echo(detect_accel())


@app.command("purge")
def purge_cmd() -> None:
    """Remove every libvirt domain, network and volume named kprov-* (and the box's volume),
    then stop the libvirtd/virtlogd kprov started: what a killed VM test run leaves behind."""
    started = start_daemons()
    try:
        purge()
        left = leftovers(volume_prefixes=(BOX_VOLUME_PREFIX,))
    finally:
        stop_daemons(list(dict.fromkeys(started + recorded_daemons())))
    if not left.empty():
        _err.print(f"kprov vm purge: still there: {left}", highlight=False)
        raise typer.Exit(1)
    _out.print("nothing of kprov's left in libvirt", highlight=False)
