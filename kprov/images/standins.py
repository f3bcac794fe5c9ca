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
  stand-ins (agnhost serving HTTP on port 80).
"""

from __future__ import annotations

from pathlib import Path

from kprov.images.oci import build_multi_archive

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


def build_standins(out: Path, agnhost: Path | None = None) -> dict[str, str]:
    """Write the stand-ins archive to ``out``; return each public name's manifest digest."""
    # imported here: every `kprov apply` imports this module (deploy.prepare), but builds
    # the archive only once per cache (offline pulls in the PKI's cryptography)
    from kprov.images.offline import image_roots, plan_by, standin_recipe, standin_spec

    have_agnhost = agnhost is not None
    plan = plan_by(standin_names(have_agnhost), lambda repository: standin_recipe(repository, have_agnhost))
    if plan.missing:  # a name above that no recipe provides: a bug in the lists
        raise ValueError(f"no recipe for: {', '.join(plan.missing)}")
    roots = image_roots(agnhost)
    specs = [spec for image in plan.provided if (spec := standin_spec(image, roots)) is not None]
    return build_multi_archive(specs, out)
