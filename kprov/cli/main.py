"""The `kprov` entry point: one Typer app, one sub-app or command group per concern.

Each concern lives in its own module under kprov.cli and exposes either ``app`` (a Typer
sub-app mounted under a name) or ``register(app)`` (top-level commands).
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="kprov",
    help="Provision a cluster onto real machines, and run it.",
    no_args_is_help=True,
    add_completion=False,
)


def _mount() -> None:
    # Imported here so `kprov --help` stays quick and a broken concern names itself.
    from kprov.cli import etcd, lab, pki, provision

    provision.register(app)
    from kprov.cli import cluster

    cluster.register(app)

    app.add_typer(lab.app, name="lab", help="A local lab of real hosts (systemd-nspawn).")
    app.add_typer(pki.app, name="pki", help="Cluster CA, etcd CA, certificates and kubeconfigs.")
    app.add_typer(etcd.app, name="etcd", help="The etcd cluster: status, backup, restore, members.")
    from kprov.cli import images

    app.add_typer(images.app, name="images", help="Build OCI images locally and import them on nodes.")
    from kprov.cli import local

    app.add_typer(local.app, name="local", help="A control plane on loopback (etcd + API server).")
    from kprov.cli import bundle

    bundle.register(app)


def main() -> None:
    _mount()
    app()


if __name__ == "__main__":
    main()
