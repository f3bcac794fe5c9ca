"""`kprov secrets`: the encryption at rest of the cluster's Secrets."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, help="Encryption at rest of the cluster's Secrets.")


@app.callback()
def _group() -> None:
    """Keep `kprov secrets` a group even with one command."""


@app.command("rotate-key")
def rotate_key_command(
    inventory: Path = typer.Option(..., "-i", "--inventory", help="Inventory file or directory."),
    as_json: bool = typer.Option(False, "--json", help="Print what was done as JSON."),
) -> None:
    """Encrypt every Secret with a new key and remove the old one, API servers rolled one at a
    time (a rerun after an interruption continues the same rotation)."""
    from kprov.deploy.secrets_rotation import RotationError, rotate_key

    try:
        report = rotate_key(inventory)
    except (RotationError, OSError, ValueError) as exc:
        Console(stderr=True).print(f"[red]kprov secrets rotate-key:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from exc
    if as_json:
        print(json.dumps(report.to_dict(), indent=2))
        return
    console = Console(highlight=False)
    for step, what in report.steps:
        console.print(f"  {step:8} {what}")
