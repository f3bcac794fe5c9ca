"""The garbage collector's cadence for kprov's long-running processes.

CPython's defaults (a young collection every 700 net allocations, older ones after 10 of
those) suit short scripts. kprov's servers and controllers allocate thousands of
short-lived objects a request and hold caches of every object they watch (the API server's
watch cache, the informers of the scheduler, the controller manager, kubelets and hollow
nodes), and a cache that grows is rescanned by every older collection on the way: with the
defaults, decoding a list of pods into a cache cost several times the CPU it costs with this
cadence (figures: docs/decisions/0011). Collecting less often still finds reference cycles;
only the cadence changes. :func:`settle` also moves what start-up allocated (modules, schemas, a
loaded cache) out of the collector's sight for good.
"""

from __future__ import annotations

import gc

__all__ = ["THRESHOLDS", "settle"]

# Young collections every 50,000 net allocations (a request's objects are mostly gone by
# then); a full one only every 200 young ones, and, as always, once the old generation grew
# by a quarter.
THRESHOLDS = (50_000, 20, 10)


def settle() -> None:
    """Collect once, freeze what survives, and collect at :data:`THRESHOLDS` from now on."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
