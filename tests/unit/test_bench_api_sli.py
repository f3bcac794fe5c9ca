"""The density bench's server-side SLIs: a window of two scrapes of kprov's SLI histograms,
p99 by Prometheus' interpolation, worst pair per verb class, events left out as clusterloader2
leaves them; the slowest calls ranked by the whole durations."""

from __future__ import annotations

import asyncio
import math

import pytest

from tests.bench._api_sli import (
    DURATION_FAMILY,
    SLI_FAMILY,
    Scrape,
    histogram_quantile,
    parse_request_durations,
    slis,
    slowest,
)

_LABELS = ('component="apiserver",group="",scope="{scope}",subresource="{sub}",'
           'verb="{verb}",version="v1",resource="{res}"')
_NAME = "apiserver_request_sli_duration_seconds"


def _histogram(verb: str, res: str, counts: dict[str, int], scope: str = "resource", sub: str = "",
               name: str = _NAME) -> str:
    labels = _LABELS.format(scope=scope, sub=sub, verb=verb, res=res)
    lines = [f'{name}_bucket{{{labels},le="{le}"}} {n}' for le, n in counts.items()]
    total = max(counts.values())
    lines += [f"{name}_count{{{labels}}} {total}", f"{name}_sum{{{labels}}} 1.0"]
    return "\n".join(lines)


def _text(*histograms: str, name: str = _NAME) -> str:
    return f"# HELP {name} x\n# TYPE {name} histogram\n" + "\n".join(histograms) + "\n"


def _sli(*histograms: str) -> Scrape:
    return {SLI_FAMILY: parse_request_durations(_text(*histograms))}


def test_quantile_interpolates_inside_the_bucket_and_stops_at_the_last_finite_bound() -> None:
    assert histogram_quantile(0.5, {0.1: 0, 0.2: 100, math.inf: 100}) == pytest.approx(0.15)
    assert histogram_quantile(0.99, {1.0: 10, 2.0: 10, math.inf: 1000}) == 2.0
    assert math.isnan(histogram_quantile(0.99, {1.0: 0, math.inf: 0}))


def test_window_is_the_difference_of_two_scrapes_and_each_class_takes_its_worst_pair() -> None:
    before = _sli(
        _histogram("LIST", "pods", {"1": 0, "10": 50, "30": 50, "+Inf": 50}, scope="cluster"),
        _histogram("POST", "pods", {"0.1": 100, "1": 100, "+Inf": 100}),
    )
    after = _sli(
        # the window's 100 lists all fell between 10 s and 30 s; the 50 before did not
        _histogram("LIST", "pods", {"1": 0, "10": 50, "30": 150, "+Inf": 150}, scope="cluster"),
        _histogram("LIST", "pods", {"1": 40, "10": 40, "30": 40, "+Inf": 40}, scope="namespace"),  # not it
        _histogram("POST", "pods", {"0.1": 200, "1": 200, "+Inf": 200}),
        _histogram("PATCH", "nodes", {"0.1": 0, "1": 10, "+Inf": 10}, scope="resource", sub="status"),
        _histogram("GET", "pods", {"0.1": 0, "1": 100, "+Inf": 100}, scope="resource"),
        _histogram("GET", "pods", {"0.1": 0, "1": 0, "+Inf": 5}, scope="resource", sub="log"),
        _histogram("PATCH", "events", {"0.1": 0, "1": 0, "+Inf": 9}),  # (not in the SLI)
    )
    figures = slis(before, after)
    assert figures["api_list_pods_server_p99_ms"] == 29800.0
    assert figures["api_mutating_server_p99_ms"] == 991.0  # the nodes/status PATCH, not the POST
    assert figures["api_get_server_p99_ms"] == 991.0  # pods/log (streaming) left out


def test_slowest_names_the_pairs_with_the_highest_whole_duration_p99_first() -> None:
    name = DURATION_FAMILY
    whole = parse_request_durations(_text(
        _histogram("POST", "pods", {"0.1": 100, "1": 100, "+Inf": 100}, name=name),
        _histogram("PATCH", "nodes", {"0.1": 0, "1": 10, "+Inf": 10}, sub="status", name=name),
        _histogram("WATCH", "pods", {"1": 0, "60": 2, "+Inf": 2}, scope="cluster", name=name),  # long-running
        name=name), name)
    after = {DURATION_FAMILY: whole, **_sli(_histogram("PATCH", "leases", {"0.1": 0, "10": 10, "+Inf": 10}))}
    assert slowest({}, after, 1) == ["PATCH nodes/status (resource): 991 ms over 10 calls"]


def test_list_fallbacks_count_the_windows_pod_lists_read_from_etcd() -> None:
    from tests.bench._api_sli import CONSISTENT_FAMILY, list_fallbacks, parse_consistent_reads

    def counter(fallback_pods: int, cache_pods: int, fallback_nodes: int) -> Scrape:
        name = "apiserver_watch_cache_consistent_read"
        text = (f"# HELP {name}_total x\n# TYPE {name}_total counter\n"
                f'{name}_total{{fallback="true",resource="pods",success="true"}} {fallback_pods}\n'
                f'{name}_total{{fallback="false",resource="pods",success="true"}} {cache_pods}\n'
                f'{name}_total{{fallback="true",resource="nodes",success="true"}} {fallback_nodes}\n')
        return {CONSISTENT_FAMILY: parse_consistent_reads(text)}

    assert list_fallbacks(counter(2, 10, 1), counter(7, 40, 9)) == 5
    assert list_fallbacks({}, counter(3, 1, 0)) == 3


def test_cache_wait_p99_is_read_from_the_windows_read_wait_histogram() -> None:
    from tests.bench._api_sli import CACHE_WAIT_FAMILY, cache_wait_p99_ms, scrape

    name = CACHE_WAIT_FAMILY

    def text(fast: int, slow: int) -> str:
        lines = [f"# HELP {name} x", f"# TYPE {name} histogram"]
        for le, count in (("0.1", fast), ("3.0", fast + slow), ("+Inf", fast + slow)):
            lines.append(f'{name}_bucket{{resource="pods",le="{le}"}} {count}')
        lines += [f'{name}_count{{resource="pods"}} {fast + slow}', f'{name}_sum{{resource="pods"}} 1.0']
        return "\n".join(lines) + "\n"

    class _Client:
        def __init__(self, body: str) -> None:
            self.body = body

        async def request(self, method: str, path: str) -> str:
            return self.body

    before = asyncio.run(scrape([_Client(text(100, 0))]))
    after = asyncio.run(scrape([_Client(text(100, 10))]))  # the window's 10 waited 0.1-3 s
    assert cache_wait_p99_ms(before, after) == pytest.approx(2971.0)
    assert math.isnan(cache_wait_p99_ms(before, after, "nodes"))
