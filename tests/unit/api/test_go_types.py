"""Bodies with values of the wrong JSON type are refused as kube-apiserver's typed decoder
refuses them: a 400 naming the innermost Go struct, the JSON field path and the Go type
(the fuzz harness found these reaching validation as 500s)."""

from __future__ import annotations

from typing import Any

import pytest

from kprov.cluster.api.resources import REGISTRY
from kprov.cluster.api.schema.go_types import GoTypeError, check_go_types
from kprov.cluster.apiserver.handlers.field_validation import check_types
from kprov.cluster.apiserver.request.status import ApiError

_U = "json: cannot unmarshal "
_FOUND = REGISTRY.get("", "v1", "configmaps")
assert _FOUND is not None
CONFIGMAPS = _FOUND


@pytest.mark.parametrize(
    ("type_name", "obj", "message"),
    [
        (
            "core.ConfigMap",
            {"metadata": {"name": 5}},
            "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.name of type string",
        ),
        (
            "core.ConfigMap",
            {"data": [1]},
            "json: cannot unmarshal array into Go struct field ConfigMap.data of type map[string]string",
        ),
        (
            "core.ConfigMap",
            {"data": {"k": 1}},
            "json: cannot unmarshal number into Go struct field ConfigMap.data of type string",
        ),
        (
            "core.ConfigMap",
            {"metadata": "x"},
            "json: cannot unmarshal string into Go struct field ConfigMap.metadata of type v1.ObjectMeta",
        ),
        (
            "core.ConfigMap",
            {"metadata": {"finalizers": 1}},
            _U + "number into Go struct field ObjectMeta.metadata.finalizers of type []string",
        ),
        (
            "core.ConfigMap",
            {"metadata": {"generation": 1.5}},
            _U + "number 1.5 into Go struct field ObjectMeta.metadata.generation of type int64",
        ),
        (  # the wording a StatefulSet with an unquoted env value gets from kube-apiserver
            "apps.StatefulSet",
            {"spec": {"template": {"spec": {"containers": [{"env": [{"name": "P", "value": 587}]}]}}}},
            _U + "number into Go struct field EnvVar.spec.template.spec.containers.env.value of type string",
        ),
        (
            "core.Service",
            {"spec": {"ports": [{"port": 80, "targetPort": [1]}]}},
            _U + "array into Go struct field ServicePort.spec.ports.targetPort of type int32",
        ),
        (
            "core.ConfigMap",
            {"metadata": {"creationTimestamp": "2020-13-45T99:99:99Z"}},
            'parsing time "2020-13-45T99:99:99Z": month out of range',
        ),
    ],
)
def test_the_first_wrong_type_is_named_as_go_names_it(type_name: str, obj: Any, message: str) -> None:
    with pytest.raises(GoTypeError) as caught:
        check_go_types(type_name, obj)
    assert str(caught.value) == message


def test_nulls_in_lists_and_maps_of_strings_become_go_zero_values() -> None:
    meta = {"name": "n", "finalizers": [None], "labels": {"a": None}}
    obj: dict[str, Any] = {"metadata": meta, "data": None}
    check_go_types("core.ConfigMap", obj)
    assert obj == {"metadata": {"name": "n", "finalizers": [""], "labels": {"a": ""}}, "data": None}


def test_well_typed_objects_and_custom_types_pass() -> None:
    check_go_types(
        "core.Pod",
        {
            "metadata": {"name": "p", "labels": {"a": "b"}, "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"containers": [{"name": "c", "resources": {"limits": {"cpu": 1, "memory": "1Gi"}}}]},
        },
    )
    check_go_types("mygroup.Noxu", {"spec": 5})  # not a known Go type: the CRD schema judges it


def test_the_handler_answers_400_with_upstreams_sentence() -> None:
    with pytest.raises(ApiError) as caught:
        check_types(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": []}})
    assert caught.value.code == 400
    assert caught.value.reason == "BadRequest"
    assert str(caught.value.message) == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal array into'
        " Go struct field ObjectMeta.metadata.name of type string"
    )
    with pytest.raises(ApiError) as caught:
        check_types(CONFIGMAPS, {"apiVersion": "v1", "kind": 7})
    assert caught.value.message == (
        "couldn't get version/kind; json parse error: json: cannot unmarshal number into Go struct"
        " field .kind of type string"
    )


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"metadata": {"name": "n", "labels": {"a": "x", "b": 5}}},
         "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string"),
        ({"metadata": {"name": "n", "finalizers": ["a", True]}},
         "json: cannot unmarshal bool into Go struct field ObjectMeta.metadata.finalizers of type string"),
        ({"data": {"k": ["v"]}},
         "json: cannot unmarshal array into Go struct field ConfigMap.data of type string"),
    ],
)
def test_a_string_element_of_another_type_is_refused_among_strings(obj: dict, message: str) -> None:
    """Strings in a map or list are passed inline; any other value still fails as Go's
    decoder words it (encoding/json names the map or slice field)."""
    with pytest.raises(GoTypeError) as caught:
        check_go_types("core.ConfigMap", obj)
    assert str(caught.value) == message
