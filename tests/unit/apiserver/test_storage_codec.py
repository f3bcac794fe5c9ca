"""Stored values: no resourceVersion inside, Secrets AES-GCM encrypted, key rotation."""

from __future__ import annotations

import base64
import json

import pytest

from kprov.cluster.storage import Codec, EncryptionConfigError, load_encryption_config


def _config(tmp_path, keys: list[tuple[str, bytes]]) -> object:
    doc = {
        "apiVersion": "apiserver.config.k8s.io/v1",
        "kind": "EncryptionConfiguration",
        "resources": [
            {
                "resources": ["secrets"],
                "providers": [
                    {
                        "aesgcm": {
                            "keys": [{"name": n, "secret": base64.b64encode(k).decode()} for n, k in keys]
                        }
                    },
                    {"identity": {}},
                ],
            }
        ],
    }
    path = tmp_path / "enc.yaml"
    path.write_text(json.dumps(doc))
    return load_encryption_config(path)


def test_plain_values_drop_and_restore_resource_version():
    codec = Codec()
    raw = codec.encode("/registry/configmaps/ns/a", {"metadata": {"name": "a", "resourceVersion": "4"}})
    assert b"resourceVersion" not in raw
    assert codec.decode("/registry/configmaps/ns/a", raw, 12)["metadata"]["resourceVersion"] == "12"


def test_secrets_encrypted_and_bound_to_their_key(tmp_path):
    codec = Codec(_config(tmp_path, [("k1", b"a" * 32)]))
    secret = {"metadata": {"name": "s"}, "data": {"p": "c2VjcmV0"}}
    raw = codec.encode("/registry/secrets/ns/s", secret)
    assert raw.startswith(b"k8s:enc:aesgcm:v1:k1:") and b"c2VjcmV0" not in raw
    assert codec.decode("/registry/secrets/ns/s", raw, 3)["data"] == {"p": "c2VjcmV0"}
    with pytest.raises(Exception):  # noqa: B017 - copying the value to another key must not decrypt
        codec.decode("/registry/secrets/ns/other", raw, 3)
    assert not codec.encode("/registry/configmaps/ns/s", secret).startswith(b"k8s:enc")


def test_rotation_new_key_first_old_still_decrypts(tmp_path):
    old = Codec(_config(tmp_path, [("k1", b"a" * 32)]))
    raw_old = old.encode("/registry/secrets/ns/s", {"metadata": {"name": "s"}})
    rotated = Codec(_config(tmp_path, [("k2", b"b" * 32), ("k1", b"a" * 32)]))
    assert rotated.decode("/registry/secrets/ns/s", raw_old, 1)["metadata"]["name"] == "s"
    assert rotated.encode("/registry/secrets/ns/s", {"metadata": {"name": "s"}}).startswith(
        b"k8s:enc:aesgcm:v1:k2:"
    )


def test_bad_config_names_the_field(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "kind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n"
        "  - aesgcm: {keys: [{name: k, secret: c2hvcnQ=}]}\n"
    )
    with pytest.raises(
        EncryptionConfigError, match=r"resources\[0\]\.providers\[0\]\.aesgcm\.keys\[0\]\.secret"
    ):
        load_encryption_config(path)
