"""Secrets kept out of output: diffs, run logs, task messages, ``--json`` and ``-vv``.

What counts as a secret here is key material and credentials as they appear in the files
kprov places: PEM private keys (``-----BEGIN ... PRIVATE KEY-----``), kubeconfig
credentials (``client-key-data``, ``token``), and ``password``/``token``/``secret`` values
written as ``name: value`` or ``name=value``. Detection is by content (a cheap regex
search; the no-op cluster apply pays nothing measurable: it has no diffs and short log
lines) plus, for files, the names of key files (``*.key``).

* :func:`is_secret_file` — a file whose content must never be shown (a diff says
  "content changed (secret)").
* :func:`redact_text` — the text with private key blocks and credential values replaced.
* :func:`redact_data` — the same over nested data (registered results, JSON reports).
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["REDACTED", "SECRET_DIFF", "is_secret_file", "redact_data", "redact_text"]

REDACTED = "********"
SECRET_DIFF = "content changed (secret)"

_PRIVATE_KEY = re.compile(
    r"-----BEGIN ([A-Z0-9 ]*?)PRIVATE KEY-----.*?(?:-----END \1PRIVATE KEY-----|\Z)", re.S
)
_CREDENTIAL_NAMES = r"client-key-data|client-key|token|password|passwd|secret|api[-_]?key|private[-_]?key"
# name: value / name=value / "name": "value" (the value up to the end of the word or quote)
_CREDENTIAL = re.compile(
    rf"""(?ix)
    (?P<name>["']?\b[\w.-]*(?:{_CREDENTIAL_NAMES})["']?)
    (?P<sep>\s*[:=]\s*)
    (?P<value>"[^"\n]+"|'[^'\n]+'|[^\s,;}}&"']+)
    """
)
# Quick test before the substitutions (most text has none of these words).
_ANY = re.compile(rf"(?i)PRIVATE KEY-----|{_CREDENTIAL_NAMES}")
_KEY_SUFFIXES = (".key", ".pem.key", "-key.pem")
# Values that name a credential rather than being one (flags pointing at files, booleans).
_HARMLESS_VALUE = re.compile(r"(?i)^[\"']?(/|\{\{|true$|false$|none$|null$|\*+$|<)")


def _credential(match: re.Match[str]) -> str:
    value = match.group("value")
    if _HARMLESS_VALUE.match(value):
        return match.group(0)
    quote = value[0] if value[0] in "\"'" else ""
    return f"{match.group('name')}{match.group('sep')}{quote}{REDACTED}{quote}"


def redact_text(text: str) -> str:
    """``text`` with private key blocks and credential values replaced by ``********``."""
    if not text or not _ANY.search(text):
        return text
    text = _PRIVATE_KEY.sub(f"<private key {REDACTED}>", text)
    return _CREDENTIAL.sub(_credential, text)


def is_secret_file(path: str, content: bytes | str | None) -> bool:
    """Whether a file's content is key material or credentials (never shown in a diff)."""
    if path.endswith(_KEY_SUFFIXES):
        return True
    if content is None:
        return False
    text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
    if "PRIVATE KEY-----" in text:
        return True
    return redact_text(text) != text


def redact_data(value: Any) -> Any:
    """Nested data with every string redacted and the values of credential-named keys hidden."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            secret_name = isinstance(key, str) and re.fullmatch(rf"(?i)[\w.-]*(?:{_CREDENTIAL_NAMES})", key)
            out[key] = REDACTED if secret_name and isinstance(item, str) and item else redact_data(item)
        return out
    if isinstance(value, list | tuple):
        return [redact_data(item) for item in value]
    return value
