"""`kprov prepare`: make the operator-side artifacts of a cluster current, print their variables.

`kprov apply` does this itself before it runs roles/site.yml. Running site.yml with
ansible-playbook (or Molecule) needs the same artifacts (the PKI next to the inventory,
kprov's runtime archive, the node images) and the extra variables that point at them:
this command makes them and prints those variables as JSON, for ``-e @FILE``.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from kprov.pki.store import PkiError
from kprov.pki.topology import TopologyError
from kprov.provision.errors import ProvisionError

__all__ = ["register"]


def prepare_cmd(
    inventory: Path = typer.Option(..., "-i", "--inventory", help="Inventory file or directory."),
    out: Path | None = typer.Option(None, "--out", "-o",
                                    help="Write the extra vars (JSON) to this file instead of stdout."),
) -> None:
    """Make the PKI, kprov's runtime and the node images current; print the extra vars for site.yml."""
    from kprov.deploy.prepare import prepare_cluster  # heavy (PKI, bundle); only this command needs it

    try:
        prepared = prepare_cluster(inventory)
    except (PkiError, TopologyError, ProvisionError, OSError, ValueError, RuntimeError) as err:
        Console(stderr=True).print(f"[red]kprov prepare:[/red] {err}", highlight=False)
        raise typer.Exit(1) from err
    text = json.dumps(prepared.extra_vars, indent=2, sort_keys=True)
    if out is None:
        typer.echo(text)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    Console(stderr=True).print(f"wrote {out} (use: ansible-playbook -e @{out} roles/site.yml)")


def register(app: typer.Typer) -> None:
    app.command("prepare")(prepare_cmd)
