"""CRD logic: served resources from a CRD, defaults, validation causes, accepted status,
and the printer columns' JSONPath subset."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kprov.cluster.api.crd.definition import accepted_status, default_crd, infos_from_crd, validate_crd
from kprov.cluster.api.printers.custom import custom_printer, evaluate_path
from kprov.cluster.api.resources import REGISTRY

NOW = "2026-01-01T00:00:00Z"


def _crd(**names: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "kind": "Widget", **names},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object"}},
                    "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas"}},
                },
                {"name": "v1beta1", "served": False, "storage": False, "schema": {"openAPIV3Schema": {}}},
            ],
        },
    }


def _established(crd: dict[str, Any]) -> dict[str, Any]:
    default_crd(crd)
    crd["status"] = accepted_status(crd, {}, NOW)
    return crd


def test_defaults_fill_singular_list_kind_and_conversion():
    crd = _crd()
    default_crd(crd)
    names = crd["spec"]["names"]
    assert names["singular"] == "widget" and names["listKind"] == "WidgetList"
    assert crd["spec"]["conversion"] == {"strategy": "None"}


def test_established_crd_serves_its_served_versions_only():
    infos = infos_from_crd(_established(_crd(shortNames=["wd"], categories=["all"])))
    assert [i.version for i in infos] == ["v1"]
    info = infos[0]
    assert (info.group, info.resource, info.kind, info.list_kind) == (
        "example.com",
        "widgets",
        "Widget",
        "WidgetList",
    )
    assert info.namespaced and info.short_names == ("wd",) and info.categories == ("all",)
    assert info.has_status and info.has_scale
    assert info.custom.storage_version == "v1" and not info.custom.terminating
    assert "metadata.namespace" in info.field_selectors
    registry = REGISTRY.extended(infos)
    assert registry.get("example.com", "v1", "widgets") is info
    assert registry.for_object({"apiVersion": "example.com/v1", "kind": "Widget"}) is info


def test_unestablished_crd_serves_nothing():
    assert infos_from_crd(_crd()) == ()


def test_name_conflicts_are_not_accepted():
    crd = _crd()
    default_crd(crd)
    status = accepted_status(crd, {"widgets": "other.example.com"}, NOW)
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["NamesAccepted"]["status"] == "False"
    assert conditions["NamesAccepted"]["reason"] == "PluralConflict"
    assert conditions["Established"]["status"] == "False"
    kind_clash = accepted_status(crd, {"kind:Widget": "x"}, NOW)
    assert {c["type"]: c["reason"] for c in kind_clash["conditions"]}["NamesAccepted"] == "KindConflict"
    fine = accepted_status(crd, {}, NOW)
    assert fine["acceptedNames"]["plural"] == "widgets" and fine["storedVersions"] == ["v1"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda c: c["metadata"].update(name="wrong.example.com"), "metadata.name"),
        (lambda c: c["spec"].update(scope="Global"), "spec.scope"),
        (lambda c: c["spec"]["versions"][0].update(storage=False), "spec.versions"),
        (lambda c: c["spec"]["names"].update(plural="Widgets"), "spec.names.plural"),
        (lambda c: c["spec"]["names"].pop("kind"), "spec.names.kind"),
        (lambda c: c["spec"]["names"].update(kind="Wid_get"), "spec.names.kind"),
        (lambda c: c["spec"]["names"].update(kind="9Widget"), "spec.names.kind"),
        (lambda c: c["spec"]["names"].update(listKind="Widget List"), "spec.names.listKind"),
        (lambda c: c["spec"]["versions"][0].pop("schema"), "spec.versions[0].schema.openAPIV3Schema"),
    ],
)
def test_invalid_crds_name_the_field(change, field):
    crd = _crd()
    change(crd)
    assert field in [c.field for c in validate_crd(crd)]


@pytest.mark.parametrize("kind", ["e2e-test-crd-openapi-6793-crd", "E2e-test-webhook-deny-crd", "Widget"])
def test_kinds_are_dns1035_labels_in_any_case(kind):
    crd = _crd(kind=kind, listKind=f"{kind}List")
    assert validate_crd(crd) == []


def test_bad_kind_worded_as_upstream():
    (cause,) = validate_crd(_crd(kind="Wid_get"))
    assert cause.field == "spec.names.kind"
    assert "may have mixed case, but should otherwise match: a DNS-1035 label must" in cause.message
    assert cause.message.endswith("regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")


def test_valid_crd_and_immutable_fields():
    crd = _crd()
    assert validate_crd(crd) == []
    changed = copy.deepcopy(crd)
    changed["spec"]["scope"] = "Cluster"
    assert [c.field for c in validate_crd(changed, crd)] == ["spec.scope"]


def test_jsonpath_subset():
    obj = {
        "spec": {"a.b": 1, "items": [{"n": 1}, {"n": 2}]},
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}, {"type": "Synced", "status": "False"}]
        },
    }
    assert evaluate_path(obj, ".spec.items[1].n") == [2]
    assert evaluate_path(obj, "{.spec.items[*].n}") == [1, 2]
    assert evaluate_path(obj, ".spec['a.b']") == [1]
    assert evaluate_path(obj, '.status.conditions[?(@.type=="Ready")].status') == ["True"]
    assert evaluate_path(obj, ".status.conditions[?(@.type!='Ready')].type") == ["Synced"]
    assert evaluate_path(obj, ".spec.missing") == []
    with pytest.raises(ValueError):
        evaluate_path(obj, ".spec.items[")


def test_printer_columns_typed_cells():
    printer = custom_printer(
        (
            {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
            {"name": "Tags", "type": "string", "jsonPath": ".spec.tags"},
            {"name": "Missing", "type": "string", "jsonPath": ".spec.nothing"},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        )
    )
    assert [c.name for c in printer.columns] == ["Name", "Size", "Tags", "Missing", "Age"]
    obj = {"metadata": {"name": "w", "creationTimestamp": NOW}, "spec": {"size": 3, "tags": ["a", "b"]}}
    assert printer.row(obj, lambda t: f"age({t})") == ["w", 3, '["a","b"]', None, f"age({NOW})"]
    default = custom_printer(())
    assert [c.name for c in default.columns] == ["Name", "Age"]


def test_openapi_document_of_a_custom_group_version():
    from kprov.cluster.api.crd.openapi import crd_document, crd_schema_name

    info = infos_from_crd(_established(_crd()))[0]
    assert crd_schema_name(info) == "com.example.v1.Widget"
    doc = crd_document([info])
    schema = doc["components"]["schemas"]["com.example.v1.Widget"]
    assert schema["x-kubernetes-group-version-kind"] == [
        {"group": "example.com", "version": "v1", "kind": "Widget"}
    ]
    assert schema["properties"]["metadata"]["allOf"][0]["$ref"].endswith("meta.v1.ObjectMeta")
    assert schema["properties"]["metadata"]["description"].startswith("Standard object's metadata")
    assert "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" in doc["components"]["schemas"]
    patch = doc["paths"]["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"]["patch"]
    assert any(p["name"] == "fieldValidation" for p in patch["parameters"])
    assert "/apis/example.com/v1/namespaces/{namespace}/widgets/{name}/scale" in doc["paths"]


def test_a_rule_that_selects_a_field_the_schema_lacks_is_refused():
    crd = _crd()
    schema = {"type": "object", "properties": {"spec": {
        "type": "object", "properties": {"x": {"type": "integer"}},
        "x-kubernetes-validations": [{"rule": "self.x >= 0"}, {"rule": "self.z == 100"}]}},
        "x-kubernetes-validations": [{"rule": "self.metadata.name != 'forbidden'"}]}
    crd["spec"]["versions"][0]["schema"] = {"openAPIV3Schema": schema}
    causes = validate_crd(crd)
    assert [c.field for c in causes] == [
        "spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations[1].rule"]
    assert "compilation failed: ERROR: <input>:1:5: undefined field 'z'" in causes[0].message
