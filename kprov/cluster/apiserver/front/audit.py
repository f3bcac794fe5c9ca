"""The API server's audit log: an ``audit.k8s.io/v1`` Policy decides each request's level,
and every audited request becomes one JSON line shaped as an ``audit.k8s.io/v1`` Event at
stage ResponseComplete (``--audit-policy-file``, ``--audit-log-path``, ``--audit-log-maxsize``
in megabytes, ``--audit-log-maxbackup``, ``--audit-log-maxage`` in days; ``-`` as the path
writes to standard output).

Policy (as kube-apiserver reads it): the first rule whose every given field matches —
``users``, ``userGroups``, ``verbs``, ``resources`` (group + resources, ``*``, ``pods/log``
style subresources, ``resourceNames``), ``namespaces``, ``nonResourceURLs`` (a trailing
``*`` is a prefix) — sets the level; no rule matching is level None (not audited). A rule
or the policy may omit stages; only ResponseComplete is written here, so omitting it
silences the request. Levels: Metadata (who, what, when, the response code), Request (+ the
request body), RequestResponse (+ the response body; JSON bodies only). Annotations that
admission added during the request (PodSecurity's ``pod-security.kubernetes.io/*``) end
the event as its ``annotations`` map, at every level.

The writer buffers lines and writes them ``FLUSH_DELAY_S`` after the first one waiting, or
as soon as ``FLUSH_BYTES`` wait: a write per event-loop turn showed in a busy audited
server's profile during pod creates (docs/decisions/0008); one per ``FLUSH_DELAY_S``
(20 ms) is at most 50 a second, and a crash loses at most those 20 ms (upstream's batching backend
buffers up to a second). Past maxsize the file is renamed with upstream's (lumberjack's) timestamp
suffix,
``audit-2006-01-02T15-04-05.000.log``, and only the newest maxbackup renamed files are kept,
none older than maxage days by the time in its name (as lumberjack's MaxAge).
"""

from __future__ import annotations

import asyncio
import datetime
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from time import gmtime, strftime, time_ns
from typing import Any

import orjson
import yaml

from kprov.cluster.apiserver.front.audit_ids import AuditIds
from kprov.cluster.apiserver.identity import UserInfo
from kprov.cluster.apiserver.request.requestinfo import RequestInfo

__all__ = ["LEVELS", "AuditLog", "AuditPolicy", "AuditWriter", "load_policy", "open_audit_log"]

LEVELS = ("None", "Metadata", "Request", "RequestResponse")
_STAGE = "ResponseComplete"
# the fixed pieces of an event line (keys in the order of the audit.k8s.io/v1 Event's fields)
_HEADS = {
    level: b'{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"%s","auditID":"' % level.encode()
    for level in ("Metadata", "Request", "RequestResponse")
}
_AFTER_ID = b'","stage":"' + _STAGE.encode() + b'","requestURI":'
_RECEIVED = b',"requestReceivedTimestamp":"'
_STAGE_STAMP = b'","stageTimestamp":"'
_END = b'"}\n'
# a line whose two times fall in one second: head, the auditID's three pieces, the middle, the
# second's text, microseconds, the second's text again, microseconds, the end
_LINE = b"%s%s%s%s%s" + _RECEIVED + b"%s%06dZ" + _STAGE_STAMP + b"%s%06dZ%s"


@dataclass(frozen=True)
class _Rule:
    level: str
    users: frozenset[str] | None
    groups: frozenset[str] | None
    verbs: frozenset[str] | None
    resources: tuple[tuple[str, frozenset[str], frozenset[str]], ...] | None  # group, resources, names
    namespaces: frozenset[str] | None
    urls: tuple[str, ...] | None
    omit: frozenset[str]

    def matches(self, user: UserInfo | None, verb: str, ri: RequestInfo | None, path: str) -> bool:
        if self.users is not None and (user is None or user.name not in self.users):
            return False
        if self.groups is not None and (user is None or not self.groups.intersection(user.groups)):
            return False
        if self.verbs is not None and verb not in self.verbs:
            return False
        if ri is None:  # a non-resource request: resources/namespaces rules never match it
            if self.resources is not None or self.namespaces is not None:
                return False
            return self.urls is None or any(
                path.startswith(u[:-1]) if u.endswith("*") else path == u for u in self.urls
            )
        if self.urls is not None:
            return False
        if self.namespaces is not None and ri.namespace not in self.namespaces:
            return False
        if self.resources is not None:
            full = f"{ri.resource}/{ri.subresource}" if ri.subresource else ri.resource
            for group, names, resource_names in self.resources:
                if group != "*" and group != ri.group:
                    continue
                if names and not ({"*", full} & names or (not ri.subresource and ri.resource in names)
                                  or f"*/{ri.subresource}" in names or f"{ri.resource}/*" in names):
                    continue
                if resource_names and ri.name not in resource_names:
                    continue
                return True
            return False
        return True


