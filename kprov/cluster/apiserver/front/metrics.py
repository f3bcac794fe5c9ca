"""The API server's Prometheus metrics, under kube-apiserver's names, served at GET /metrics.

- ``apiserver_request_total`` {verb, dry_run, group, version, resource, subresource, scope,
  component, code} and ``apiserver_request_duration_seconds`` (same labels but code, upstream's
  buckets): one entry per label tuple, made on the tuple's first request;
- ``apiserver_request_sli_duration_seconds`` {verb, group, version, resource, subresource, scope,
  component}: the same duration less the time the request waited in priority and fairness's
  queue and in admission webhooks (:mod:`kprov.cluster.apiserver.request.latency`), upstream's
  SLI buckets; what Kubernetes' API call latency SLO (and clusterloader2) judges;
- ``apiserver_current_inflight_requests`` {request_kind: mutating | readOnly} (watches, as
  upstream's long-running requests, are not counted);
- ``apiserver_watch_events_total`` {group, version, resource}: events written to watchers;
- ``apiserver_storage_objects`` {resource}: objects per resource, counted from the watch
  cache at scrape time;
- ``apiserver_watch_cache_consistent_read_total`` {resource, success, fallback} and
  ``apiserver_watch_cache_read_wait_seconds`` {resource}: consistent lists, from the watch cache
  or (fallback) from etcd (:mod:`kprov.cluster.storage.consistent_reads`);
- ``etcd_request_duration_seconds`` {operation, type}: the store's etcd calls (the store
  reports each to :meth:`ApiMetrics.etcd_request`).

Why plain dictionaries and a collector rather than prometheus_client's labelled metrics:
``Counter.labels(...)`` builds a label dict, validates it and takes a lock on every call
(a few microseconds each, two or three per request); here a request leaves one tuple,
counted with the others a batch at a time (:meth:`ApiMetrics.settle_requests`, and at every
scrape): one dictionary lookup each (the label tuple is built once per method, request info,
dry run and content type, not on every request), a ``bisect`` and three integer/float
additions, and prometheus_client only formats the families at scrape time (:class:`_Collector`, a registry
of the server's own: no module-level state). tests/bench/bench_apiserver.py's metrics
rounds measure the whole cost side by side (docs/decisions/0008).

Verbs are reported as upstream's ``CleanVerb``: the HTTP method, except LIST and WATCH (and
APPLY for a server-side apply PATCH); exec and other connect subresources are CONNECT.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from kprov.cluster.apiserver.request.requestinfo import RequestInfo
from kprov.cluster.client.metrics import Histogram
from kprov.cluster.storage import resource_prefix
from kprov.cluster.storage.consistent_reads import ConsistentReads

__all__ = [
    "CONTENT_TYPE",
    "ETCD_BUCKETS",
    "ENTRY_CACHE_SIZE",
    "ETCD_BATCH",
    "REQUEST_BATCH",
    "REQUEST_BUCKETS",
    "SLI_BUCKETS",
    "ApiMetrics",
    "report_verb",
    "resource_namer",
]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# kube-apiserver's buckets for apiserver_request_duration_seconds and etcd_request_duration_seconds
REQUEST_BUCKETS = (0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0,
                   6.0, 8.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0)
ETCD_BUCKETS = REQUEST_BUCKETS  # (the same list upstream)
# kube-apiserver's buckets for apiserver_request_sli_duration_seconds
SLI_BUCKETS = (0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0,
               20.0, 30.0, 45.0, 60.0)
_CONNECT = frozenset({"exec", "attach", "portforward", "proxy"})
_MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})

ENTRY_CACHE_SIZE = 4096
ETCD_BATCH = 256
REQUEST_BATCH = 256
_REQUEST_LABELS = ("verb", "dry_run", "group", "version", "resource", "subresource", "scope", "component")


def report_verb(method: str, ri: RequestInfo | None, content_type: str = "") -> str:
    """Upstream's CleanVerb: LIST, WATCH, APPLY, CONNECT, else the HTTP method."""
    if ri is None:
        return method
    if ri.verb == "list":
        return "LIST"
    if ri.verb == "watch":
        return "WATCH"
    if ri.subresource.partition("/")[0] in _CONNECT:
        return "CONNECT"
    if method == "PATCH" and content_type.startswith("application/apply-patch"):
        return "APPLY"
    return method


