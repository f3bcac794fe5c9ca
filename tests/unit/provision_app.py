"""The provision commands on a Typer app of their own, registered as kprov's CLI registers them:
what the unit tests that run ``kprov apply`` in process invoke (one definition for all of them)."""

from __future__ import annotations

import typer

from kprov.cli import provision as provision_cli


def provision_app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _group() -> None:
        return None

    provision_cli.register(app)
    return app