def _set(value: Any) -> frozenset[str] | None:
    return frozenset(value) if value else None


class AuditPolicy:
    def __init__(self, rules: list[_Rule], omit: frozenset[str]) -> None:
        self.rules = rules
        self.omit = omit

    def level(self, user: UserInfo | None, verb: str, ri: RequestInfo | None, path: str) -> str:
        for rule in self.rules:
            if rule.matches(user, verb, ri, path):
                if _STAGE in rule.omit or _STAGE in self.omit:
                    return "None"
                return rule.level
        return "None"


def load_policy(doc: dict[str, Any]) -> AuditPolicy:
    """An audit.k8s.io/v1 Policy document; ValueError names what is wrong."""
    if doc.get("kind") != "Policy":
        raise ValueError(f"audit policy: kind must be Policy, got {doc.get('kind')!r}")
    rules = []
    for i, raw in enumerate(doc.get("rules") or []):
        level = raw.get("level")
        if level not in LEVELS:
            raise ValueError(f"audit policy: rules[{i}].level: Unsupported value: {level!r}")
        resources = None
        if raw.get("resources"):
            resources = tuple(
                (r.get("group", ""), frozenset(r.get("resources") or ()),
                 frozenset(r.get("resourceNames") or ()))
                for r in raw["resources"]
            )
        urls = tuple(raw["nonResourceURLs"]) if raw.get("nonResourceURLs") else None
        rules.append(
            _Rule(
                level, _set(raw.get("users")), _set(raw.get("userGroups")), _set(raw.get("verbs")), resources,
                _set(raw.get("namespaces")), urls, frozenset(raw.get("omitStages") or ()),
            )
        )
    return AuditPolicy(rules, frozenset(doc.get("omitStages") or ()))


class AuditWriter:
    """JSON lines to ``path`` (or standard output for ``-``), rotated past ``max_size_mb``.

    What waits is finished lines and noted events (tuples); at flush time ``render`` turns
    the whole list into the bytes to write (the events the policy does not audit left out)."""

    FLUSH_DELAY_S = 0.02
    FLUSH_BYTES = 256 * 1024
    FLUSH_EVENTS = 1024  # noted events waiting (each ~1 KiB once rendered)

    def __init__(self, path: str, max_size_mb: int = 0, max_backups: int = 0, max_age_days: int = 0) -> None:
        self.path = path
        self.max_bytes = max_size_mb * 1024 * 1024
        self.max_backups = max_backups
        self.max_age_days = max_age_days
        self.render: Callable[[list[bytes | tuple[Any, ...]]], bytes] | None = None
        self._pending: list[bytes | tuple[Any, ...]] = []
        self._pending_bytes = 0
        self._timer: asyncio.TimerHandle | None = None
        self._fd = 1 if path == "-" else self._open()
        self._size = 0 if path == "-" else os.fstat(self._fd).st_size

    def _open(self) -> int:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def write(self, line: bytes) -> None:
        self._pending.append(line)
        self._pending_bytes += len(line)
        if self._pending_bytes >= self.FLUSH_BYTES:
            self.flush()
        elif self._timer is None:
            self._flush_later()

    def note(self, event: tuple[Any, ...]) -> None:
        """An event rendered at the next flush, in its place among the lines."""
        pending = self._pending
        pending.append(event)
        if len(pending) >= self.FLUSH_EVENTS:
            self.flush()
        elif self._timer is None:
            self._flush_later()

    def _flush_later(self) -> None:
        try:
            self._timer = asyncio.get_running_loop().call_later(self.FLUSH_DELAY_S, self.flush)
        except RuntimeError:  # no loop (tests, shutdown): write now
            self.flush()

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending:
            return
        pending = self._pending
        data = self.render(pending) if self.render is not None else b"".join(
            [item for item in pending if isinstance(item, bytes)]
        )
        pending.clear()
        self._pending_bytes = 0
        if not data:
            return
        if self.max_bytes and self._size + len(data) > self.max_bytes and self._size > 0:
            self._rotate()
        os.write(self._fd, data)
        self._size += len(data)

    def _rotate(self) -> None:
        os.close(self._fd)
        base = Path(self.path)
        now = datetime.datetime.now(datetime.UTC)
        suffix = now.strftime("%Y-%m-%dT%H-%M-%S.") + f"{now.microsecond // 1000:03d}"
        os.replace(base, base.with_name(f"{base.stem}-{suffix}{base.suffix}"))
        if self.max_backups:
            backups = sorted(base.parent.glob(f"{base.stem}-*{base.suffix}"))
            for old in backups[: -self.max_backups]:
                old.unlink(missing_ok=True)
        if self.max_age_days:
            self._remove_older_than(now - datetime.timedelta(days=self.max_age_days))
        self._fd = self._open()
        self._size = 0

    def _remove_older_than(self, cutoff: datetime.datetime) -> None:
        base = Path(self.path)
        for rotated in base.parent.glob(f"{base.stem}-*{base.suffix}"):
            stamp = rotated.name[len(base.stem) + 1: len(rotated.name) - len(base.suffix)]
            try:
                when = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H-%M-%S.%f").replace(tzinfo=datetime.UTC)
            except ValueError:
                continue  # not a file this writer rotated
            if when < cutoff:
                rotated.unlink(missing_ok=True)

    def close(self) -> None:
        self.flush()
        if self._fd != 1:
            os.close(self._fd)


