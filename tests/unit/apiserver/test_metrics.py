"""The API server's metric bookkeeping: upstream verbs and scopes, cumulative buckets, and an
exposition that prometheus_client's parser reads back with kube-apiserver's names."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from kprov.cluster.api.resources import REGISTRY
from kprov.cluster.apiserver.front.metrics import ENTRY_CACHE_SIZE, ApiMetrics, report_verb, resource_namer
from kprov.cluster.apiserver.request.requestinfo import parse_request_info
from kprov.cluster.apiserver.server import bucket_function
from kprov.cluster.storage import resource_prefix


def _ri(method: str, path: str, watch: bool = False):  # type: ignore[no-untyped-def]
    return parse_request_info(method, path, watch)


def test_verbs_as_upstream_reports_them():
    assert report_verb("GET", _ri("GET", "/api/v1/pods")) == "LIST"
    assert report_verb("GET", _ri("GET", "/api/v1/pods", True)) == "WATCH"
    assert report_verb("GET", _ri("GET", "/api/v1/namespaces/a/pods/x")) == "GET"
    assert report_verb("POST", _ri("POST", "/api/v1/namespaces/a/pods/x/exec")) == "CONNECT"
    apply = _ri("PATCH", "/api/v1/namespaces/a/pods/x")
    assert report_verb("PATCH", apply, "application/apply-patch+yaml") == "APPLY"
    assert report_verb("GET", None) == "GET"


def _namer():  # type: ignore[no-untyped-def]
    prefixes = {resource_prefix(i.group, i.resource) for i in REGISTRY}
    return resource_namer(bucket_function(prefixes), lambda: REGISTRY)


def test_resource_names_from_keys_and_scopes():
    name = _namer()
    assert name("/registry/pods/default/web") == "pods"
    assert name("/registry/pods/default/") == "pods"
    assert name("/registry/apps/deployments/default/web") == "deployments.apps"
    assert name("/registry/namespaces/") == "namespaces"
    assert name("/not-registry/x") is None


def test_exposition_parses_with_upstream_names_and_cumulative_buckets():
    scopes = [("/registry/pods/a/", 2), ("/registry/pods/b/", 3), ("/registry/namespaces/", 2)]
    metrics = ApiMetrics(_namer(), lambda: iter(scopes))
    create = _ri("POST", "/api/v1/namespaces/a/pods")
    metrics.observe_request("POST", create, False, 201, 0.004, "")
    metrics.observe_request("POST", create, False, 201, 0.03, "")
    metrics.observe_request("POST", create, False, 409, 0.002, "")
    metrics.observe_request("GET", None, False, 200, 0.001, "")
    metrics.etcd_request("create", "/registry/pods/a/x", 0.01)
    metrics.watch_sent("", "v1", "pods", 5)
    metrics.inflight["mutating"] = 1
    families = {f.name: f for f in text_string_to_metric_families(metrics.exposition().decode())}
    totals = {
        (s.labels["verb"], s.labels["resource"], s.labels["scope"], s.labels["code"]): s.value
        for s in families["apiserver_request"].samples
    }
    assert totals[("POST", "pods", "resource", "201")] == 2  # (upstream's CleanScope: a create is one object)
    assert totals[("POST", "pods", "resource", "409")] == 1
    assert totals[("GET", "", "", "200")] == 1
    buckets = {
        s.labels["le"]: s.value
        for s in families["apiserver_request_duration_seconds"].samples
        if s.name.endswith("_bucket") and s.labels["verb"] == "POST"
    }
    assert buckets["0.005"] == 2 and buckets["0.025"] == 2 and buckets["0.05"] == 3 and buckets["+Inf"] == 3
    stored = {s.labels["resource"]: s.value for s in families["apiserver_storage_objects"].samples}
    assert stored == {"pods": 5, "namespaces": 2}
    inflight = {
        s.labels["request_kind"]: s.value for s in families["apiserver_current_inflight_requests"].samples
    }
    assert inflight == {"mutating": 1, "readOnly": 0}
    events = families["apiserver_watch_events"].samples
    assert events[0].labels["resource"] == "pods" and events[0].value == 5
    etcd = [s for s in families["etcd_request_duration_seconds"].samples if s.name.endswith("_count")]
    assert etcd[0].labels == {"operation": "create", "type": "pods"} and etcd[0].value == 1


def test_verify_reads_the_error_rate_from_the_exposition():
    from kprov.deploy.verify.metrics_checks import error_rate

    metrics = ApiMetrics(_namer())
    pods = _ri("GET", "/api/v1/namespaces/a/pods")
    for code in (200, 200, 200, 503):
        metrics.observe_request("GET", pods, False, code, 0.01, "")
    names, rate, answers = error_rate(metrics.exposition().decode())
    assert "apiserver_request" in names and answers == 4 and rate == 0.25


def test_custom_resources_are_named_by_resource_and_group():
    from dataclasses import replace

    pods = next(i for i in REGISTRY if i.resource == "pods" and not i.group)
    widgets = replace(pods, group="example.com", resource="widgets", kind="Widget")
    registries = [REGISTRY]
    prefixes = {resource_prefix(i.group, i.resource) for i in REGISTRY}
    name = resource_namer(bucket_function(prefixes), lambda: registries[0])
    assert name("/registry/example.com/widgets/ns/w") == "example.com"  # no such CRD yet
    registries[0] = [*REGISTRY, widgets]  # a CRD created: the registry is swapped
    assert name("/registry/example.com/widgets/ns/w") == "widgets.example.com"
    assert name("/registry/example.com/widgets/ns/") == "widgets.example.com"
    assert name("/registry/pods/default/web") == "pods"


def test_requests_of_many_names_share_their_labels_past_the_entry_cache():
    metrics = ApiMetrics(_namer())
    count = ENTRY_CACHE_SIZE + 5
    for i in range(count):
        metrics.observe_request("GET", _ri("GET", f"/api/v1/namespaces/a/pods/p{i}"), False, 200, 0.001, "")
    families = {f.name: f for f in text_string_to_metric_families(metrics.exposition().decode())}
    gets = [s for s in families["apiserver_request"].samples if s.labels["verb"] == "GET"]
    assert [(s.labels["scope"], s.labels["code"], s.value) for s in gets] == [("resource", "200", count)]
    counts = [s.value for s in families["apiserver_request_duration_seconds"].samples
              if s.name.endswith("_count") and s.labels["verb"] == "GET"]
    assert counts == [count]


def test_etcd_calls_are_counted_a_batch_at_a_time_and_at_every_scrape():
    from kprov.cluster.apiserver.front.metrics import ETCD_BATCH

    metrics = ApiMetrics(_namer())
    for _ in range(ETCD_BATCH - 1):
        metrics.etcd_request("create", "/registry/pods/a/p", 0.002)
    assert metrics.etcd == {}  # waiting
    metrics.etcd_request("get", "/registry/namespaces/a", 0.001)
    assert {labels: sum(h.counts) for labels, h in metrics.etcd.items()} == {
        ("create", "pods"): ETCD_BATCH - 1, ("get", "namespaces"): 1,
    }
    metrics.etcd_request("get", "/registry/namespaces/b", 0.001)
    count = b'etcd_request_duration_seconds_count{operation="get",type="namespaces"} 2.0'
    assert count in metrics.exposition()


def test_requests_are_counted_a_batch_at_a_time_and_at_every_scrape():
    """What a request leaves waits for the batch (or a scrape) and is then counted into the
    buckets, sum and codes Histogram.observe and one count per request would give."""
    from kprov.cluster.apiserver.front.metrics import REQUEST_BATCH, REQUEST_BUCKETS
    from kprov.cluster.client.metrics import Histogram

    metrics = ApiMetrics(_namer())
    create = _ri("POST", "/api/v1/namespaces/a/pods")
    seconds = [0.001 * (i % 97) + 0.0005 * (i % 3) for i in range(REQUEST_BATCH - 1)]
    for i, took in enumerate(seconds):
        metrics.observe_request("POST", create, False, 201 if i % 5 else 409, took, "")
    assert metrics.durations == {} and metrics.codes == {}  # waiting
    seconds.append(0.005)  # (on the first bound: in its bucket)
    metrics.observe_request("POST", create, False, 201, 0.005, "")
    labels = ("POST", "", "", "v1", "pods", "", "resource", "apiserver")
    expected = Histogram(REQUEST_BUCKETS)
    for took in seconds:
        expected.observe(took)
    got = metrics.durations[labels]
    assert got.counts == expected.counts and got.total == pytest.approx(expected.total)
    refused = (REQUEST_BATCH - 1 + 4) // 5  # (i % 5 == 0 among the first REQUEST_BATCH - 1)
    assert metrics.codes[labels] == {201: REQUEST_BATCH - refused, 409: refused}
    metrics.observe_request("GET", None, False, 200, 0.001, "")
    count = (b'apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="",'
             b'scope="",')
    assert count in metrics.exposition()


def test_the_sli_histogram_leaves_out_queue_and_webhook_waits():
    """apiserver_request_sli_duration_seconds: the request's duration less what it waited
    outside the server's own work, upstream's SLI buckets and no dry_run label; the full
    duration stays in apiserver_request_duration_seconds."""
    from kprov.cluster.apiserver.front.metrics import SLI_BUCKETS

    metrics = ApiMetrics(_namer())
    create = _ri("POST", "/api/v1/namespaces/a/pods")
    metrics.observe_request("POST", create, False, 201, 2.5, "", 2.2)  # 2.2 s of it in a queue
    metrics.observe_request("POST", create, True, 201, 0.03, "")
    families = {f.name: f for f in text_string_to_metric_families(metrics.exposition().decode())}
    sli = [s for s in families["apiserver_request_sli_duration_seconds"].samples
           if s.name.endswith("_bucket")]
    assert sli and all("dry_run" not in s.labels for s in sli)
    assert {s.labels["le"] for s in sli} == {repr(b) for b in SLI_BUCKETS} | {"+Inf"}
    served = {s.labels["le"]: s.value for s in sli}
    assert served["0.05"] == 1 and served["0.4"] == 2  # 0.03 and 2.5 - 2.2 = 0.3
    whole = {s.labels["le"]: s.value for s in families["apiserver_request_duration_seconds"].samples
             if s.name.endswith("_bucket") and s.labels["dry_run"] == ""}
    assert whole["2.0"] == 0 and whole["3.0"] == 1  # the full 2.5 s
    total = [s.value for s in families["apiserver_request_sli_duration_seconds"].samples
             if s.name.endswith("_sum")]
    assert total == [pytest.approx(0.33)]


def test_consistent_reads_are_counted_by_resource_and_whether_they_fell_back_to_etcd():
    from kprov.cluster.storage.consistent_reads import ConsistentReads

    reads = ConsistentReads()
    metrics = ApiMetrics(_namer(), consistent_reads=reads)
    reads.record("/registry/pods/", 0.01, success=True, fallback=False)
    reads.record("/registry/pods/", 3.2, success=True, fallback=True)
    reads.record("/registry/pods/", 3.1, success=False, fallback=True)
    families = {f.name: f for f in text_string_to_metric_families(metrics.exposition().decode())}
    counted = {(s.labels["resource"], s.labels["success"], s.labels["fallback"]): s.value
               for s in families["apiserver_watch_cache_consistent_read"].samples}
    assert counted == {
        ("pods", "true", "false"): 1, ("pods", "true", "true"): 1, ("pods", "false", "true"): 1,
    }
    waited = {s.labels["le"]: s.value for s in families["apiserver_watch_cache_read_wait_seconds"].samples
              if s.name.endswith("_bucket")}
    assert waited["0.025"] == 1 and waited["3.0"] == 1 and waited["+Inf"] == 3
