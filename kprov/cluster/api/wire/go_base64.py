"""``[]byte`` fields decoded as Go's ``encoding/json`` decodes them, and written back.

Design: kube-apiserver decodes a ``[]byte`` field (Secret ``data``, ConfigMap ``binaryData``)
with ``base64.StdEncoding``: carriage returns and line feeds anywhere are skipped (so
base64 wrapped over lines, as ``base64`` prints it, is accepted), padding is required, and
anything else that is not of the alphabet is ``illegal base64 data at input byte N`` (N
counted in the text as sent). The value it stores and serves is the decoded bytes
encoded again: one line, no CR/LF. ``byte_fields_of`` names those fields per kind.
"""

from __future__ import annotations

import base64
import re

__all__ = ["GoBase64Error", "byte_fields_of", "canonical_base64", "go_std_decode"]

_SYMBOLS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_NEWLINES = frozenset(b"\r\n")
_PAD = ord("=")
_WELL_FORMED = re.compile(rb"[A-Za-z0-9+/]*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_BYTE_FIELDS = {("", "Secret"): ("data",), ("", "ConfigMap"): ("binaryData",)}


class GoBase64Error(ValueError):
    """Go's ``base64.CorruptInputError`` text: ``illegal base64 data at input byte N``."""

    def __init__(self, offset: int) -> None:
        super().__init__(f"illegal base64 data at input byte {offset}")
        self.offset = offset


def byte_fields_of(group: str, kind: str) -> tuple[str, ...]:
    """The top-level ``map[string][]byte`` fields of a built-in kind."""
    return _BYTE_FIELDS.get((group, kind), ())


def go_std_decode(text: str) -> bytes:
    """``text`` decoded as ``base64.StdEncoding.DecodeString`` does (CR/LF skipped)."""
    raw = text.encode("utf-8", "surrogatepass")
    data = raw.replace(b"\n", b"").replace(b"\r", b"")
    if len(data) % 4 or not _WELL_FORMED.fullmatch(data):
        _check_quanta(raw)  # (raises, naming the byte Go names)
    return base64.b64decode(data)


def _check_quanta(src: bytes) -> None:
    """Raise at the offset Go's ``decodeQuantum`` reports, walking the input as it does."""
    si, size = 0, len(src)
    while True:
        j = 0
        while j < 4:
            if si == size:
                if j == 0:
                    return
                raise GoBase64Error(si - j)  # a padded encoding's incomplete quantum
            char = src[si]
            si += 1
            if char in _NEWLINES:
                continue
            if char in _SYMBOLS:
                j += 1
                continue
            if char != _PAD or j < 2:
                raise GoBase64Error(si - 1)
            if j == 2:  # "==" expected; the first "=" is read
                si = _skip_newlines(src, si)
                if si == size:
                    raise GoBase64Error(size)
                if src[si] != _PAD:
                    raise GoBase64Error(si - 1)
                si += 1
            si = _skip_newlines(src, si)
            if si < size:
                raise GoBase64Error(si)  # data after the padding
            return


def _skip_newlines(src: bytes, si: int) -> int:
    while si < len(src) and src[si] in _NEWLINES:
        si += 1
    return si


def canonical_base64(text: str) -> str:
    """``text`` as kube serves it after decoding: the same bytes, encoded on one line
    (raises :class:`GoBase64Error` where Go's decoder fails)."""
    decoded = go_std_decode(text)
    if "\n" not in text and "\r" not in text:
        return text
    return base64.b64encode(decoded).decode("ascii")
