"""Kubernetes' API call latency SLIs as clusterloader2 measures them: from the API servers' own
``apiserver_request_sli_duration_seconds`` histograms, not from a client's stopwatch.

Upstream's SLI is the 99th percentile of that histogram (the request's duration less its wait
in priority and fairness's queue and in webhooks) per (resource, subresource, verb, scope),
over the measured window, events and long-running verbs left out, as clusterloader2's
APIResponsivenessPrometheus filters them: here the difference of two scrapes of every API
server (before and after the timed section), summed over the servers, with Prometheus'
``histogram_quantile`` interpolation. A client's own timing of a cluster-wide LIST also counts
its decode of the whole reply and its wait for a CPU on a shared machine; the server's
histogram is what the SLO judges. :func:`slowest` ranks the whole durations
(``apiserver_request_duration_seconds``, queue waits and events included): where time went.

    before = await scrape(clients); ...; after = await scrape(clients)
    slis(before, after)  # {"api_mutating_server_p99_ms": ..., "api_get_server_p99_ms": ..., ...}
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

__all__ = [
    "CACHE_WAIT_FAMILY", "CONSISTENT_FAMILY", "DURATION_FAMILY", "SLI_FAMILY", "Buckets", "cache_wait_p99_ms",
    "histogram_quantile", "list_fallbacks", "parse_consistent_reads", "parse_request_durations", "scrape",
    "slis", "slowest",
]

SLI_FAMILY = "apiserver_request_sli_duration_seconds"
DURATION_FAMILY = "apiserver_request_duration_seconds"
CONSISTENT_FAMILY = "apiserver_watch_cache_consistent_read"  # (a counter: kept as one +Inf bucket)
CACHE_WAIT_FAMILY = "apiserver_watch_cache_read_wait_seconds"
_MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE", "APPLY"})
_LONG_RUNNING = frozenset({"WATCH", "WATCHLIST", "CONNECT"})  # not in any SLI
_STREAMING = frozenset({"log", "exec", "attach", "portforward", "proxy"})
_NOT_IN_SLI = frozenset({"events"})  # (clusterloader2: resource!="events")
# (verb, resource, subresource, scope) -> {upper bound: cumulative count}
Buckets = dict[tuple[str, str, str, str], dict[float, float]]
# family name -> its buckets
Scrape = dict[str, Buckets]


def parse_request_durations(text: str, family_name: str = SLI_FAMILY) -> Buckets:
    found: Buckets = defaultdict(dict)
    for family in text_string_to_metric_families(text):
        if family.name != family_name:
            continue
        for sample in family.samples:
            if not sample.name.endswith("_bucket"):
                continue
            labels = sample.labels
            key = (labels.get("verb", ""), labels.get("resource", ""), labels.get("subresource", ""),
                   labels.get("scope", ""))
            bound = float(labels["le"])
            found[key][bound] = found[key].get(bound, 0.0) + sample.value
    return dict(found)


def histogram_quantile(q: float, cumulative: dict[float, float]) -> float:
    """Prometheus' rule: the bucket holding rank q*count, linear inside it; +Inf -> the
    largest finite bound."""
    bounds = sorted(cumulative)
    if not bounds or cumulative[bounds[-1]] <= 0:
        return math.nan
    rank = q * cumulative[bounds[-1]]
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = cumulative[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower
            inside = count - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = bound, count
    return lower


def parse_consistent_reads(text: str) -> Buckets:
    """The consistent-read counter as ``("fallback"|"cache", resource, success, "") -> {inf: n}``."""
    found: Buckets = {}
    for family in text_string_to_metric_families(text):
        if family.name != CONSISTENT_FAMILY:
            continue
        for sample in family.samples:
            if sample.name.endswith("_total"):
                labels = sample.labels
                source = "fallback" if labels.get("fallback") == "true" else "cache"
                found[(source, labels.get("resource", ""), labels.get("success", ""), "")] = {
                    math.inf: sample.value}
    return found


def list_fallbacks(before: Scrape, after: Scrape, resource: str = "pods") -> int:
    """Consistent lists of ``resource`` the servers read from etcd in the window (their watch
    caches were not fresh in time)."""
    window = _window(before.get(CONSISTENT_FAMILY, {}), after.get(CONSISTENT_FAMILY, {}))
    return round(sum(max(b.values()) for k, b in window.items() if k[0] == "fallback" and k[1] == resource))


def _parse_cache_waits(text: str) -> Buckets:
    """The read-wait histogram as ``("WAIT", resource, "", "") -> {bound: cumulative}``."""
    found: Buckets = defaultdict(dict)
    for family in text_string_to_metric_families(text):
        if family.name != CACHE_WAIT_FAMILY:
            continue
        for sample in family.samples:
            if sample.name.endswith("_bucket"):
                key = ("WAIT", sample.labels.get("resource", ""), "", "")
                found[key][float(sample.labels["le"])] = sample.value
    return dict(found)


def cache_wait_p99_ms(before: Scrape, after: Scrape, resource: str = "pods") -> float:
    """p99 of how long consistent lists of ``resource`` waited for the watch cache in the window."""
    window = _window(before.get(CACHE_WAIT_FAMILY, {}), after.get(CACHE_WAIT_FAMILY, {}))
    buckets = window.get(("WAIT", resource, "", ""))
    value = histogram_quantile(0.99, buckets) if buckets else math.nan
    return math.nan if math.isnan(value) else round(value * 1000, 1)


async def scrape(clients: list[Any]) -> Scrape:
    """Every API server's SLI and whole-duration request histograms and consistent-read
    counts, each summed over the servers."""
    families = (SLI_FAMILY, DURATION_FAMILY, CONSISTENT_FAMILY, CACHE_WAIT_FAMILY)
    totals: dict[str, Buckets] = {name: defaultdict(dict) for name in families}
    for client in clients:
        reply = await client.request("GET", "/metrics")
        text = reply if isinstance(reply, str) else str(reply)
        for name, total in totals.items():
            parsed = (parse_consistent_reads(text) if name == CONSISTENT_FAMILY
                      else _parse_cache_waits(text) if name == CACHE_WAIT_FAMILY
                      else parse_request_durations(text, name))
            for key, buckets in parsed.items():
                for bound, count in buckets.items():
                    total[key][bound] = total[key].get(bound, 0.0) + count
    return {name: dict(total) for name, total in totals.items()}


def _window(before: Buckets, after: Buckets) -> Buckets:
    return {
        key: {bound: count - before.get(key, {}).get(bound, 0.0) for bound, count in buckets.items()}
        for key, buckets in after.items()
    }


def slowest(before: Scrape, after: Scrape, count: int = 3, family: str = DURATION_FAMILY) -> list[str]:
    """The pairs with the highest p99 in the window (whole durations, or ``family``), as ``VERB
    resource[/sub] (scope): p99 ms over N calls``: which call a missed SLI is, or where
    queueing went."""
    window = _window(before.get(family, {}), after.get(family, {}))
    ranked = sorted(
        ((histogram_quantile(0.99, b), k, max(b.values())) for k, b in window.items()
         if max(b.values()) > 0 and k[0] not in _LONG_RUNNING and k[2] not in _STREAMING),
        reverse=True,
    )
    return [f"{verb} {res}{'/' + sub if sub else ''} ({scope}): {p99 * 1000:.0f} ms over {calls:.0f} calls"
            for p99, (verb, res, sub, scope), calls in ranked[:count]]


def slis(before: Scrape, after: Scrape) -> dict[str, float]:
    """The window's SLI p99s in ms: the worst mutating and GET pair, and the cluster-wide pod LIST."""
    whole_window = _window(before.get(SLI_FAMILY, {}), after.get(SLI_FAMILY, {}))
    window = {key: buckets for key, buckets in whole_window.items() if key[1] not in _NOT_IN_SLI}

    def p99_ms(keys: list[tuple[str, str, str, str]]) -> float:
        values = [histogram_quantile(0.99, window[k]) for k in keys]
        values = [v for v in values if not math.isnan(v)]
        return round(max(values) * 1000, 1) if values else math.nan

    return {
        "api_mutating_server_p99_ms": p99_ms([k for k in window if k[0] in _MUTATING]),
        "api_get_server_p99_ms": p99_ms([k for k in window if k[0] == "GET" and k[2] not in _STREAMING]),
        "api_list_pods_server_p99_ms": p99_ms(
            [k for k in window if k[0] == "LIST" and k[1] == "pods" and k[3] == "cluster"]),
    }
