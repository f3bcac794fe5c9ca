"""kprov-metrics-server's request-header authentication and its published registration."""

from __future__ import annotations

from multidict import CIMultiDict

from kprov.cluster.metrics_server.auth import RequestHeaderConfig, caller_from
from kprov.cluster.metrics_server.objects import answer
from kprov.cluster.metrics_server.register import Registration, apiservice_object, slice_object

PUBLISHED = {
    "requestheader-client-ca-file": "PEM",
    "requestheader-allowed-names": '["front-proxy-client"]',
    "requestheader-username-headers": '["X-Remote-User"]',
    "requestheader-group-headers": '["X-Remote-Group"]',
    "requestheader-extra-headers-prefix": '["X-Remote-Extra-"]',
}


def _cert(cn: str) -> dict:
    return {"subject": ((("commonName", cn),),)}


def test_the_front_proxy_names_the_caller():
    config = RequestHeaderConfig.from_configmap(PUBLISHED)
    headers = CIMultiDict([("X-Remote-User", "alice"), ("X-Remote-Group", "dev"), ("X-Remote-Group", "ops"),
                           ("X-Remote-Extra-Scopes%2Fa", "x")])
    caller = caller_from(config, _cert("front-proxy-client"), headers)
    assert caller is not None
    assert (caller.name, caller.groups, caller.extra) == ("alice", ("dev", "ops"), {"scopes/a": ["x"]})


def test_other_certificates_and_missing_users_are_refused():
    config = RequestHeaderConfig.from_configmap(PUBLISHED)
    headers = CIMultiDict([("X-Remote-User", "alice")])
    assert caller_from(config, _cert("someone-else"), headers) is None
    assert caller_from(config, None, headers) is None
    assert caller_from(config, _cert("front-proxy-client"), CIMultiDict()) is None


def test_registration_objects():
    reg = Registration("h1", "10.0.0.1", 4443, b"PEM")
    piece = slice_object(reg)
    assert piece["metadata"]["labels"]["kubernetes.io/service-name"] == "metrics-server"
    assert piece["ports"] == [{"name": "https", "port": 4443, "protocol": "TCP"}]
    spec = apiservice_object(b"PEM")["spec"]
    assert spec["service"] == {"name": "metrics-server", "namespace": "kube-system", "port": 443}
    assert (spec["groupPriorityMinimum"], spec["versionPriority"]) == (100, 100)


def test_not_found_wording():
    code, body = answer({}, "pods", "default", "absent")
    assert code == 404 and body["message"] == 'pods.metrics.k8s.io "absent" not found'
