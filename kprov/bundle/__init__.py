"""The offline bundle: every artifact a run needs, collected on a connected machine.

A bundle is a directory: ``debs/`` (a flat apt repository), ``wheelhouse/`` (kprov's wheel
and its dependencies for the hosts' Python) and ``images/`` (OCI archives: the pause image
and test images). Hosts are served from it and never need the internet.
"""

from kprov.bundle.wheelhouse import Wheelhouse, build_wheelhouse, source_digest

__all__ = ["Wheelhouse", "build_wheelhouse", "source_digest"]
