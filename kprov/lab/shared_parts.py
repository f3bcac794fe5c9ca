"""The lab's shared parts made ahead of any host: the base image, then the package repository.

``kprov lab up`` builds both when they are missing (its plan's first steps). On a fresh
machine they are most of the first `kprov up`'s lab phase and mostly downloads, so
``bash .ci/setup`` starts this module beside pip's install of the virtualenv, which is
downloads too: ``python3 -m kprov.lab.shared_parts`` from the checkout, with the machine's
Python and nothing installed yet. It therefore imports only the standard library and the
lab's and bundle's standard-library modules (a unit test imports it with ``python3 -S``).

The same functions and file locks as ``kprov lab up`` (kprov.lab.base, kprov.lab.bundle): a
lab brought up while this runs waits for it, and a build that failed leaves nothing a later
run would trust, so `kprov lab up` then builds again and reports its own error.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from kprov.lab.base import BASE_SIZE_BYTES, base_ready, build_base
from kprov.lab.bundle import BUNDLE_SIZE_BYTES, LAB_PACKAGES, bundle_current, fill_bundle
from kprov.lab.errors import LabError
from kprov.lab.layout import LabLayout
from kprov.lab.system import ensure_free_space, require_root

__all__ = ["build_shared_parts", "main"]


def build_shared_parts(layout: LabLayout, packages: Sequence[str] = LAB_PACKAGES,
                       progress: Callable[[str], None] = print) -> list[str]:
    """Build the base image and fill the package repository where missing; the parts built."""
    base_missing = not base_ready(layout.base)
    bundle_missing = not bundle_current(layout.repo_dir, packages)
    needed = (BASE_SIZE_BYTES if base_missing else 0) + (BUNDLE_SIZE_BYTES if bundle_missing else 0)
    if needed:
        ensure_free_space(layout.root, needed)
    built: list[str] = []

    def timed(name: str, make: Callable[[], bool]) -> None:
        start = time.monotonic()
        if make():
            built.append(name)
            progress(f"lab {name} built in {time.monotonic() - start:.1f} s")

    if base_missing:
        timed("base image", lambda: build_base(layout.base))
    if bundle_missing:
        timed("package repository", lambda: fill_bundle(layout.repo_dir, layout.base, packages))
    return built


def main(argv: Sequence[str] = ()) -> int:
    """``python3 -m kprov.lab.shared_parts [ROOT]``: build the parts under ROOT (the labs' default)."""
    def say(message: str) -> None:
        print(f"kprov setup: {message}", flush=True)

    try:
        require_root("building the lab's base image")
        layout = LabLayout(0, Path(argv[0])) if argv else LabLayout(0)
        if not build_shared_parts(layout, progress=say):
            say("lab base image and package repository already current")
    except LabError as exc:
        print(f"kprov setup: the lab's shared parts: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
