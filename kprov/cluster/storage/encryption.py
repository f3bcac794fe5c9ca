"""Encryption at rest: the ``EncryptionConfiguration`` file and an AES-GCM transformer.

The file is Kubernetes' own format. For each resource list, the *first* provider encrypts
new writes; every listed provider can decrypt, so keys rotate by putting a new key first
and rewriting objects. An encrypted value starts with ``k8s:enc:aesgcm:v1:<key name>:``,
which says which key decrypts it; a value without that prefix is plaintext (``identity``).
The AES-GCM nonce is 12 random bytes stored before the ciphertext; the etcd key is the
associated data, so a value copied to another key does not decrypt.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["EncryptionConfigError", "ResourceEncryption", "ValueTransformer", "load_encryption_config"]

_AESGCM_PREFIX = b"k8s:enc:aesgcm:v1:"
_NONCE_BYTES = 12


class EncryptionConfigError(ValueError):
    """The encryption configuration file is unusable; the message names file and field."""


@dataclass(frozen=True)
class ValueTransformer:
    """Encrypts with the first key (or not at all), decrypts with any named key."""

    write_key: str | None  # None = identity (plaintext) writes
    keys: dict[str, bytes] = field(default_factory=dict)

    def to_storage(self, data: bytes, key: str) -> bytes:
        if self.write_key is None:
            return data
        nonce = os.urandom(_NONCE_BYTES)
        sealed = AESGCM(self.keys[self.write_key]).encrypt(nonce, data, key.encode())
        return _AESGCM_PREFIX + self.write_key.encode() + b":" + nonce + sealed

    def is_stale(self, data: bytes) -> bool:
        """Whether a stored value is not what a write now makes (another key, or plaintext
        under a key, or encrypted under identity): an update must rewrite it even when the
        object is unchanged, as upstream's transformer reports stale reads."""
        if not data.startswith(_AESGCM_PREFIX):
            return self.write_key is not None
        name = data[len(_AESGCM_PREFIX) :].partition(b":")[0]
        return self.write_key is None or name != self.write_key.encode()

    def from_storage(self, data: bytes, key: str) -> bytes:
        if not data.startswith(_AESGCM_PREFIX):
            return data
        name, _, rest = data[len(_AESGCM_PREFIX) :].partition(b":")
        secret = self.keys.get(name.decode(errors="replace"))
        if secret is None:
            raise ValueError(f"{key}: encrypted with unknown key {name.decode(errors='replace')!r}")
        return AESGCM(secret).decrypt(rest[:_NONCE_BYTES], rest[_NONCE_BYTES:], key.encode())


@dataclass(frozen=True)
class ResourceEncryption:
    """Which resources (e.g. ``secrets``, ``configmaps.apps``) get which transformer."""

    by_resource: dict[str, ValueTransformer] = field(default_factory=dict)

    def for_resource(self, group: str, resource: str) -> ValueTransformer | None:
        name = f"{resource}.{group}" if group else resource
        return self.by_resource.get(name)


def _decode_key(path: str, where: str, secret: str) -> bytes:
    try:
        raw = base64.b64decode(secret, validate=True)
    except ValueError as exc:
        raise EncryptionConfigError(f"{path}: {where}.secret is not base64: {exc}") from None
    if len(raw) not in (16, 24, 32):
        raise EncryptionConfigError(f"{path}: {where}.secret must be 16, 24 or 32 bytes, got {len(raw)}")
    return raw


def _transformer(path: str, where: str, providers: list[object]) -> ValueTransformer:
    keys: dict[str, bytes] = {}
    write_key: str | None = None
    first = True
    for i, provider in enumerate(providers):
        if not isinstance(provider, dict) or len(provider) != 1:
            raise EncryptionConfigError(f"{path}: {where}.providers[{i}] must have exactly one provider")
        ((kind, body),) = provider.items()
        if kind == "identity":
            pass
        elif kind == "aesgcm":
            key_list = (body or {}).get("keys") or []
            if not key_list:
                raise EncryptionConfigError(f"{path}: {where}.providers[{i}].aesgcm.keys is empty")
            for j, entry in enumerate(key_list):
                kwhere = f"{where}.providers[{i}].aesgcm.keys[{j}]"
                name = str(entry.get("name", ""))
                if not name or ":" in name:
                    raise EncryptionConfigError(f"{path}: {kwhere}.name must be set and contain no ':'")
                keys[name] = _decode_key(path, kwhere, str(entry.get("secret", "")))
                if first and j == 0:
                    write_key = name
        else:
            raise EncryptionConfigError(
                f"{path}: {where}.providers[{i}]: provider {kind!r} is not supported (use aesgcm or identity)"
            )
        first = False
    return ValueTransformer(write_key=write_key, keys=keys)


def load_encryption_config(path: str | os.PathLike[str]) -> ResourceEncryption:
    """Read an ``EncryptionConfiguration`` YAML file."""
    spath = str(path)
    try:
        doc = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise EncryptionConfigError(f"{spath}: cannot read encryption config: {exc}") from None
    if not isinstance(doc, dict) or doc.get("kind") != "EncryptionConfiguration":
        raise EncryptionConfigError(f"{spath}: expected kind: EncryptionConfiguration")
    by_resource: dict[str, ValueTransformer] = {}
    for i, entry in enumerate(doc.get("resources") or []):
        where = f"resources[{i}]"
        transformer = _transformer(spath, where, list(entry.get("providers") or []))
        for name in entry.get("resources") or []:
            by_resource[str(name)] = transformer
    return ResourceEncryption(by_resource=by_resource)
