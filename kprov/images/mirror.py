"""``kprov images load`` and ``kprov images ls``: the cluster's image mirrors from the operator.

Load: each archive is checked here first (it must name its images), then uploaded to every
control-plane host (through the engine's connectors, as ``kprov apply`` reaches a host),
where kprov's host-side loader (:mod:`kprov.images.mirror_load`, skopeo underneath) copies
its images into that host's mirror under their public names; the upload is removed
afterwards. Hosts in parallel, one session each; a host that fails is one failed row, the
others still get the images.

List: each mirror is asked over TLS, verified with the cluster CA, as nodes ask it:
``GET /v2/_catalog`` then ``GET /v2/<repository>/tags/list`` per repository. Two read-only
requests of the distribution API are all it takes (skopeo has no catalog command), so they
are made with urllib rather than a client library.
"""

from __future__ import annotations

import json
import shlex
import ssl
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from kprov.images.archive import archive_images
from kprov.images.push import PushResult, SSHTarget
from kprov.provision.connect.base import ConnectionFailure

__all__ = ["MirrorListing", "list_mirror", "load_archives", "load_command"]

REMOTE_DIR = "/var/lib/kprov/registry/uploads"
PYTHON = "/opt/kprov/venv/bin/python"


def load_command(remote_paths: list[str], python: str = PYTHON) -> str:
    paths = " ".join(shlex.quote(p) for p in remote_paths)
    return (f"{shlex.quote(python)} -m kprov.images.mirror_load --force {paths}; rc=$?; "
            f"rm -f {paths}; exit $rc")


def _load_one(target: SSHTarget, archives: list[tuple[Path, bytes]], timeout: float) -> PushResult:
    remote = [f"{REMOTE_DIR}/{i}-{path.name}" for i, (path, _) in enumerate(archives)]
    connector = target.connector()
    try:
        connector.connect()
        made = connector.run(f"install -d -m 0700 {REMOTE_DIR}", become=True, timeout=timeout)
        if made.rc != 0:
            return PushResult(target.name, False, (made.stdout + made.stderr).strip())
        for (_, data), path in zip(archives, remote, strict=True):
            connector.put(data, path, become=True)
        result = connector.run("sh -c " + shlex.quote(load_command(remote)), become=True, timeout=timeout)
        return PushResult(target.name, result.rc == 0, (result.stdout + result.stderr).strip())
    except (ConnectionFailure, OSError, ValueError) as err:
        return PushResult(target.name, False, f"{type(err).__name__}: {err}")
    finally:
        connector.close()


def load_archives(targets: list[SSHTarget], archives: list[Path], timeout: float = 600.0) -> list[PushResult]:
    """Load every archive's images into each target's mirror; raises ArchiveError first if
    an archive names no image."""
    for archive in archives:
        if not archive.is_file():
            raise FileNotFoundError(f"{archive}: no such image archive")
        archive_images(archive)
    contents = [(archive, archive.read_bytes()) for archive in archives]
    with ThreadPoolExecutor(max_workers=max(1, min(16, len(targets)))) as pool:
        return list(pool.map(lambda t: _load_one(t, contents, timeout), targets))


@dataclass
class MirrorListing:
    host: str
    images: dict[str, list[str]] = field(default_factory=dict)  # repository -> tags
    error: str = ""


def _get(url: str, context: ssl.SSLContext, timeout: float) -> tuple[dict[str, object], str]:
    """The JSON body and the next page's path (the Link header's rel="next"), if any."""
    with urllib.request.urlopen(url, context=context, timeout=timeout) as response:  # noqa: S310 - https
        link = response.headers.get("Link") or ""
        following = link.split(";", 1)[0].strip().strip("<>") if 'rel="next"' in link else ""
        return dict(json.loads(response.read())), following


def list_mirror(host: str, address: str, ca_file: Path, port: int = 5000,
                timeout: float = 10.0) -> MirrorListing:
    context = ssl.create_default_context(cafile=str(ca_file))
    base = f"https://{address}:{port}/v2"
    listing = MirrorListing(host)
    try:
        repositories: list[str] = []
        page = "/v2/_catalog?n=100"  # the registry's largest page
        while page:
            catalog, page = _get(f"https://{address}:{port}{page}", context, timeout)
            repositories += [str(r) for r in catalog.get("repositories") or []]  # type: ignore[attr-defined]
        for repository in sorted(repositories):
            tags = _get(f"{base}/{repository}/tags/list", context, timeout)[0].get("tags") or []
            listing.images[repository] = sorted(str(t) for t in tags)  # type: ignore[attr-defined]
    except (OSError, ValueError) as exc:
        listing.error = f"{type(exc).__name__}: {exc}"
    return listing
