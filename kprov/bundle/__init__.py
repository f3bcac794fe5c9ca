"""The offline bundle: every artifact a run needs, collected on a connected machine.

A bundle is a directory: ``debs/`` (a flat apt repository), ``wheelhouse/`` (kprov's wheel
and its dependencies for the hosts' Python), ``images/`` (OCI archives: the pause image
and a busybox test image) and ``manifest.json`` (versions and sha256 of every file). Hosts
are served from it and never need the internet: the lab serves ``debs/``-style repositories
over HTTP, real hosts receive the directory and use it as a ``file:`` apt source
(roles/offline_repo).
"""

from kprov.bundle.wheelhouse import Wheelhouse, build_wheelhouse, source_digest

__all__ = ["Wheelhouse", "build_wheelhouse", "source_digest"]