def _scope(ri: RequestInfo | None) -> str:
    if ri is None:
        return ""
    if ri.name or ri.verb == "create":  # (upstream's CleanScope: a create names one object)
        return "resource"
    return "namespace" if ri.namespace else "cluster"


class ApiMetrics:
    """What the handlers record; :meth:`exposition` is what GET /metrics answers."""

    def __init__(
        self,
        resource_of: Callable[[str], str | None] = lambda key: None,
        scope_sizes: Callable[[], Iterator[tuple[str, int]]] | None = None,
        consistent_reads: ConsistentReads | None = None,
    ) -> None:
        # complete after settle_requests():
        self.durations: dict[tuple[str, ...], Histogram] = {}  # label tuple (no code)
        self.sli_durations: dict[tuple[str, ...], Histogram] = {}  # label tuple (no code, no dry run)
        self.codes: dict[tuple[str, ...], dict[int, int]] = {}  # label tuple -> code -> count
        self._requests_pending: list[tuple[Any, ...]] = []
        # (method, request info, dry run, content type) -> its label tuple's histograms and
        # counts: one lookup a request where building the labels cost half of it
        self._entries: dict[tuple[Any, ...], tuple[Histogram, dict[int, int], Histogram]] = {}
        self.inflight = {"mutating": 0, "readOnly": 0}
        self.watch_events: dict[tuple[str, str, str], int] = {}
        self.etcd: dict[tuple[str, str], Histogram] = {}  # complete after settle_etcd()
        self._etcd_pending: list[tuple[str, str, float]] = []
        self.resource_of = resource_of  # an etcd key or scope prefix -> "pods", "deployments.apps"
        self.scope_sizes = scope_sizes
        self.consistent_reads = consistent_reads
        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(_Collector(self))

    # -- the hot path ------------------------------------------------------------------------
    def request_kind(self, method: str) -> str:
        return "mutating" if method in _MUTATING else "readOnly"

    def observe_request(
        self, method: str, ri: RequestInfo | None, dry_run: bool, code: int, seconds: float,
        content_type: str, outside: float = 0.0,
    ) -> None:
        """``outside``: the seconds of ``seconds`` spent waiting in a queue or a webhook (not in
        the SLI histogram). Kept as it came and counted ``REQUEST_BATCH`` at a time (or when scraped), as
        :meth:`etcd_request`: in the request this is a tuple and an append, where finding the
        label tuple's histogram and counting into it, among the request's own work, cost
        several times what the same loop costs over a batch."""
        pending = self._requests_pending
        pending.append((method, ri, dry_run, content_type, code, seconds, outside))
        if len(pending) >= REQUEST_BATCH:
            self.settle_requests()

    def settle_requests(self) -> None:
        """Count the requests waiting (before anything reads :attr:`durations` or :attr:`codes`)."""
        pending, self._requests_pending = self._requests_pending, []
        entries = self._entries
        for method, ri, dry_run, content_type, code, seconds, outside in pending:
            key = (method, ri, dry_run, content_type)
            entry = entries.get(key)
            if entry is None:
                entry = self._entry(method, ri, dry_run, content_type)
                if len(entries) >= ENTRY_CACHE_SIZE:  # (request infos with names: bounded)
                    entries.clear()
                entries[key] = entry
            histogram, codes, sli = entry
            histogram.counts[bisect_left(REQUEST_BUCKETS, seconds)] += 1  # (Histogram.observe written out)
            histogram.total += seconds
            codes[code] = codes.get(code, 0) + 1
            served = seconds - outside
            sli.counts[bisect_left(SLI_BUCKETS, served)] += 1
            sli.total += served

    def _entry(
        self, method: str, ri: RequestInfo | None, dry_run: bool, content_type: str
    ) -> tuple[Histogram, dict[int, int], Histogram]:
        verb = report_verb(method, ri, content_type)
        if ri is None:
            labels: tuple[str, ...] = (verb, "", "", "", "", "", "", "apiserver")
        else:
            labels = (verb, "All" if dry_run else "", ri.group, ri.version, ri.resource, ri.subresource,
                      _scope(ri), "apiserver")
        histogram = self.durations.get(labels)
        if histogram is None:
            histogram = self.durations[labels] = Histogram(REQUEST_BUCKETS)
        codes = self.codes.setdefault(labels, {})
        sli_labels = (labels[0], *labels[2:])  # (upstream's SLI has no dry_run label)
        sli = self.sli_durations.get(sli_labels)
        if sli is None:
            sli = self.sli_durations[sli_labels] = Histogram(SLI_BUCKETS)
        return histogram, codes, sli

    def watch_sent(self, group: str, version: str, resource: str, events: int) -> None:
        key = (group, version, resource)
        self.watch_events[key] = self.watch_events.get(key, 0) + events

    def etcd_request(self, operation: str, key: str, seconds: float) -> None:
        """Kept as it came and counted ``ETCD_BATCH`` at a time (or when scraped): naming the
        key's resource and observing it, timed inside the busy server, cost an etcd call
        about three times what it costs in a loop over a batch."""
        pending = self._etcd_pending
        pending.append((operation, key, seconds))
        if len(pending) >= ETCD_BATCH:
            self.settle_etcd()

    def settle_etcd(self) -> None:
        """Count the etcd calls waiting (before anything reads :attr:`etcd`)."""
        pending, self._etcd_pending = self._etcd_pending, []
        etcd, resource_of = self.etcd, self.resource_of
        histograms: dict[tuple[str, str], Histogram] = {}  # (operation, key's scope): this batch's
        for operation, key, seconds in pending:
            scope = (operation, key[: key.rfind("/") + 1])
            histogram = histograms.get(scope)
            if histogram is None:
                labels = (operation, resource_of(key) or "unknown")
                histogram = etcd.get(labels)
                if histogram is None:
                    histogram = etcd[labels] = Histogram(ETCD_BUCKETS)
                histograms[scope] = histogram
            histogram.observe(seconds)

    # -- scrape time ---------------------------------------------------------------------------
    def storage_counts(self) -> dict[str, int]:
        """Objects per resource, from the watch cache's scopes (one namespace or resource each)."""
        out: dict[str, int] = {}
        for scope, size in self.scope_sizes() if self.scope_sizes is not None else ():
            resource = self.resource_of(scope)
            if resource is not None:
                out[resource] = out.get(resource, 0) + size
        return out

    def register(self, collector: Collector) -> None:
        """Another part's families (formatted at scrape time, as this one's)."""
        self._registry.register(collector)

    def exposition(self) -> bytes:
        return generate_latest(self._registry)


