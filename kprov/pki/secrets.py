"""API server secrets that are not certificates: the service-account signing key pair (RSA,
for RS256 tokens, as Kubernetes uses) and the secrets-encryption config (AES-GCM, one
32-byte random key, in the standard ``EncryptionConfiguration`` YAML).
"""

from __future__ import annotations

import base64
import os
from typing import Any

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = [
    "encryption_config",
    "encryption_keys",
    "new_service_account_key",
    "public_key_pem",
    "private_key_pem",
]


def new_service_account_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def encryption_config(key_name: str = "key1", secret: bytes | None = None) -> str:
    """An EncryptionConfiguration encrypting Secrets with AES-GCM (reads fall back to identity)."""
    secret = os.urandom(32) if secret is None else secret
    if len(secret) != 32:
        raise ValueError("AES-GCM key must be 32 bytes")
    doc: dict[str, Any] = {
        "apiVersion": "apiserver.config.k8s.io/v1",
        "kind": "EncryptionConfiguration",
        "resources": [
            {
                "resources": ["secrets"],
                "providers": [
                    {"aesgcm": {"keys": [{"name": key_name, "secret": base64.b64encode(secret).decode()}]}},
                    {"identity": {}},
                ],
            }
        ],
    }
    return yaml.safe_dump(doc, sort_keys=False)


def encryption_keys(config_text: str) -> dict[str, bytes]:
    """The AES-GCM keys (name -> raw bytes) of an EncryptionConfiguration text."""
    doc = yaml.load(config_text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # (libyaml: ~10x)
    keys: dict[str, bytes] = {}
    for res in doc.get("resources", []):
        for provider in res.get("providers", []):
            for k in (provider.get("aesgcm") or {}).get("keys", []):
                keys[k["name"]] = base64.b64decode(k["secret"])
    return keys
