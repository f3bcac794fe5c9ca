"""RFC 6902 appendix A examples, plus the k8s status codes for failures."""

import pytest

from kprov.cluster.api.errors import PatchError
from kprov.cluster.api.patch.json_patch import apply_json_patch


@pytest.mark.parametrize(
    ("doc", "patch", "expected"),
    [
        ({"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}], {"baz": "qux", "foo": "bar"}),
        (
            {"foo": ["bar", "baz"]},
            [{"op": "add", "path": "/foo/1", "value": "qux"}],
            {"foo": ["bar", "qux", "baz"]},
        ),
        ({"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),
        ({"foo": ["bar", "qux", "baz"]}, [{"op": "remove", "path": "/foo/1"}], {"foo": ["bar", "baz"]}),
        (
            {"baz": "qux", "foo": "bar"},
            [{"op": "replace", "path": "/baz", "value": "boo"}],
            {"baz": "boo", "foo": "bar"},
        ),
        (
            {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
            [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
            {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}},
        ),
        (
            {"foo": ["all", "grass", "cows", "eat"]},
            [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
            {"foo": ["all", "cows", "eat", "grass"]},
        ),
        (
            {"foo": "bar"},
            [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
            {"foo": "bar", "child": {"grandchild": {}}},
        ),
        (
            {"foo": ["bar"]},
            [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
            {"foo": ["bar", ["abc", "def"]]},
        ),
        ({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": 10}], {"/": 9, "~1": 10}),
        ({"a": {"b": 1}}, [{"op": "copy", "from": "/a", "path": "/c"}], {"a": {"b": 1}, "c": {"b": 1}}),
        (
            {"metadata": {"labels": {"a/b": "x"}}},
            [{"op": "remove", "path": "/metadata/labels/a~1b"}],
            {"metadata": {"labels": {}}},
        ),
    ],
)
def test_rfc6902_examples(doc, patch, expected):
    assert apply_json_patch(doc, patch) == expected


def test_failing_test_op_is_422_and_leaves_input_alone():
    doc = {"baz": "qux", "foo": ["a", 2, "c"]}
    with pytest.raises(PatchError) as err:
        apply_json_patch(
            doc,
            [{"op": "replace", "path": "/baz", "value": "x"}, {"op": "test", "path": "/baz", "value": "bar"}],
        )
    assert err.value.code == 422
    assert doc["baz"] == "qux"


@pytest.mark.parametrize(
    ("patch", "fragment"),
    [
        ([{"op": "add", "path": "/baz/bat", "value": "qux"}], "does not exist"),
        ([{"op": "remove", "path": "/nope"}], "does not exist"),
        ([{"op": "add", "path": "/foo/5", "value": 1}], "out of bounds"),
        ([{"op": "jump", "path": "/foo"}], "unknown operation"),
        ({"op": "add"}, "JSON array"),
        ([{"op": "add", "path": "/x"}], '"value"'),
    ],
)
def test_malformed_patches_are_400(patch, fragment):
    with pytest.raises(PatchError) as err:
        apply_json_patch({"foo": [1]}, patch)
    assert err.value.code == 400 and fragment in str(err.value)
