"""The `kprov` entry point: one Typer app, one sub-app or command group per concern.

Each concern lives in its own module under kprov.cli and exposes either ``app`` (a Typer
sub-app mounted under a name) or ``register(app)`` (top-level commands). Only the module
of the command being run is imported (the cluster client, etcd operations and the lab
are heavy to import and `kprov apply` should not pay for them); `--help` imports all.
"""

from __future__ import annotations

import importlib
import sys

import typer

from kprov.cli.lightargs import LightGroup

app = typer.Typer(
    name="kprov",
    cls=LightGroup,  # argument coercion without pydantic where it is plain (kprov.cli.lightargs)
    help="Provision a cluster onto real machines, and run it.",
    no_args_is_help=True,
    add_completion=False,
)

# Sub-apps: command word -> (module, help).
_SUB_APPS: dict[str, tuple[str, str]] = {
    "lab": ("kprov.cli.lab", "A local lab of real hosts (systemd-nspawn)."),
    "pki": ("kprov.cli.pki", "Cluster CA, etcd CA, certificates and kubeconfigs."),
    "etcd": ("kprov.cli.etcd", "The etcd cluster: status, backup, restore, members."),
    "images": ("kprov.cli.images", "Build OCI images locally and import them on nodes."),
    "local": ("kprov.cli.local", "A control plane on loopback (etcd + API server)."),
    "vm": ("kprov.cli.vm", "Real VMs: the Vagrant box for libvirt, the accelerator."),
    "secrets": ("kprov.cli.secrets", "Encryption at rest of the cluster's Secrets."),
}
# Modules with top-level commands: module -> the command words it registers.
_COMMANDS: dict[str, tuple[str, ...]] = {
    "kprov.cli.provision": ("apply", "plan", "ping", "facts", "exec", "disconnect"),
    "kprov.cli.cluster": ("up", "verify", "reset", "upgrade", "kubeconfig"),
    "kprov.cli.bundle": ("bundle",),
    "kprov.cli.prepare": ("prepare",),
    "kprov.cli.conformance": ("conformance",),
}


@app.callback()
def _group() -> None:
    # A callback keeps `kprov` a command group even when only one top-level command is
    # mounted (Typer would otherwise run that command directly and reject its own name).
    return None


def _command_word(argv: list[str]) -> str | None:
    return next((arg for arg in argv if not arg.startswith("-")), None)


def _mount(argv: list[str]) -> None:
    word = _command_word(argv)
    known = set(_SUB_APPS) | {w for words in _COMMANDS.values() for w in words}
    everything = word not in known
    for module, words in _COMMANDS.items():
        if everything or word in words:
            importlib.import_module(module).register(app)
    for name, (module, help_text) in _SUB_APPS.items():
        if everything or word == name:
            app.add_typer(importlib.import_module(module).app, name=name, help=help_text)


def main() -> None:
    _mount(sys.argv[1:])
    app()


if __name__ == "__main__":
    main()