class _Collector(Collector):
    def __init__(self, metrics: ApiMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        m = self.metrics
        m.settle_requests()
        total = CounterMetricFamily(
            "apiserver_request",
            "Counter of apiserver requests broken out for each verb, dry run value, group, version, "
            "resource, scope, component, and HTTP response code.",
            labels=[*_REQUEST_LABELS, "code"],
        )
        for labels, codes in list(m.codes.items()):
            for code, count in list(codes.items()):
                total.add_metric([*labels, str(code)], count)
        yield total
        duration = HistogramMetricFamily(
            "apiserver_request_duration_seconds",
            "Response latency distribution in seconds for each verb, dry run value, group, version, "
            "resource, subresource, scope and component.",
            labels=list(_REQUEST_LABELS),
        )
        for labels, histogram in list(m.durations.items()):
            duration.add_metric(list(labels), histogram.family_buckets(), histogram.total)
        yield duration
        sli = HistogramMetricFamily(
            "apiserver_request_sli_duration_seconds",
            "Response latency distribution (not counting webhook duration and priority & fairness "
            "queue wait times) in seconds for each verb, group, version, resource, subresource, scope "
            "and component.",
            labels=[label for label in _REQUEST_LABELS if label != "dry_run"],
        )
        for labels, histogram in list(m.sli_durations.items()):
            sli.add_metric(list(labels), histogram.family_buckets(), histogram.total)
        yield sli
        inflight = GaugeMetricFamily(
            "apiserver_current_inflight_requests",
            "Maximal number of currently used inflight request limit of this apiserver per request kind "
            "in last second.",
            labels=["request_kind"],
        )
        for kind, value in m.inflight.items():
            inflight.add_metric([kind], value)
        yield inflight
        events = CounterMetricFamily(
            "apiserver_watch_events", "Number of events sent in watch clients",
            labels=["group", "version", "resource"],
        )
        for labels, count in list(m.watch_events.items()):
            events.add_metric(list(labels), count)
        yield events
        if m.scope_sizes is not None:
            objects = GaugeMetricFamily(
                "apiserver_storage_objects",
                "Number of stored objects at the time of last check split by kind.",
                labels=["resource"],
            )
            for resource, count in sorted(m.storage_counts().items()):
                objects.add_metric([resource], count)
            yield objects
        if m.consistent_reads is not None:
            yield from _consistent_read_families(m.consistent_reads, m.resource_of)
        etcd = HistogramMetricFamily(
            "etcd_request_duration_seconds",
            "Etcd request latency in seconds for each operation and object type.",
            labels=["operation", "type"],
        )
        m.settle_etcd()
        for labels, histogram in list(m.etcd.items()):
            etcd.add_metric(list(labels), histogram.family_buckets(), histogram.total)
        yield etcd


def _consistent_read_families(
    reads: ConsistentReads, resource_of: Callable[[str], str | None]
) -> Iterator[Metric]:
    total = CounterMetricFamily(
        "apiserver_watch_cache_consistent_read", "Counter for consistent reads from cache.",
        labels=["resource", "success", "fallback"],
    )
    for (bucket, success, fallback), count in list(reads.counts.items()):
        resource = resource_of(bucket) or "unknown"
        total.add_metric([resource, str(success).lower(), str(fallback).lower()], count)
    yield total
    waits = HistogramMetricFamily(
        "apiserver_watch_cache_read_wait_seconds",
        "Histogram of time spent waiting for a watch cache to become fresh.", labels=["resource"],
    )
    for bucket, histogram in list(reads.waits.items()):
        waits.add_metric([resource_of(bucket) or "unknown"], histogram.family_buckets(), histogram.total)
    yield waits


def resource_namer(bucket_of: Callable[[str], str], registry: Any) -> Callable[[str], str | None]:
    """key or scope prefix -> upstream's resource label (``pods``, ``deployments.apps``,
    ``widgets.example.com``). The labels of every resource prefix are built once per registry
    (it is swapped when CRDs change); a key is looked up by the watch cache's bucket, then by
    its first two segments (a custom resource's bucket is its group's): two dict reads, where
    a scan of the registry per etcd request showed in a custom object's create."""
    memo: dict[str, Any] = {"registry": None, "labels": {}}

    def labels() -> dict[str, str]:
        current = registry()
        if current is not memo["registry"]:
            memo["labels"] = {
                resource_prefix(info.group, info.resource): (
                    f"{info.resource}.{info.group}" if info.group else info.resource
                )
                for info in current
            }
            memo["registry"] = current
        return memo["labels"]

    def resource_of(key: str) -> str | None:
        if not key.startswith("/registry/"):
            return None
        known = labels()
        bucket = bucket_of(key)
        name = known.get(bucket)
        if name is not None:
            return name
        first, _, tail = key[len("/registry/") :].partition("/")
        name = known.get(f"/registry/{first}/{tail.partition('/')[0]}/")
        if name is not None:
            return name
        return bucket[len("/registry/") :].rstrip("/").replace("/", ".")

    return resource_of
