"""The ValidatingAdmissionPolicy type check (status.typeChecking) against the served
OpenAPI v3 schemas: upstream's warning text and caret line for a typo'd field, nothing for
correct paths, wildcards skip checking, and the CEL parser it rests on."""

from __future__ import annotations

from typing import Any

import pytest

from kprov.cluster.api.cel.parser import Call, CelSyntaxError, Ident, Index, Select, parse
from kprov.cluster.api.cel.typecheck import GroupVersionKind, KindSchema, check_policy, kinds_to_check
from kprov.cluster.api.schema.openapi_v3 import openapi_v3_document

_KINDS = {
    ("apps", "v1", "deployments"): ("apps", "v1", "Deployment"),
    ("apps", "v1", "replicasets"): ("apps", "v1", "ReplicaSet"),
    ("", "v1", "pods"): ("", "v1", "Pod"),
    ("", "v1", "configmaps"): ("", "v1", "ConfigMap"),
}


def _kinds_for(group: str, version: str, resource: str) -> list[GroupVersionKind]:
    found = _KINDS.get((group, version, resource))
    return [found] if found else []


def _schema(gvk: GroupVersionKind) -> KindSchema:
    group, version, kind = gvk
    schemas = openapi_v3_document(group, version)["components"]["schemas"]
    for schema in schemas.values():
        for entry in schema.get("x-kubernetes-group-version-kind") or ():
            if (entry.get("group", ""), entry["version"], entry["kind"]) == gvk:
                return KindSchema(schema, schemas)
    raise AssertionError(f"no schema for {gvk}")


def _policy(
    *validations: dict[str, str], resources: tuple[str, ...] = ("deployments",), **spec: Any
) -> dict[str, Any]:
    rule = {
        "apiGroups": ["apps"],
        "apiVersions": ["v1"],
        "operations": ["CREATE"],
        "resources": list(resources),
    }
    return {
        "metadata": {"name": "p"},
        "spec": {"matchConstraints": {"resourceRules": [rule]}, "validations": list(validations), **spec},
    }


def _check(policy: dict[str, Any], params: KindSchema | None = None) -> list[dict[str, str]]:
    kinds = [(gvk, _schema(gvk)) for gvk in kinds_to_check(policy, _kinds_for)]
    return check_policy(policy, kinds, params)


def test_typo_gives_upstreams_warning_with_field_ref_and_caret() -> None:
    warnings = _check(_policy({"expression": "object.replicas > 1"}))
    assert warnings == [
        {
            "fieldRef": "spec.validations[0].expression",
            "warning": "apps/v1, Kind=Deployment: ERROR: <input>:1:7: undefined field 'replicas'\n"
            " | object.replicas > 1\n"
            " | ......^\n",
        }
    ]


def test_correct_paths_give_no_warning() -> None:
    policy = _policy(
        {
            "expression": "object.spec.replicas <= 5 && object.metadata.labels.app == 'x' && "
            "object.spec.template.spec.containers.all(c, c.image.startsWith('r/') && "
            "has(c.resources) && c.ports.exists(p, p.containerPort > 0)) && "
            "has(object.metadata.namespace) && object.status.conditions[0].type != ''",
            "messageExpression": "'replicas: ' + string(object.spec.replicas)",
        },
        {"expression": "oldObject == null || oldObject.spec.paused == object.spec.paused"},
    )
    assert _check(policy) == []


def test_every_matched_kind_is_checked_and_each_block_named() -> None:
    policy = _policy(
        {"expression": "true", "messageExpression": "'bad ' + object.spec.templat.metadata.name"},
        resources=("replicasets", "deployments", "deployments/scale"),
    )
    warnings = _check(policy)
    assert [w["fieldRef"] for w in warnings] == ["spec.validations[0].messageExpression"]
    block = (
        "ERROR: <input>:1:21: undefined field 'templat'\n | 'bad ' + object.spec.templat.metadata.name\n | "
        + "." * 20
        + "^\n"
    )
    assert warnings[0]["warning"] == (f"apps/v1, Kind=Deployment: {block}\napps/v1, Kind=ReplicaSet: {block}")


def test_wildcards_skip_checking_as_upstream() -> None:
    typo = {"expression": "object.replicas > 1"}
    wildcard_group = _policy(typo)
    wildcard_group["spec"]["matchConstraints"]["resourceRules"][0]["apiGroups"] = ["*"]
    assert _check(wildcard_group) == []
    assert _check(_policy(typo, resources=("*",))) == []
    assert _check(_policy(typo, resources=("deployments/status",))) == []
    assert kinds_to_check({"spec": {}}, _kinds_for) == []


def test_several_errors_in_one_expression_are_listed_in_order() -> None:
    warning = _check(
        _policy(
            {"expression": "object.spec.template.spec.containers.all(c, c.imagex == '' || has(c.resourcez))"}
        )
    )[0]["warning"]
    assert warning.count("ERROR: ") == 2
    assert "<input>:1:46: undefined field 'imagex'" in warning
    assert "<input>:1:66: undefined field 'resourcez'" in warning  # has(): at its '(' as cel-go
    assert warning.index("imagex") < warning.index("resourcez")


