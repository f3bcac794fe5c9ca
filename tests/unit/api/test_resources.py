from kprov.cluster.api.resources import REGISTRY, api_version, split_api_version


def test_lookup_by_url_parts_and_kind():
    deployments = REGISTRY.get("apps", "v1", "deployments")
    assert deployments is not None and deployments.kind == "Deployment"
    assert deployments.list_kind == "DeploymentList"
    assert deployments.has_scale and deployments.has_status
    assert REGISTRY.by_kind("Deployment") is deployments
    assert REGISTRY.get("apps", "v1", "nosuch") is None


def test_core_and_events_group_both_serve_event():
    assert api_version(REGISTRY.by_kind("Event")) == "v1"
    assert api_version(REGISTRY.by_kind("Event", "events.k8s.io")) == "events.k8s.io/v1"


def test_subresources_carry_response_kinds():
    pods = REGISTRY.get("", "v1", "pods")
    eviction = pods.subresource("eviction")
    assert (eviction.group, eviction.version, eviction.kind) == ("policy", "v1", "Eviction")
    assert pods.subresource("binding").verbs == ("create",)
    scale = REGISTRY.get("apps", "v1", "statefulsets").subresource("scale")
    assert scale.api_version == "autoscaling/v1" and scale.kind == "Scale"
    assert not REGISTRY.get("apps", "v1", "daemonsets").has_scale


def test_short_names_categories_and_scope():
    assert REGISTRY.get("", "v1", "pods").short_names == ("po",)
    assert "all" in REGISTRY.get("", "v1", "services").categories
    assert not REGISTRY.get("", "v1", "nodes").namespaced
    assert REGISTRY.get("", "v1", "namespaces").group_resource == "namespaces"
    assert REGISTRY.get("apps", "v1", "deployments").group_resource == "deployments.apps"


def test_for_object_and_group_versions():
    info = REGISTRY.for_object({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease"})
    assert info is not None and info.resource == "leases"
    assert REGISTRY.for_object({"apiVersion": "apps/v2", "kind": "Deployment"}) is None
    assert REGISTRY.group_versions()[0] == ("", "v1")
    assert split_api_version("apps/v1") == ("apps", "v1") and split_api_version("v1") == ("", "v1")
