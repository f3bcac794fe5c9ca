"""Kubernetes' URL library (upstream library/urls.go) on the CEL runtime: ``url(<string>)``
(an absolute URI or an absolute path, as Go's ``url.ParseRequestURI``), ``isURL``, and the
getters ``getScheme``, ``getHost``, ``getHostname``, ``getPort``, ``getEscapedPath``,
``getQuery`` (a map of lists). The value is a ``kubernetes.URL`` holding its text."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any

from kprov.cluster.api.cel.library import Library

URL = "kubernetes.URL"


_HOST_FORBIDDEN = frozenset(' <>"{}|\\^`')
# what Go's EscapedPath leaves as written (validEncoded), else it escapes the path
_PATH_SAFE = "/!$&'()*+,;=:@[]-._~"


def _parse(text: str) -> urllib.parse.SplitResult:
    """As Go's ParseRequestURI: an absolute URI (a scheme) or an absolute path, no control
    characters, a host of host characters and a numeric port."""
    if not text:
        raise ValueError("empty url")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        raise ValueError("net/url: invalid control character in URL")
    parts = urllib.parse.urlsplit(text)
    if not parts.scheme and not text.startswith("/"):
        raise ValueError("invalid URI for request")
    if _HOST_FORBIDDEN & set(parts.netloc):
        raise ValueError("invalid character in host name")
    parts.port  # noqa: B018 (raises for an invalid port)
    return parts


def _escaped_path(path: str) -> str:
    """Go's EscapedPath: the path as written when it is validly escaped, else escaped."""
    valid = all(c.isascii() and (c.isalnum() or c in _PATH_SAFE or c == "%") for c in path)
    if valid and "%" in path:
        try:
            valid = urllib.parse.unquote(path, errors="strict") is not None
        except UnicodeDecodeError:
            valid = False
    if valid:
        return path
    return urllib.parse.quote(urllib.parse.unquote(path), safe="/$&+,:;=@-._~")


def _declare(cel: Any, types: Mapping[str, Any], classes: Mapping[str, Any]) -> list[Any]:
    url_type, string = types[URL], cel.Type.STRING
    make = classes[URL]

    def url(text: str) -> Any:
        try:
            _parse(text)
        except ValueError as exc:
            raise ValueError(
                f"URL parse error during conversion from string: parse {text!r}: {exc}"
            ) from None
        return make(raw=text)

    def is_url(text: str) -> bool:
        try:
            _parse(text)
        except ValueError:
            return False
        return True

    def hostname(value: Any) -> str:
        netloc = _parse(value.raw).netloc.rpartition("@")[2]
        if netloc.startswith("["):
            return netloc[1 : netloc.find("]")]
        return netloc.partition(":")[0]

    def port(value: Any) -> str:
        netloc = _parse(value.raw).netloc.rpartition("@")[2]
        tail = netloc[netloc.find("]") + 1 :] if netloc.startswith("[") else netloc
        return tail.partition(":")[2]

    def query(value: Any) -> dict[str, list[str]]:
        return urllib.parse.parse_qs(_parse(value.raw).query, keep_blank_values=True)

    def getter(name: str, result: Any, impl: Any) -> Any:
        return cel.FunctionDecl(
            name, [cel.Overload(f"url_{name}", result, [url_type], is_member=True, impl=impl)]
        )

    return [
        cel.FunctionDecl("url", [cel.Overload("string_to_url", url_type, [string], impl=url)]),
        cel.FunctionDecl("isURL", [cel.Overload("is_url_string", cel.Type.BOOL, [string], impl=is_url)]),
        getter("getScheme", string, lambda v: _parse(v.raw).scheme),
        getter("getHost", string, lambda v: _parse(v.raw).netloc.rpartition("@")[2]),
        getter("getHostname", string, hostname),
        getter("getPort", string, port),
        getter("getEscapedPath", string, lambda v: _escaped_path(_parse(v.raw).path)),
        getter("getQuery", cel.Type.Map(string, cel.Type.List(string)), query),
    ]


LIBRARY = Library("urls", _declare, ((URL, ("raw",)),))