def test_variables_are_typed_by_their_expression() -> None:
    policy = _policy(
        {"expression": "variables.spec.replicaz > 0"},
        {"expression": "variables.replicas > 2 && variables.names.all(n, n != '')"},
        variables=[
            {"name": "spec", "expression": "object.spec"},
            {"name": "replicas", "expression": "variables.spec.replicas"},
            {"name": "names", "expression": "object.spec.template.spec.containers.map(c, c.name)"},
        ],
    )
    warnings = _check(policy)
    assert [w["fieldRef"] for w in warnings] == ["spec.validations[0].expression"]
    assert "<input>:1:15: undefined field 'replicaz'" in warnings[0]["warning"]


def test_params_are_typed_by_the_param_kind() -> None:
    params = _schema(("", "v1", "ConfigMap"))
    policy = _policy(
        {"expression": "object.spec.replicas <= int(params.data.max)"},
        {"expression": "params.dta.max == '1'"},
        paramKind={"apiVersion": "v1", "kind": "ConfigMap"},
    )
    warnings = _check(policy, params)
    assert [w["fieldRef"] for w in warnings] == ["spec.validations[1].expression"]
    assert "<input>:1:7: undefined field 'dta'" in warnings[0]["warning"]


def test_caret_line_on_a_later_line_and_after_wide_characters() -> None:
    warning = _check(_policy({"expression": "'é' == 'é' &&\n  object.spek.replicas > 1"}))[0]["warning"]
    assert (
        "ERROR: <input>:2:9: undefined field 'spek'\n |   object.spek.replicas > 1\n | ........^\n" in warning
    )
    wide = _check(_policy({"expression": "'é' != object.spek"}))[0]["warning"]
    assert wide.endswith(" | 'é' != object.spek\n | .\uff0e" + "." * 11 + "^\n")  # cel-go's wide dot


def test_free_form_and_maps_never_warn() -> None:
    policy = _policy(
        {
            "expression": "object.metadata.annotations.anything == 'x' && "
            "object.spec.template.spec.containers[0].resources.limits.cpu == '1' && "
            "object.spec.strategy.rollingUpdate.maxSurge == 1"
        },
    )
    assert _check(policy) == []


@pytest.mark.parametrize(
    "text",
    [
        "a.b.c",
        "a.?b",
        "has(a.b)",
        "[1, 2u, 3.5, -4, 0x1F][0]",
        "{'a': b, ?'c': d}.a",
        "x ? y : z || !w && v in [1]",
        "r'raw\\d' + b'bytes' + '''multi\nline''' + \"d\\\"q\"",
        "google.protobuf.Int64Value{value: 1}",
        "a.b(c, d).e[f]  // comment",
    ],
)
def test_parser_reads_cel(text: str) -> None:
    parse(text)


@pytest.mark.parametrize("text", ["a.", "(a", "a +", "namespace", "a b", "{'a' 1}"])
def test_parser_refuses_what_is_not_cel(text: str) -> None:
    with pytest.raises(CelSyntaxError):
        parse(text)


def test_parser_positions_are_cel_gos() -> None:
    node = parse("object.spec[0].all(c, has(c.x))")
    assert isinstance(node, Call) and node.function == "all" and node.pos == 18
    assert isinstance(node.target, Index) and node.target.pos == 11
    assert isinstance(node.target.operand, Select) and node.target.operand.pos == 6
    has = node.args[1]
    assert isinstance(has, Call) and has.function == "has" and has.pos == 25
    assert isinstance(node.args[0], Ident)


def test_bound_and_comprehension_names_shadow_the_roots() -> None:
    policy = _policy(
        {"expression": "cel.bind(s, object.spec, s.replicaz > 0)"},
        {"expression": "[1].all(object, object.anything > 0) && cel.bind(object, 1, object.x == 1)"},
        {"expression": "{'a': 1}.all(k, v, object.x == v)"},
    )
    warnings = _check(policy)
    assert [w["fieldRef"] for w in warnings] == [
        "spec.validations[0].expression",
        "spec.validations[2].expression",
    ]
    assert "<input>:1:27: undefined field 'replicaz'" in warnings[0]["warning"]
    assert "<input>:1:26: undefined field 'x'" in warnings[1]["warning"]


def test_operator_overloads_on_known_scalars_as_upstreams_e2e() -> None:
    policy = _policy(
        {
            "expression": "object.spec.replicas > '1'",
            "messageExpression": "'wants replicas > 1, got ' + object.spec.replicas",
        }
    )
    warnings = _check(policy)
    assert [w["fieldRef"] for w in warnings] == [
        "spec.validations[0].expression",
        "spec.validations[0].messageExpression",
    ]
    assert warnings[0]["warning"] == (
        "apps/v1, Kind=Deployment: ERROR: <input>:1:22: found no matching overload for '_>_' applied to "
        "'(int, string)'\n | object.spec.replicas > '1'\n | .....................^\n"
    )
    assert (
        "<input>:1:28: found no matching overload for '_+_' applied to '(string, int)'"
        in warnings[1]["warning"]
    )


def test_operators_upstream_accepts_give_no_warning() -> None:
    policy = _policy(
        {"expression": "object.spec.replicas > 1.5 && object.spec.replicas * 2 - 1 <= 10"},
        {"expression": "object.metadata.name + '-x' > 'a' && object.spec.paused >= false"},
        {
            "expression": "object.spec.strategy.rollingUpdate.maxSurge > '1' && "
            "object.metadata.uid + 1 > 0 || true"
        },
    )
    warnings = _check(policy)
    assert [w["fieldRef"] for w in warnings] == ["spec.validations[2].expression"]
    assert "'_+_' applied to '(string, int)'" in warnings[0]["warning"]  # maxSurge is int-or-string: no word
    assert warnings[0]["warning"].count("ERROR") == 1
