"""Which images of the suite kprov can provide offline, and the image specs that provide them.

The suite names its images (``e2e.test --list-images``); nothing can be pulled here, so
each is either built locally under its exact name or reported missing, matched by
repository. :mod:`kprov.images.offline` provides busybox, pause, agnhost, and the nginx,
httpd, Update Demo and jessie-dnsutils stand-ins (the user's agnhost binary for agnhost,
nginx and jessie-dnsutils; httpd serves its ``index.html`` from where the real image does:
the StatefulSet tests make a pod unready by moving it away). The suite's own images,
tried first:

- nonewprivs: a *substitute* — a busybox root with the setuid-root program that prints its
  effective uid, compiled here (:mod:`kprov.conformance.nnp`), when this machine has a C
  compiler;
- sample-apiserver: a *stand-in* — kprov's own small Python server of the wardle.example.com
  group (:mod:`kprov.conformance.wardle`) on this machine's python3, when it has one;
- etcd: a *substitute* — Debian's etcd (another version than the tag), when installed
  (:mod:`kprov.conformance.aggregator_images` builds both).
Everything else (CSI sidecars, windows images, ...) is missing.
"""

from __future__ import annotations

from pathlib import Path

from kprov.conformance.aggregator_images import etcd_spec, sample_apiserver_spec
from kprov.conformance.nnp import NNP_PATH, build_nnp
from kprov.images.oci import FileEntry, ImageSpec
from kprov.images.offline import (
    ImagePlan,
    PlannedImage,
    Recipe,
    image_roots,
    plan_by,
    standin_recipe,
    standin_spec,
)
from kprov.images.recipes import BUSYBOX_PATH

__all__ = ["ImagePlan", "PlannedImage", "image_specs", "plan_images"]


def _recipe_for(repository: str, have_agnhost: bool, have_compiler: bool, have_python: bool,
                etcd_version: str | None) -> Recipe | None:
    base = repository.rsplit("/", 1)[-1]
    if repository.endswith("e2e-test-images/sample-apiserver") and have_python:
        return ("sample-apiserver-standin", "stand-in",
                "kprov's Python server of wardle.example.com/v1alpha1 (not upstream's sample-apiserver)")
    if base == "etcd" and etcd_version:
        return "etcd", "substitute", f"Debian's etcd {etcd_version} at /usr/local/bin/etcd"
    if repository.endswith("e2e-test-images/nonewprivs") and have_compiler:
        return "nonewprivs", "substitute", "a setuid-root program printing its effective uid, built here"
    return standin_recipe(repository, have_agnhost)


def plan_images(references: list[str], have_agnhost: bool, have_compiler: bool = False,
                have_python: bool = False, etcd_version: str | None = None) -> ImagePlan:
    """``have_python``: this machine has a system python3 (the sample-apiserver stand-in);
    ``etcd_version``: the version of its etcd binary, if installed (the etcd substitute)."""
    return plan_by(
        references,
        lambda repository: _recipe_for(repository, have_agnhost, have_compiler, have_python, etcd_version),
    )


def image_specs(plan: ImagePlan, agnhost: Path | None, busybox: Path = BUSYBOX_PATH) -> list[ImageSpec]:
    """Specs for every provided image; images of one root share one file list (one layer)."""
    roots = image_roots(agnhost, busybox)
    specs = []
    nnp: list[FileEntry] = []
    for image in plan.provided:
        if image.recipe == "nonewprivs":
            nnp = nnp or [*roots.plain, FileEntry(NNP_PATH, data=build_nnp(), mode=0o4755)]
            specs.append(ImageSpec(image.reference, files=nnp, entrypoint=["/" + NNP_PATH]))
        elif image.recipe == "sample-apiserver-standin":
            specs.append(sample_apiserver_spec(image.reference))
        elif image.recipe == "etcd":
            specs.append(etcd_spec(image.reference))
        elif (spec := standin_spec(image, roots)) is not None:
            specs.append(spec)
    return specs
