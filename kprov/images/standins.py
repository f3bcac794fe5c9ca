"""The images kprov builds offline under public names, for the cluster's image mirror.

Real-world manifests name ``busybox``, ``registry.k8s.io/pause:3.9``, ``nginx``...; an
air-gapped cluster has none of them. kprov builds what it can from files on this machine
(:mod:`kprov.images.offline` decides which recipe provides which repository) and
:func:`build_standins` writes them as one archive (one layer per root, shared by every tag)
that the registry role loads into each mirror:

- busybox under its Docker Hub and e2e names, several tags: Debian's static busybox;
- pause under registry.k8s.io's names and tags: busybox sh holding the namespaces, exiting
  on SIGTERM/SIGINT and reaping zombies as upstream's pause (kprov.images.recipes);
- with an agnhost binary (``agnhost``): agnhost under its e2e name, and nginx/httpd as
  stand-ins (busybox httpd serving their document roots on port 80, as
  :mod:`kprov.images.offline` lays them out).

Other names a recipe provides (``gcr.io/google_containers/pause``: any pause repository) can
be asked for by the caller (``kprov images standins --name``): manifests name images under
registries and tags the lists above cannot foresee. Docker Hub's ``python`` is only built so
(``--name python:3.12``): this machine's CPython makes a layer many times the default
archive that every cluster's mirror would otherwise copy on every first apply; ubuntu and
debian likewise (``--name ubuntu``: busybox's tools with this machine's bash), as their
names are stand-ins a site should know it asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from kprov.images.oci import build_multi_archive, normalize_reference

__all__ = ["AGNHOST_NAMES", "BASE_NAMES", "build_standins", "standin_names"]

BASE_NAMES: tuple[str, ...] = (
    *(f"docker.io/library/busybox:{tag}"
      for tag in ("latest", "1", "1.36", "1.36.1", "1.35", "1.34", "stable")),
    "registry.k8s.io/e2e-test-images/busybox:1.29-4",
    "registry.k8s.io/e2e-test-images/busybox:1.36.1-1",
    *(f"registry.k8s.io/pause:{tag}" for tag in ("3.10", "3.9", "3.8", "3.7", "3.6")),
)

AGNHOST_NAMES: tuple[str, ...] = (
    "registry.k8s.io/e2e-test-images/agnhost:2.45",
    "registry.k8s.io/e2e-test-images/agnhost:2.47",
    "registry.k8s.io/e2e-test-images/agnhost:2.52",
    *(f"docker.io/library/nginx:{tag}" for tag in ("latest", "1.25", "1.27", "alpine")),
    *(f"docker.io/library/httpd:{tag}" for tag in ("latest", "2.4", "2.4.39-alpine")),
)


def standin_names(with_agnhost: bool) -> list[str]:
    return [*BASE_NAMES, *(AGNHOST_NAMES if with_agnhost else ())]


def build_standins(out: Path, agnhost: Path | None = None, extra_names: Sequence[str] = ()) -> dict[str, str]:
    """Write the stand-ins archive to ``out``; return each public name's manifest digest.

    ``extra_names`` (normalized as containerd stores them: ``ubuntu`` is
    ``docker.io/library/ubuntu:latest``) are built too; a name no recipe provides is a
    ValueError naming it."""
    # imported here: every `kprov apply` imports this module (deploy.prepare), but builds
    # the archive only once per cache (offline pulls in the PKI's cryptography)
    from kprov.images.offline import image_roots, plan_by, standin_recipe, standin_spec

    have_agnhost = agnhost is not None
    names = [*standin_names(have_agnhost), *(normalize_reference(name) for name in extra_names)]
    plan = plan_by(names, lambda repository: standin_recipe(repository, have_agnhost))
    if plan.missing:  # a name no recipe provides: the caller's, or a bug in the lists above
        raise ValueError(f"no recipe for: {', '.join(plan.missing)}")
    roots = image_roots(agnhost)
    specs = [spec for image in plan.provided if (spec := standin_spec(image, roots)) is not None]
    return build_multi_archive(specs, out)
