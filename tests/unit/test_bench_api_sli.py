"""The density bench's server-side SLIs: a window of two scrapes of kprov's request histograms,
p99 by Prometheus' interpolation, worst pair per verb class."""

from __future__ import annotations

import math

import pytest

from tests.bench._api_sli import histogram_quantile, parse_request_durations, slis, slowest

_LABELS = ('component="apiserver",dry_run="",group="",scope="{scope}",subresource="{sub}",'
           'verb="{verb}",version="v1",resource="{res}"')


def _histogram(verb: str, res: str, counts: dict[str, int], scope: str = "namespace", sub: str = "") -> str:
    labels = _LABELS.format(scope=scope, sub=sub, verb=verb, res=res)
    name = "apiserver_request_duration_seconds"
    lines = [f'{name}_bucket{{{labels},le="{le}"}} {n}' for le, n in counts.items()]
    total = max(counts.values())
    lines += [f"apiserver_request_duration_seconds_count{{{labels}}} {total}",
              f"apiserver_request_duration_seconds_sum{{{labels}}} 1.0"]
    return "\n".join(lines)


def _text(*histograms: str) -> str:
    name = "apiserver_request_duration_seconds"
    return f"# HELP {name} x\n# TYPE {name} histogram\n" + "\n".join(histograms) + "\n"


def test_quantile_interpolates_inside_the_bucket_and_stops_at_the_last_finite_bound() -> None:
    assert histogram_quantile(0.5, {0.1: 0, 0.2: 100, math.inf: 100}) == pytest.approx(0.15)
    assert histogram_quantile(0.99, {1.0: 10, 2.0: 10, math.inf: 1000}) == 2.0
    assert math.isnan(histogram_quantile(0.99, {1.0: 0, math.inf: 0}))


def test_window_is_the_difference_of_two_scrapes_and_each_class_takes_its_worst_pair() -> None:
    before = parse_request_durations(_text(
        _histogram("LIST", "pods", {"1": 0, "10": 50, "30": 50, "+Inf": 50}, scope="cluster"),
        _histogram("POST", "pods", {"0.1": 100, "1": 100, "+Inf": 100}),
    ))
    after = parse_request_durations(_text(
        # the window's 100 lists all fell between 10 s and 30 s; the 50 before did not
        _histogram("LIST", "pods", {"1": 0, "10": 50, "30": 150, "+Inf": 150}, scope="cluster"),
        _histogram("LIST", "pods", {"1": 40, "10": 40, "30": 40, "+Inf": 40}),  # namespaced: not it
        _histogram("POST", "pods", {"0.1": 200, "1": 200, "+Inf": 200}),
        _histogram("PATCH", "nodes", {"0.1": 0, "1": 10, "+Inf": 10}, scope="resource", sub="status"),
        _histogram("GET", "pods", {"0.1": 0, "1": 100, "+Inf": 100}, scope="resource"),
        _histogram("GET", "pods", {"0.1": 0, "1": 0, "+Inf": 5}, scope="resource", sub="log"),
    ))
    figures = slis(before, after)
    assert figures["api_list_pods_server_p99_ms"] == 29800.0
    assert figures["api_mutating_server_p99_ms"] == 991.0  # the nodes/status PATCH, not the POST
    assert figures["api_get_server_p99_ms"] == 991.0  # pods/log (streaming) left out


def test_slowest_names_the_pairs_with_the_highest_p99_first() -> None:
    after = parse_request_durations(_text(
        _histogram("POST", "pods", {"0.1": 100, "1": 100, "+Inf": 100}),
        _histogram("PATCH", "nodes", {"0.1": 0, "1": 10, "+Inf": 10}, scope="resource", sub="status"),
        _histogram("WATCH", "pods", {"1": 0, "60": 2, "+Inf": 2}, scope="cluster"),  # long-running
    ))
    assert slowest({}, after, 1) == ["PATCH nodes/status (resource): 991 ms over 10 calls"]
