"""Turn any failure inside a verify check into a failed row that says why and what to do.

``kprov verify`` must never end in a traceback: a check that raises becomes one failed
:class:`Check` whose detail is the cause in words. :func:`guard` and :func:`aguard` wrap a
check (sync or async) that way; :func:`describe_error` walks an exception's chain (``__cause__``,
``__context__``, aiohttp's wrapped ``certificate_error``/``os_error``) and names the first cause
it recognises: a certificate not yet valid or expired (OpenSSL's verify codes 9 and 10), a
refused or timed-out connection, a name that does not resolve. Clients that flatten the chain
into their message (the API client's ``ServerUnavailable``) are read by their text too.

A certificate "not yet valid" almost always means a clock is behind (certificates are
backdated 5 minutes when issued), so the row says so, with both times when the endpoint can
be asked for its certificate (:mod:`kprov.deploy.verify.clock_checks`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import ssl
from collections.abc import Awaitable, Callable, Generator, Iterator
from dataclasses import dataclass

from kprov.deploy.verify.report import Check

__all__ = ["Cause", "aguard", "causes", "describe_error", "guard", "primary_cause", "quiet_library_logs"]

# OpenSSL's X509_V_ERR_CERT_NOT_YET_VALID / X509_V_ERR_CERT_HAS_EXPIRED
_NOT_YET_VALID = 9
_EXPIRED = 10
_DETAIL_MAX = 600
_VERIFY_FAILED = re.compile(r"certificate verify failed: (.+?)(?: \(_ssl\.c:\d+\)|\"\)|\]|$)")
_QUIET = ("paramiko",)  # libraries that print tracebacks of errors verify reports as rows


@dataclass(frozen=True)
class Cause:
    """A recognised cause: a short kind, what happened, and what to do about it."""

    kind: str  # cert-not-yet-valid | cert-expired | tls | refused | timeout | unresolved | other
    what: str
    todo: str = ""

    def text(self) -> str:
        return f"{self.what}; {self.todo}" if self.todo else self.what


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for attr in ("certificate_error", "os_error", "__cause__", "__context__"):
            inner = getattr(current, attr, None)
            if isinstance(inner, BaseException):
                todo.append(inner)
        if isinstance(current, BaseExceptionGroup):
            todo.extend(current.exceptions)


def _message(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _classify(exc: BaseException) -> Cause | None:
    text = str(exc).lower()
    code = getattr(exc, "verify_code", None)  # aiohttp's certificate error subclasses ssl's, without it
    if code == _NOT_YET_VALID or "certificate is not yet valid" in text:
        return Cause("cert-not-yet-valid", "TLS: certificate is not yet valid",
                     "a clock is behind the certificate's start: set the clock right "
                     "(NTP: timedatectl set-ntp true, chrony) or wait until the start")
    if code == _EXPIRED or "certificate has expired" in text:
        return Cause("cert-expired", "TLS: certificate has expired",
                     "renew with kprov pki rotate, then kprov apply (or a clock is ahead)")
    if isinstance(exc, ssl.SSLError) or "certificate_verify_failed" in text or "handshake" in text:
        reason = _VERIFY_FAILED.search(str(exc))
        return Cause("tls", f"TLS: {reason.group(1).strip() if reason else type(exc).__name__}",
                     "the endpoint's certificate or the client's is not accepted (kprov pki show)")
    if isinstance(exc, ConnectionRefusedError) or "connection refused" in text:
        return Cause("refused", "connection refused",
                     "nothing listens there: is the component's unit running (systemctl status)?")
    if isinstance(exc, TimeoutError | socket.timeout) or "timed out" in text or "timeout" in text \
            or "deadline exceeded" in text or "no route to host" in text:
        return Cause("timeout", f"no answer in time ({_message(exc)})",
                     "the host is down, partitioned or overloaded: is it up and reachable?")
    if isinstance(exc, socket.gaierror) or "name or service not known" in text:
        return Cause("unresolved", f"name does not resolve ({_message(exc)})",
                     "check the inventory's ansible_host")
    return None


def causes(exc: BaseException) -> list[Cause]:
    """Every recognised cause along the chain, outermost first."""
    return [c for c in (_classify(e) for e in _chain(exc)) if c is not None]


def primary_cause(exc: BaseException) -> Cause:
    """The most telling cause: a certificate's time window over any other TLS failure, over a
    network failure; otherwise the exception's own words."""
    found = causes(exc)
    order = ("cert-not-yet-valid", "cert-expired", "tls", "refused", "unresolved", "timeout")
    for kind in order:
        for cause in found:
            if cause.kind == kind:
                return cause
    return Cause("other", _message(exc))


def describe_error(exc: BaseException) -> str:
    """One line: the exception's own message, then the recognised cause and what to do."""
    cause = primary_cause(exc)
    own = _message(exc)
    if cause.kind == "other":
        return own[:_DETAIL_MAX]
    return f"{cause.text()} ({own})"[:_DETAIL_MAX]


def guard(scope: str, name: str, check: Callable[[], list[Check]]) -> list[Check]:
    """Run ``check``; if it raises, one failed row named ``name`` with the cause instead."""
    try:
        return check()
    except Exception as exc:  # noqa: BLE001 - verify reports every failure as a row, never a traceback
        return [Check(scope, name, False, describe_error(exc))]


async def aguard(scope: str, name: str, check: Awaitable[list[Check]]) -> list[Check]:
    """:func:`guard` for a coroutine."""
    try:
        return await check
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - as guard
        return [Check(scope, name, False, describe_error(exc))]


@contextlib.contextmanager
def quiet_library_logs() -> Generator[None, None, None]:
    """While verify runs, libraries' own error logs stay out of its output: paramiko's
    transport thread logs a traceback for a host that does not answer SSH, which verify
    already reports as that host's failed row."""
    saved = [(logging.getLogger(name), logging.getLogger(name).propagate) for name in _QUIET]
    handler = logging.NullHandler()
    for logger, _ in saved:
        logger.addHandler(handler)
        logger.propagate = False
    try:
        yield
    finally:
        for logger, propagate in saved:
            logger.removeHandler(handler)
            logger.propagate = propagate
