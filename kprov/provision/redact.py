"""Secrets kept out of output: diffs, run logs, task messages, ``--json`` and ``-vv``.

What counts as a secret here is key material and credentials as they appear in the files
kprov places: PEM private keys (``-----BEGIN ... PRIVATE KEY-----``), kubeconfig
credentials (``client-key-data``, ``token``), and ``password``/``token``/``secret`` values
written as ``name: value`` or ``name=value``. Detection is by content (a cheap regex
search; the no-op cluster apply pays nothing measurable: it has no diffs and short log
lines) plus, for files, the names of key files (``*.key``).

* :func:`is_secret_file` — a file whose content must never be shown (a diff says
  "content changed (secret)").
* :func:`redact_text` — the text with private key blocks and credential values replaced,
  and every value of a task's exported ``environment:`` (commands in the run log).
* :func:`redact_data` — the same over nested data (registered results, JSON reports: the
  data is redacted before it is serialized, never the JSON text).
"""

from __future__ import annotations

import re
import shlex
from typing import Any

__all__ = ["ENVIRONMENT_MARK", "REDACTED", "SECRET_DIFF", "is_secret_file", "redact_data", "redact_text"]

REDACTED = "********"
# ends the line that exports a task's ``environment:`` before each of its commands; every
# value on such a line is redacted (proxies with passwords, tokens: names alone are shown)
ENVIRONMENT_MARK = "# kprov: task environment"
# a value may hold newlines (shlex-quoted, the line then spans several): up to the mark
_ENVIRONMENT_LINE = re.compile(rf"^export (?P<exports>.*?) {re.escape(ENVIRONMENT_MARK)}$", re.M | re.S)
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
# The same test on lower-cased text, without the slow case-insensitive alternation: every
# credential name and "private key-----" contains one of these.
_HINT = re.compile(r"key|token|passw|secret")
_KEY_SUFFIXES = (".key", ".pem.key", "-key.pem")
# A key whose value is a credential (redact_data).
_SECRET_NAME = re.compile(rf"(?i)[\w.-]*(?:{_CREDENTIAL_NAMES})")
# Values that name a credential rather than being one (flags pointing at files, booleans).
_HARMLESS_VALUE = re.compile(r"(?i)^[\"']?(/|\{\{|true$|false$|none$|null$|\*+$|<)")


def _credential(match: re.Match[str]) -> str:
    value = match.group("value")
    if _HARMLESS_VALUE.match(value):
        return match.group(0)
    quote = value[0] if value[0] in "\"'" else ""
    return f"{match.group('name')}{match.group('sep')}{quote}{REDACTED}{quote}"


def _environment_names(match: re.Match[str]) -> str:
    try:
        words = shlex.split(match.group("exports"))
    except ValueError:
        words = []
    names = " ".join(f"{word.partition('=')[0]}={REDACTED}" for word in words)
    return f"export {names} {ENVIRONMENT_MARK}"


def redact_text(text: str) -> str:
    """``text`` with private key blocks and credential values replaced by ``********``."""
    if not text:
        return text
    if ENVIRONMENT_MARK in text:
        text = _ENVIRONMENT_LINE.sub(_environment_names, text)
    lowered = text.lower()
    if len(lowered) != len(text):  # a character whose lower case is longer: the plain way
        if not _ANY.search(text):
            return text
        return _CREDENTIAL.sub(_credential, _PRIVATE_KEY.sub(f"<private key {REDACTED}>", text))
    if not _HINT.search(lowered):
        return text
    if "private key-----" in lowered:
        text = _PRIVATE_KEY.sub(f"<private key {REDACTED}>", text)
        lowered = text.lower()
    return _redact_credentials(text, lowered)


def _redact_credentials(text: str, lowered: str) -> str:
    """``_CREDENTIAL.sub(_credential, text)``, tried only at the words that hold a hint.

    The same matches: a credential's name contains one of the hints, and its match starts
    in the word (a run of word characters, dots and dashes, or a quote before it) that holds
    that hint, so trying ``_CREDENTIAL.match`` from the word's start up to the hint finds the
    leftmost one, far cheaper than a case-insensitive scan of the whole text (lower() once,
    plain search; figures: docs/decisions/0051-figures-live-in-records.md)."""
    out: list[str] = []
    done = 0
    for hint in _HINT.finditer(lowered):
        if hint.start() < done:
            continue
        start = hint.start()
        while start > done and (lowered[start - 1].isalnum() or lowered[start - 1] in "_.-"):
            start -= 1
        if start > done and lowered[start - 1] in "\"'":
            start -= 1
        for at in range(start, hint.start() + 1):
            match = _CREDENTIAL.match(text, at)
            if match is not None:
                out += [text[done:match.start()], _credential(match)]
                done = match.end()
                break
    return "".join(out) + text[done:] if out else text


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
    """Nested data with every string (keys too) redacted and the values of credential-named
    keys hidden (a string or number, unless it names a credential rather than being one: a
    path, a boolean). Data to be serialized is redacted this way, never its serialized text:
    a mask over JSON text would replace the ``{`` after a key such as ``getent_passwd``."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if isinstance(key, str) and _SECRET_NAME.fullmatch(key) and _hideable(item):
                out[redact_text(key)] = REDACTED
            else:
                out[redact_text(key) if isinstance(key, str) else key] = redact_data(item)
        return out
    if isinstance(value, list | tuple):
        return [redact_data(item) for item in value]
    return value


def _hideable(value: Any) -> bool:
    """A credential-named key's value that is the credential itself."""
    if isinstance(value, str):
        return bool(value) and not _HARMLESS_VALUE.match(value)
    return isinstance(value, int | float) and not isinstance(value, bool)
