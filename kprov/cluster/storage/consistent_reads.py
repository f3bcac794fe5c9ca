"""Consistent reads served by the watch cache, counted as upstream's cacher counts them:
``apiserver_watch_cache_consistent_read_total`` {resource, success, fallback} and
``apiserver_watch_cache_read_wait_seconds`` {resource} (how long a read waited for the cache
to reach etcd's current revision).

A consistent LIST (no ``resourceVersion``) waits for the cache to reach etcd's revision; when
it does not in time, the list is read from etcd instead (``fallback="true"``): at tens of
thousands of objects that read costs the server far more than the cache's answer, so how
often it happens is what a loaded server's list latency is explained by. Counts are kept per
resource bucket (the watch cache's scope-prefix bucket, named at scrape time); the front's
metrics format them (:mod:`kprov.cluster.apiserver.front.metrics`).
"""

from __future__ import annotations

from kprov.cluster.client.metrics import Histogram

__all__ = ["READ_WAIT_BUCKETS", "ConsistentReads"]

# kube-apiserver's buckets for apiserver_watch_cache_read_wait_seconds
READ_WAIT_BUCKETS = (0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0)


class ConsistentReads:
    """Counts and wait times of consistent reads, by resource bucket."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, bool, bool], int] = {}  # (bucket, success, fallback) -> reads
        self.waits: dict[str, Histogram] = {}  # bucket -> its waits

    def record(self, bucket: str, waited_s: float, *, success: bool, fallback: bool) -> None:
        key = (bucket, success, fallback)
        self.counts[key] = self.counts.get(key, 0) + 1
        waits = self.waits.get(bucket)
        if waits is None:
            waits = self.waits[bucket] = Histogram(READ_WAIT_BUCKETS)
        waits.observe(waited_s)
