"""Base64 of []byte fields decoded as Go's encoding/json decodes it."""

from __future__ import annotations

import pytest

from kprov.cluster.api.defaults import apply_defaults
from kprov.cluster.api.errors import ApiError
from kprov.cluster.api.resources import REGISTRY
from kprov.cluster.api.validation.core import validate
from kprov.cluster.api.wire.go_base64 import canonical_base64, go_std_decode


def test_line_breaks_are_skipped() -> None:
    assert go_std_decode("aGVs\nbG8=\r\n") == b"hello"
    assert canonical_base64("aGVs\nbG8=\n") == "aGVsbG8="


@pytest.mark.parametrize(
    ("text", "offset"),
    [("aGVsbG8", 4), ("a", 0), ("ab$d", 2), ("aGk=x", 4), ("a===", 1), ("aG=k", 2), ("aGVs\r\nbG8", 6)],
)
def test_errors_name_the_byte_go_names(text: str, offset: int) -> None:
    with pytest.raises(ValueError, match=f"^illegal base64 data at input byte {offset}$"):
        go_std_decode(text)


def test_secret_data_wrapped_over_lines_is_stored_on_one_line() -> None:
    info = REGISTRY.get("", "v1", "secrets")
    assert info is not None
    secret = {"metadata": {"name": "s"}, "data": {"k": "aGVs\nbG8=\n"}}
    apply_defaults(info, secret)
    assert secret["data"] == {"k": "aGVsbG8="}


def test_configmap_binary_data_go_cannot_decode_is_a_400() -> None:
    info = REGISTRY.get("", "v1", "configmaps")
    assert info is not None
    with pytest.raises(ApiError) as caught:
        apply_defaults(info, {"metadata": {"name": "c"}, "binaryData": {"k": "aGVsbG8"}})
    assert (caught.value.code, caught.value.reason) == (400, "BadRequest")
    assert str(caught.value) == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: illegal base64 data at input byte 4'
    )


def test_validation_alone_still_refuses_undecodable_secret_data() -> None:
    info = REGISTRY.get("", "v1", "secrets")
    assert info is not None
    causes = validate(info, {"metadata": {"name": "s", "namespace": "d"}, "data": {"k": "!!notbase64"}})
    assert [str(c) for c in causes] == [
        'data[k]: Invalid value: "<secret contents redacted>": illegal base64 data'
    ]
