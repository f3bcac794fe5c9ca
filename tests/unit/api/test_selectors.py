import pytest

from kprov.cluster.api.resources import REGISTRY
from kprov.cluster.api.selectors import (
    SelectorError,
    label_selector_from_object,
    parse_field_selector,
    parse_label_selector,
)


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ("app=web", {"app": "web"}, True),
        ("app==web", {"app": "web"}, True),
        ("app!=web", {"app": "db"}, True),
        ("app!=web", {}, True),
        ("app=web,tier=front", {"app": "web"}, False),
        ("app in (web, db)", {"app": "db"}, True),
        ("app notin (web,db)", {"app": "db"}, False),
        ("app notin (web,db)", {}, True),
        ("app", {"app": ""}, True),
        ("!app", {"app": "x"}, False),
        ("!app", {}, True),
        ("app=", {"app": ""}, True),
        ("example.com/role=x", {"example.com/role": "x"}, True),
        ("n>3", {"n": "5"}, True),
        ("n<3", {"n": "5"}, False),
        ("", {"anything": "x"}, True),
    ],
)
def test_label_selector_matching(text, labels, expected):
    assert parse_label_selector(text).matches(labels) is expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("app=-x", "values[0][app]"),
        ("app=a b", "expected: ','"),
        ("app in ()", "values set can't be empty"),
        ("a,", "end of selector"),
        ("-bad=x", "key"),
        ("app in (a", "expected ')'"),
        ("n>x", "must be an integer"),
    ],
)
def test_label_selector_errors_name_the_problem(text, fragment):
    with pytest.raises(SelectorError) as err:
        parse_label_selector(text)
    assert fragment in str(err.value)


def test_selector_object_form_and_string():
    selector = label_selector_from_object(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]}],
        }
    )
    assert selector.matches({"app": "web", "tier": "a"})
    assert not selector.matches({"app": "web", "tier": "c"})
    assert str(selector) == "app=web,tier in (a,b)"
    assert not label_selector_from_object(None).matches({})
    assert label_selector_from_object({}).matches({"x": "y"})
    with pytest.raises(SelectorError, match="not a valid label selector operator"):
        label_selector_from_object({"matchExpressions": [{"key": "a", "operator": "Near"}]})


POD = {
    "metadata": {"name": "p1", "namespace": "default"},
    "spec": {"nodeName": "n1", "schedulerName": "default-scheduler"},
    "status": {"phase": "Running"},
}


def test_field_selector_as_describe_node_sends_it():
    selector = parse_field_selector("spec.nodeName=n1,status.phase!=Succeeded,status.phase!=Failed")
    assert selector.matches(POD)
    assert not parse_field_selector("spec.nodeName=n2").matches(POD)
    assert parse_field_selector("spec.nodeName==n1").matches(POD)
    assert parse_field_selector("spec.nodeName=").matches({"spec": {}})
    assert parse_field_selector("metadata.name=p1").value_for("metadata.name") == "p1"


def test_field_selector_escapes_and_events():
    assert parse_field_selector(r"metadata.name=a\,b").requirements[0].value == "a,b"
    event = {
        "apiVersion": "v1",
        "involvedObject": {"name": "x", "namespace": ""},
        "type": "Normal",
        "source": {"component": "kubelet"},
    }
    assert parse_field_selector("involvedObject.name=x,involvedObject.namespace=").matches(event)
    assert parse_field_selector("source=kubelet,type=Normal").matches(event)
    # an event written through events.k8s.io/v1 has no source: its reporting controller is
    reported = {"apiVersion": "v1", "kind": "Event", "source": {}, "reportingComponent": "ctl"}
    assert parse_field_selector("source=ctl").matches(reported)
    assert not parse_field_selector("source=kubelet").matches(reported)


def test_field_selector_rejects_unsupported_fields():
    with pytest.raises(SelectorError, match="field label not supported: spec.foo"):
        parse_field_selector("spec.foo=x", REGISTRY.get("", "v1", "pods"))
    parse_field_selector("spec.schedulerName=default-scheduler", REGISTRY.get("", "v1", "pods"))
    with pytest.raises(SelectorError, match="can't understand"):
        parse_field_selector("metadata.name")
    assert parse_field_selector("spec.unschedulable=false").matches({"spec": {}})
