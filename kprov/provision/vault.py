"""Ansible Vault: decrypting what ``ansible-vault`` encrypted, with the operator's secrets.

The format is ansible-core's ``VaultAES256`` (format 1.1, or 1.2 with a vault id in the
header): the envelope's lines after the header are hex of ``hex(salt)\\nhmac\\nhex(ciphertext)``;
PBKDF2-HMAC-SHA256 (10,000 iterations) of the password and salt gives 80 bytes: the AES
key, the HMAC key and the CTR counter's start; the HMAC-SHA256 of the ciphertext is checked
(constant time) before AES-256-CTR decrypts it and the PKCS#7 padding is taken off. The
secrets with the envelope's vault id are tried first, then every other (ansible-core's
default, ``vault_id_match`` off).

Secrets come from ``--vault-password-file`` (a file's first line, or what an executable
prints), ``--vault-id label@file|prompt`` and ``--ask-vault-pass``; they live in the run's
:class:`Vault` only and are never printed. ``!vault`` values load as
``yamlfile.EncryptedValue`` (the ciphertext; no secret is needed to load a file) and are
decrypted when templated (templates.VarScope); a whole vars file that ansible-vault
encrypted is decrypted when it is read (:meth:`Vault.load`).
"""

from __future__ import annotations

import binascii
import getpass
import hmac
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from kprov.provision.errors import ProvisionError
from kprov.provision.yamlfile import load_yaml_text

__all__ = ["HEADER", "Vault", "VaultError", "VaultSecret", "is_encrypted", "secret_from_source",
           "vault_secrets"]

HEADER = "$ANSIBLE_VAULT"


class VaultError(ProvisionError):
    """Vault data that cannot be decrypted (no secret, a wrong one, a damaged envelope)."""


@dataclass(frozen=True)
class VaultSecret:
    vault_id: str
    password: bytes = field(repr=False)


def is_encrypted(text: str) -> bool:
    return text.lstrip().startswith(HEADER + ";")


def secret_from_source(vault_id: str, source: str) -> VaultSecret:
    """A secret from ``prompt`` (asked on the terminal) or a file (an executable one is run and
    its output taken), as ansible-core's vault secrets read them (surrounding whitespace off)."""
    if source == "prompt":
        label = f"Vault password ({vault_id}): " if vault_id != "default" else "Vault password: "
        return VaultSecret(vault_id, getpass.getpass(label).encode())
    path = Path(source).expanduser()
    try:
        if os.access(path, os.X_OK) and path.is_file():
            done = subprocess.run([str(path)], capture_output=True, check=False, stdin=subprocess.DEVNULL)
            if done.returncode != 0:
                raise VaultError(f"Vault password client script {path} returned non-zero ({done.returncode})")
            data = done.stdout
        else:
            data = path.read_bytes()
    except OSError as err:
        raise VaultError(f"The vault password file {path} was not found or cannot be read: "
                         f"{err.strerror}") from None
    return VaultSecret(vault_id, data.strip())


def vault_secrets(vault_ids: list[str]) -> list[VaultSecret]:
    """The secrets ``--vault-id`` values name: ``label@source`` or ``source`` (label "default");
    a source is a password file (or script) or ``prompt``."""
    secrets = []
    for entry in vault_ids:
        label, at, source = entry.partition("@")
        secrets.append(secret_from_source(label if at else "default", source if at else entry))
    return secrets


class Vault:
    """A run's vault secrets and what decrypts with them."""

    def __init__(self, secrets: list[VaultSecret] | None = None) -> None:
        self.secrets = list(secrets or [])

    def decrypt(self, envelope: str, where: str) -> str:
        lines = envelope.strip().splitlines()
        header = lines[0].strip().split(";") if lines else []
        if len(header) < 3 or header[0] != HEADER:
            raise VaultError(f"{where}: input is not vault encrypted data")
        if header[2].strip() != "AES256":
            raise VaultError(f"{where}: {header[2].strip()} cipher could not be found")
        if not self.secrets:
            raise VaultError(f"{where}: A vault password must be specified to decrypt data "
                             "(--vault-password-file, --vault-id or --ask-vault-pass)")
        vault_id = header[3].strip() if len(header) >= 4 else None
        try:
            salt, mac, ciphertext = _parse("".join(line.strip() for line in lines[1:]))
        except (ValueError, binascii.Error) as err:
            raise VaultError(f"{where}: Vault format unhexlify error: {err}") from None
        ordered = sorted(self.secrets, key=lambda s: s.vault_id != vault_id)
        for secret in ordered:
            plain = _decrypt(secret.password, salt, mac, ciphertext)
            if plain is not None:
                return plain.decode("utf-8", errors="surrogateescape")
        raise VaultError(f"{where}: Decryption failed (no vault secrets were found that could decrypt)")

    def load(self, text: str, where: str) -> Any:
        """A YAML document, decrypted first when ansible-vault encrypted the whole file."""
        return load_yaml_text(self.decrypt(text, where) if is_encrypted(text) else text, where)


def _parse(body: str) -> tuple[bytes, bytes, bytes]:
    inner = binascii.unhexlify(body.encode())
    salt_hex, mac_hex, cipher_hex = inner.split(b"\n", 2)
    unhex = binascii.unhexlify
    return unhex(salt_hex), unhex(mac_hex.strip()), unhex(cipher_hex.strip())


def _decrypt(password: bytes, salt: bytes, mac: bytes, ciphertext: bytes) -> bytes | None:
    derived = PBKDF2HMAC(algorithm=hashes.SHA256(), length=80, salt=salt, iterations=10000).derive(password)
    key, mac_key, counter = derived[:32], derived[32:64], derived[64:80]
    check = hmac.new(mac_key, ciphertext, "sha256").digest()
    if not hmac.compare_digest(check, mac):
        return None
    decryptor = Cipher(algorithms.AES(key), modes.CTR(counter)).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    return unpadder.update(decryptor.update(ciphertext) + decryptor.finalize()) + unpadder.finalize()