class _EventLines(AuditIds):
    """Event lines made from cached JSON pieces rather than a dict per request.

    Most of an event repeats from request to request (the constant fields, the verb, the
    user, the client's address and User-Agent, the objectRef of a create in one namespace),
    so those are encoded once and kept as one piece per combination (the cache bounded by
    ``CACHE_SIZE``; cleared when full); only the URI, the auditID, the code and the two
    timestamps are new per request, put in with one bytes ``%`` format.
    The auditID (a random version-4 UUID, worded as ``str(uuid.uuid4())``) is three slices of
    the pools of :class:`.audit_ids.AuditIds`. Timestamps (RFC 3339
    with microseconds, as metav1.MicroTime) are made from ``time.time_ns()`` with the date
    and time up to the second formatted once per second. Through a dict and orjson per
    event, the audit log was a large share of the server's time in the profile of a metrics
    round of tests/bench/bench_apiserver.py (docs/decisions/0008). The
    line is the same JSON, in the same key order, as orjson makes from the event dict (a
    unit test compares them).
    """

    CACHE_SIZE = 1024

    def __init__(self) -> None:
        super().__init__()
        self._middles: dict[tuple[Any, ...], bytes] = {}
        self._second = -1
        self._second_text = b""
        self._annotations: dict[str, str] | None = None  # the last annotations encoded, and their end
        self._annotations_end = _END

    def audit_id(self) -> bytes:
        return self.next()

    def stamp(self, ns: int) -> bytes:
        """``ns`` (nanoseconds since the epoch) as RFC 3339 in UTC with microseconds."""
        second, rest = divmod(ns, 1_000_000_000)
        if second != self._second:
            self._second = second
            self._second_text = strftime("%Y-%m-%dT%H:%M:%S.", gmtime(second)).encode()
        return b"%s%06dZ" % (self._second_text, rest // 1000)

    def middle(self, verb: str, user: UserInfo | None, peer: str | None, agent: str,
               ri: RequestInfo | None) -> bytes:
        """``"verb"`` through ``"objectRef"``: what repeats between requests of one client
        doing one thing, encoded once (one dict lookup a request, where a lookup per field
        was close to half of the line's cost)."""
        key = (verb, user, peer, agent, ri)
        piece = self._middles.get(key)
        if piece is None:
            if len(self._middles) >= self.CACHE_SIZE:
                self._middles.clear()
            parts = [
                b',"verb":', orjson.dumps(verb), b',"user":', orjson.dumps(_user_json(user)),
                b',"sourceIPs":', b"[]" if peer is None else b"[" + orjson.dumps(peer) + b"]",
                b',"userAgent":', orjson.dumps(agent),
            ]
            if ri is not None:
                parts += (b',"objectRef":', orjson.dumps(_object_ref(ri)))
            piece = self._middles[key] = b"".join(parts) + b',"responseStatus":{"metadata":{},"code":'
        return piece

    def line(self, level: str, uri: str, verb: str, user: UserInfo | None, peer: str | None, agent: str,
             ri: RequestInfo | None, code: int, request_object: bytes | None, response_object: bytes | None,
             received_ns: int, completed_ns: int, annotations: dict[str, str] | None = None) -> bytes:
        bodies = b""
        if request_object is not None:
            bodies += b',"requestObject":' + request_object
        if response_object is not None:
            bodies += b',"responseObject":' + response_object
        between = self.between(uri, self.middle(verb, user, peer, agent, ri), code, bodies)
        return self.tail_line(_HEADS[level], between, received_ns, completed_ns, annotations)

    @staticmethod
    def between(uri: str, middle: bytes, code: int, bodies: bytes = b"") -> bytes:
        """What follows the auditID up to the timestamps: the stage, URI, ``middle``, code and
        any bodies."""
        return b"%s%s%s%d}%s" % (_AFTER_ID, orjson.dumps(uri), middle, code, bodies)

    def tail_line(self, head: bytes, between: bytes, received_ns: int, completed_ns: int,
                  annotations: dict[str, str] | None = None) -> bytes:
        """A line from its ``head`` (up to the auditID), ``between`` (:meth:`between`), the
        two times and the admission plugins' annotations (the Event's last field)."""
        if not annotations:
            end = _END
        elif annotations == self._annotations and (  # (they repeat: Pod Security's) in the same order
            len(annotations) == 1 or list(annotations) == list(self._annotations)  # type: ignore[arg-type]
        ):
            end = self._annotations_end
        else:
            end = b'","annotations":' + orjson.dumps(annotations) + b"}\n"
            self._annotations, self._annotations_end = dict(annotations), end
        received, completed = divmod(received_ns, 1_000_000_000), divmod(completed_ns, 1_000_000_000)
        if received[0] == completed[0] == self._second:  # (the usual case: one format for both)
            at = self._at  # (AuditIds.pieces written out: one call less an event)
            if at >= self.PER_POOL:
                self._refill()
                at = 0
            self._at = at + 1
            outer, middle, second = at * 20, at * 15, self._second_text
            pool = self._outer
            return _LINE % (
                head, pool[outer:outer + 8], self._middle[middle:middle + 16], pool[outer + 8:outer + 20],
                between, second, received[1] // 1000, second, completed[1] // 1000, end,
            )
        return b"%s%s%s%s%s%s%s%s" % (
            head, self.audit_id(), between, _RECEIVED, self.stamp(received_ns), _STAGE_STAMP,
            self.stamp(completed_ns), end,
        )


def _user_json(user: UserInfo | None) -> dict[str, Any]:
    return {"username": user.name, "groups": user.groups} if user is not None else {}


def _object_ref(ri: RequestInfo) -> dict[str, str]:
    ref = {"resource": ri.resource, "namespace": ri.namespace, "name": ri.name,
           "apiGroup": ri.group, "apiVersion": ri.version, "subresource": ri.subresource}
    return {k: v for k, v in ref.items() if v}


class AuditLog:
    """What the handler calls after serving: :meth:`note` when the policy logs no bodies
    (:attr:`wants_bodies` false), else :meth:`level` and, unless None, :meth:`record`.

    A noted event is a tuple of what the request left (its path, query, method, user,
    address, User-Agent, request info, code and the two times); the policy's level and the
    line are worked out at the writer's flush, a batch at a time. In the request this
    costs a tuple and an append; rendering it there, timed inside the busy server, cost
    three times what the same code takes in a loop, and was most of what the metrics rounds
    of tests/bench/bench_apiserver.py lost (docs/decisions/0008)."""

    def __init__(self, policy: AuditPolicy, writer: AuditWriter) -> None:
        self.policy = policy
        self.writer = writer
        self.wants_bodies = any(rule.level in ("Request", "RequestResponse") for rule in policy.rules)
        self._lines = _EventLines()
        writer.render = self._render

    def level(self, user: UserInfo | None, verb: str, ri: RequestInfo | None, path: str) -> str:
        return self.policy.level(user, verb, ri, path)

    def note(self, request: Any, ri: RequestInfo | None, user: UserInfo | None, received_ns: int,
             code: int, annotations: dict[str, str] | None = None) -> None:
        """The request's event at whatever level (None or Metadata) the policy gives it
        (:meth:`AuditWriter.note` written out: every request passes here)."""
        writer = self.writer
        pending = writer._pending
        pending.append((
            request.path, request.query_string, request.method, user, request.remote,
            request.headers.get("User-Agent", ""), ri, code, received_ns, time_ns(), annotations,
        ))
        if len(pending) >= writer.FLUSH_EVENTS:
            writer.flush()
        elif writer._timer is None:
            writer._flush_later()

    def _render(self, pending: list[bytes | tuple[Any, ...]]) -> bytes:
        """The waiting lines, noted events rendered, in order. Within one batch the level
        and the repeated middle of the line are looked up by the identity of the user and
        request info objects (which the events hold, so no identity is reused meanwhile)."""
        out: list[bytes] = []
        levels: dict[tuple[Any, ...], str] = {}
        # (user's name, groups, request info, method, peer, agent, path, query, code) -> head
        # and auditID to timestamps, or None where the level is None: one flat key and one
        # lookup an event (the verb, from the request info or the method, only on a miss). The
        # user counts by what the policy and the line read of it (name and groups), not by
        # identity: each connection authenticates its own UserInfo.
        middles: dict[tuple[Any, ...], tuple[bytes, bytes] | None] = {}
        lines, policy_level, tail_line = self._lines, self.policy.level, self._lines.tail_line
        for item in pending:
            if isinstance(item, bytes):
                out.append(item)
                continue
            path, query, method, user, peer, agent, ri, code, received_ns, completed_ns, annotations = item
            mkey: tuple[Any, ...]
            if user is not None:
                mkey = (user.name, user.groups, id(ri), method, peer, agent, path, query, code)
            else:
                mkey = (None, None, id(ri), method, peer, agent, path, query, code)
            try:
                pieces = middles[mkey]
            except KeyError:
                verb = ri.verb if ri is not None else method.lower()
                who = (user.name, user.groups) if user is not None else None
                key = (who, id(ri), verb, path if ri is None else "")
                level = levels.get(key)
                if level is None:
                    level = levels[key] = policy_level(user, verb, ri, path)
                if level == "None":
                    pieces = None
                else:
                    middle = lines.middle(verb, user, peer, agent, ri)
                    uri = f"{path}?{query}" if query else path
                    pieces = (_HEADS[level], lines.between(uri, middle, code))
                middles[mkey] = pieces
            if pieces is not None:
                out.append(tail_line(pieces[0], pieces[1], received_ns, completed_ns, annotations))
        return b"".join(out)

    def record(
        self,
        level: str,
        request: Any,
        ri: RequestInfo | None,
        user: UserInfo | None,
        received_ns: int,
        code: int,
        request_body: bytes | None = None,
        response_body: bytes | None = None,
        annotations: dict[str, str] | None = None,
    ) -> None:
        verb = ri.verb if ri is not None else request.method.lower()
        uri = request.path + (f"?{request.query_string}" if request.query_string else "")
        request_object = response_object = None
        if level in ("Request", "RequestResponse") and request_body:
            request_object = orjson.dumps(_json_or_none(request_body))
        if level == "RequestResponse" and response_body:
            response_object = orjson.dumps(_json_or_none(response_body))
        agent = request.headers.get("User-Agent", "")
        self.writer.write(self._lines.line(
            level, uri, verb, user, request.remote, agent, ri, code,
            request_object, response_object, received_ns, time_ns(), annotations,
        ))


def _json_or_none(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None  # protobuf or YAML bodies are not logged


def open_audit_log(policy_file: str, log_path: str, max_size_mb: int, max_backups: int,
                   max_age_days: int = 0) -> AuditLog | None:
    """The server's audit log, or None when either flag is unset (as upstream: no policy, no log)."""
    if not policy_file or not log_path:
        return None
    doc = yaml.safe_load(Path(policy_file).read_text())
    return AuditLog(load_policy(doc or {}), AuditWriter(log_path, max_size_mb, max_backups, max_age_days))
