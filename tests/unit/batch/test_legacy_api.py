"""v1 ReplicationControllers and PodTemplates at the API layer: upstream's defaults (selector
and labels from the template), validation wording and the table columns."""

import datetime as dt

from kprov.cluster.api.defaults import apply_defaults
from kprov.cluster.api.printers.tables import column_definitions, to_table
from kprov.cluster.api.resources import REGISTRY
from kprov.cluster.api.validation.core import validate

RCS = REGISTRY.get("", "v1", "replicationcontrollers")
TEMPLATES = REGISTRY.get("", "v1", "podtemplates")
NOW = dt.datetime(2024, 1, 10, 12, 0, 0, tzinfo=dt.UTC)


def rc(**spec):
    return {
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
            **spec,
        },
    }


def messages(info, obj):
    apply_defaults(info, obj)
    return [str(c) for c in validate(info, obj, None)]


def test_rc_served_with_scale_and_short_name() -> None:
    assert RCS is not None and RCS.has_scale and RCS.short_names == ("rc",)


def test_rc_defaults_from_template_labels() -> None:
    obj = rc()
    assert messages(RCS, obj) == []
    assert obj["spec"]["selector"] == {"app": "web"} and obj["spec"]["replicas"] == 1
    assert obj["metadata"]["labels"] == {"app": "web"}
    assert obj["spec"]["template"]["spec"]["restartPolicy"] == "Always"


def test_rc_validation() -> None:
    assert messages(RCS, rc(selector={"app": "other"})) == [
        'spec.template.metadata.labels: Invalid value: {"app":"web"}: '
        "`selector` does not match template `labels`"
    ]
    obj = rc(replicas=-1)
    obj["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    assert messages(RCS, obj) == [
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"',
    ]
    assert messages(RCS, {"metadata": {"name": "x", "namespace": "d"}, "spec": {}}) == [
        "spec.selector: Required value",
        "spec.template: Required value",
    ]


def test_rc_and_podtemplate_tables() -> None:
    obj = rc(replicas=3)
    apply_defaults(RCS, obj)
    obj["metadata"]["creationTimestamp"] = "2024-01-10T11:59:00Z"
    obj["status"] = {"replicas": 3, "readyReplicas": 2}
    cells = to_table(RCS, [obj], now=NOW)["rows"][0]["cells"]
    assert cells == ["web", 3, 3, 2, "60s", "c", "nginx", "app=web"]
    columns = [c["name"] for c in column_definitions(TEMPLATES)]
    assert columns == ["Name", "Containers", "Images", "Pod Labels"]
    template = {"metadata": {"name": "t", "namespace": "d"}, "template": rc()["spec"]["template"]}
    assert messages(TEMPLATES, template) == []
    assert to_table(TEMPLATES, [template], now=NOW)["rows"][0]["cells"] == ["t", "c", "nginx", "app=web"]
