"""Fuzz findings: bodies that decode into bombs are refused where they are decoded, and a
Status echoing a path that is not UTF-8 is still written."""

from __future__ import annotations

import json
from urllib.parse import unquote

import pytest
import yaml

from kprov.cluster.api.errors import PatchError
from kprov.cluster.api.patch.dispatch import JSON_PATCH, MERGE_PATCH, decode_patch_body
from kprov.cluster.api.wire.bounded_decode import MAX_DEPTH, BodyTooDeep, check_depth, load_yaml
from kprov.cluster.apiserver.request.negotiation import decode_body, json_response
from kprov.cluster.apiserver.request.status import StatusError, method_not_supported, status_body


def _bomb(levels: int) -> bytes:
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x"]']
    lines += [f"a{n}: &a{n} [{','.join([f'*a{n - 1}'] * 9)}]" for n in range(1, levels)]
    return ("\n".join(lines) + "\n").encode()


def test_a_yaml_alias_bomb_is_refused_before_it_expands() -> None:
    with pytest.raises(yaml.YAMLError, match="yaml: document contains excessive aliasing"):
        load_yaml(_bomb(12))  # 9**12 nodes once expanded


@pytest.mark.parametrize(("text", "anchor"), [("&a [*a]", "a"), ("x: &b {y: [1, *b]}", "b")])
def test_an_anchor_aliased_inside_itself_is_refused_not_walked_forever(text: str, anchor: str) -> None:
    # it used to spin the event loop: the count re-entered the cycle without end
    with pytest.raises(yaml.YAMLError, match=f"yaml: anchor '{anchor}' value contains itself"):
        load_yaml(text)


def test_small_aliasing_and_plain_yaml_still_load() -> None:
    assert load_yaml(_bomb(3))["a2"][0][0] == ["x"] * 9
    assert load_yaml("a: &x [1]\nb: [*x, *x]\n") == {"a": [1], "b": [[1], [1]]}  # shared, not cyclic
    assert load_yaml("a: 1\nb: [x, y]\n") == {"a": 1, "b": ["x", "y"]}
    assert load_yaml("") is None


def test_yaml_nested_past_the_recursion_limit_is_a_yaml_error() -> None:
    with pytest.raises(yaml.YAMLError, match="yaml: exceeded max depth"):
        load_yaml("[" * 100_000 + "]" * 100_000)


def test_values_deeper_than_the_encoder_writes_are_refused() -> None:
    deep = "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)
    with pytest.raises(BodyTooDeep, match="exceeded max depth"):
        check_depth(yaml.safe_load(deep), deep)
    shallow = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    check_depth(yaml.safe_load(shallow), shallow)


@pytest.mark.parametrize(
    ("body", "content_type", "words"),
    [
        (b'{"x":' * 300 + b"1" + b"}" * 300, "application/json", "not valid JSON: exceeded max depth"),
        (b"[" * 5000 + b"]" * 5000, "application/yaml", "not valid YAML: yaml: exceeded max depth"),
        (_bomb(12), "application/yaml", "excessive aliasing"),
        (b"kind: ConfigMap\ndata: &d {k: [*d]}\n", "application/yaml", "anchor 'd' value contains itself"),
        (
            b"k8s\x00\n\x0f\xe8\x02v1\x12\xa8Config\x10ap\x12g\n\x11\n\x02pb",
            "application/vnd.kubernetes.protobuf",
            "wrong wire type",
        ),
        (
            b"k8s\x00\n\x0f\n\x02v1\x12\t\x86onfig\xd9a_\x12\x06\n\x04\n\x02pb",
            "application/vnd.kubernetes.protobuf",
            "not a valid protobuf object",
        ),
    ],
)
def test_bad_bodies_are_400_not_500(body: bytes, content_type: str, words: str) -> None:
    with pytest.raises(StatusError) as caught:
        decode_body(body, content_type)
    assert caught.value.code == 400 and words in str(caught.value)


@pytest.mark.parametrize(
    "body", [b'{"a":"\xb2"}', b"[" * 2000 + b"]" * 2000, b'{"a":' * 300 + b"1" + b"}" * 300]
)
def test_undecodable_patches_are_patch_errors(body: bytes) -> None:
    for content_type in (JSON_PATCH, MERGE_PATCH):
        with pytest.raises(PatchError, match="error decoding patch"):
            decode_patch_body(body, content_type)


def test_a_status_echoing_a_path_that_is_not_utf8_is_written_with_replacement_characters() -> None:
    path = unquote("/apis/%ff/v1", errors="surrogateescape")  # as the HTTP front decodes it
    reply = json_response(status_body(method_not_supported("OPTIONS", path)), 405)
    assert reply.status == 405 and isinstance(reply.body, bytes)
    assert "(OPTIONS /apis/\ufffd/v1)" in json.loads(reply.body)["message"]


def test_tab_indented_json_sent_as_yaml_decodes_as_go_yaml_takes_it() -> None:
    body = b'{\n\t\t"apiVersion": "v1",\n\t\t"kind": "Pod",\n\t\t"spec": {"n": [1, 2.5]}\n\t}'
    with pytest.raises(yaml.YAMLError):  # what PyYAML alone does with it
        yaml.safe_load(body)
    assert load_yaml(body) == {"apiVersion": "v1", "kind": "Pod", "spec": {"n": [1, 2.5]}}
    assert decode_body(body, "application/yaml")["kind"] == "Pod"
    assert load_yaml("{a: 1, b: [x]}") == {"a": 1, "b": ["x"]}  # a flow mapping that is not JSON


def test_a_flow_document_with_tabs_and_a_trailing_comma_decodes_as_go_yaml_takes_it() -> None:
    body = (b'{\n\t"kind": "Deployment",\n\t"spec": {\n\t\t"containers": [{\n\t\t\t"name": "n",\n'
            b"\t\t}]\n\t}\n}")
    assert load_yaml(body) == {"kind": "Deployment", "spec": {"containers": [{"name": "n"}]}}
    with pytest.raises(yaml.YAMLError):  # block YAML keeps its rule: no tab indentation
        load_yaml(b"a:\n\tb: 1\n")
