"""What an Endpoints object mirrors to: slices by port set and address family."""

from __future__ import annotations

from kprov.cluster.controllers.network.endpointslicemirroring import mirrored_slices


def test_subsets_with_the_same_ports_share_a_slice_and_families_do_not() -> None:
    web = [{"name": "web", "port": 8080}]
    endpoints = {"subsets": [
        {"ports": web, "addresses": [{"ip": "10.0.0.1", "nodeName": "h4", "hostname": "a"}]},
        {"ports": web, "addresses": [{"ip": "10.0.0.1"}, {"ip": "fd00::1"}],
         "notReadyAddresses": [{"ip": "10.0.0.2"}]},
        {"ports": [{"name": "dns", "port": 53, "protocol": "UDP"}],
         "addresses": [{"ip": "not-an-ip"}, {"ip": "10.0.0.3"}]},
    ]}
    slices = mirrored_slices(endpoints)
    web_key = (("web", 8080, "TCP", ""),)
    assert set(slices) == {(web_key, "IPv4"), (web_key, "IPv6"), ((("dns", 53, "UDP", ""),), "IPv4")}
    assert slices[(web_key, "IPv4")] == [  # 10.0.0.1 once, as first listed; not-ready kept as such
        {"addresses": ["10.0.0.1"], "conditions": {"ready": True}, "hostname": "a", "nodeName": "h4"},
        {"addresses": ["10.0.0.2"], "conditions": {"ready": False}},
    ]
    assert slices[(web_key, "IPv6")] == [{"addresses": ["fd00::1"], "conditions": {"ready": True}}]
    assert [e["addresses"] for e in slices[((("dns", 53, "UDP", ""),), "IPv4")]] == [["10.0.0.3"]]


def test_no_subsets_mirror_to_nothing() -> None:
    assert mirrored_slices({"subsets": []}) == {}
    assert mirrored_slices({}) == {}
