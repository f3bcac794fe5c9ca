"""`kprov bundle`: collect every artifact a run needs into one directory (and archive)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from kprov.bundle.aptrepo import AptRepoError, AptSources
from kprov.bundle.build import BundleOptions, archive_bundle, build_bundle, bundle_vars
from kprov.bundle.manifest import verify_bundle
from kprov.bundle.packages import HOST_PACKAGES

__all__ = ["register"]


def bundle_cmd(
    out: Path = typer.Option(Path("kprov-bundle"), "--out", "-o", help="The bundle directory."),
    archive: Path | None = typer.Option(None, "--archive", help="Also pack the bundle into this .tar.gz."),
    package: list[str] = typer.Option([], "--package", "-p",
                                      help="Debian package to include (repeatable; default: the cluster's)."),
    status: Path | None = typer.Option(None, "--status",
                                       help="The hosts' dpkg status file: download only what they miss "
                                            "(default: self-contained, every dependency)."),
    suite: str = typer.Option(AptSources().suite, "--suite", help="Debian suite of the hosts."),
    mirror: str = typer.Option(AptSources().mirror, "--mirror", help="Debian mirror to download from."),
    no_wheelhouse: bool = typer.Option(False, "--no-wheelhouse", help="Leave kprov's wheelhouse out."),
    no_images: bool = typer.Option(False, "--no-images", help="Leave the OCI images out."),
    image_archive: list[Path] = typer.Option([], "--image-archive",
                                             help="An image archive (docker save or OCI) whose images every "
                                                  "image mirror serves by their names (repeatable)."),
    deb_cache: Path | None = typer.Option(None, "--deb-cache",
                                          help="Keep downloaded .debs here and take them from here when "
                                               "Debian still serves the same files (size and SHA-256); "
                                               "for a slow or metered link to the mirror."),
    show_vars: bool = typer.Option(False, "--vars",
                                   help="Only print the extra vars (JSON) for an existing bundle at --out."),
    verify: bool = typer.Option(False, "--verify",
                                help="Only check an existing bundle's files against its manifest."),
) -> None:
    """Collect Debian packages, the wheelhouse and images into --out (built on a connected machine)."""
    console = Console(stderr=True)
    try:
        if show_vars:
            typer.echo(json.dumps(bundle_vars(out), indent=2, sort_keys=True))
            return
        if verify:
            problems = verify_bundle(out)
            for problem in problems:
                console.print(f"[red]{out}:[/red] {problem}")
            if problems:
                raise typer.Exit(1)
            console.print(f"{out}: intact")
            return
        if status is not None and not status.is_file():
            raise ValueError(f"--status {status}: no such file (want a dpkg status file, "
                             "e.g. /var/lib/dpkg/status)")
        options = BundleOptions(
            packages=tuple(package) or HOST_PACKAGES,
            status=status,
            sources=AptSources(suite=suite, mirror=mirror),
            wheelhouse=not no_wheelhouse,
            images=not no_images,
            image_archives=tuple(image_archive),
            deb_cache=deb_cache,
        )
        manifest = build_bundle(out, options, progress=lambda line: console.print(line))
        if archive is not None:
            archive_bundle(out, archive)
            console.print(f"archive: {archive}")
    except (AptRepoError, OSError, ValueError, RuntimeError) as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(1) from err
    console.print(f"{out}: {len(manifest.debs)} debs, wheelhouse {manifest.wheelhouse_digest or '-'}, "
                  f"{len(manifest.images)} images, {len(manifest.files)} files")
    console.print(f"use it: kprov bundle --vars --out {out}  (extra vars for roles/site.yml)")


def register(app: typer.Typer) -> None:
    app.command("bundle")(bundle_cmd)
