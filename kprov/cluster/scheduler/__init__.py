"""kprov-scheduler: the plugin framework (framework.py, plugins/), the per-node cache
(cache.py), one scheduling cycle (algorithm.py) and the loop that binds pods (scheduler.py)."""

from kprov.cluster.scheduler.scheduler import Scheduler

__all__ = ["Scheduler"]
