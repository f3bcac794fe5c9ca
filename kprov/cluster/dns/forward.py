"""Names outside the cluster zone: forwarded to the upstream resolvers, with a small cache.

Upstreams are tried in order (UDP, then TCP when the answer is truncated), each with a
timeout; none answering gives SERVFAIL. Answers are cached per (name, type, class) for
the smallest TTL in them, capped at ``max_ttl`` (NXDOMAIN/NODATA for at most
``max_negative_ttl``), in a bounded insertion-ordered dict (the oldest entry goes first).
Identical questions in flight share one upstream query.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype

__all__ = ["Forwarder", "Upstream", "parse_upstream"]


@dataclass(frozen=True)
class Upstream:
    host: str
    port: int = 53


def parse_upstream(text: str) -> Upstream:
    """``1.2.3.4``, ``1.2.3.4:5353``, ``[::1]:53`` or ``::1``."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return Upstream(host, int(rest[1:]) if rest.startswith(":") else 53)
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return Upstream(host, int(port))
    return Upstream(text)


CacheKey = tuple[str, int, int]


class Forwarder:
    def __init__(
        self,
        upstreams: list[Upstream],
        *,
        timeout: float = 2.0,
        max_entries: int = 2048,
        max_ttl: int = 30,
        max_negative_ttl: int = 5,
    ) -> None:
        self.upstreams = upstreams
        self.timeout = timeout
        self.max_entries = max_entries
        self.max_ttl = max_ttl
        self.max_negative_ttl = max_negative_ttl
        self._cache: dict[CacheKey, tuple[float, float, dns.message.Message]] = {}
        self._inflight: dict[CacheKey, asyncio.Future[dns.message.Message]] = {}
        self.hits = 0
        self.misses = 0

    def _cached(self, key: CacheKey) -> tuple[float, dns.message.Message] | None:
        entry = self._cache.get(key)
        if entry is None:
            return None
        stored, expires, message = entry
        now = time.monotonic()
        if now >= expires:
            del self._cache[key]
            return None
        return now - stored, message

    def _store(self, key: CacheKey, message: dns.message.Message) -> None:
        rcode = message.rcode()
        if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            return
        ttls = [rrset.ttl for section in (message.answer, message.authority) for rrset in section]
        cap = self.max_ttl if message.answer else self.max_negative_ttl
        ttl = min([cap, *ttls])
        if ttl <= 0:
            return
        while len(self._cache) >= self.max_entries:
            del self._cache[next(iter(self._cache))]
        now = time.monotonic()
        self._cache[key] = (now, now + ttl, message)

    async def _ask(self, query: dns.message.Message) -> dns.message.Message:
        last: Exception | None = None
        for up in self.upstreams:
            try:
                reply = await dns.asyncquery.udp(query, up.host, timeout=self.timeout, port=up.port,
                                                 ignore_unexpected=True)
                if reply.flags & dns.flags.TC:
                    reply = await dns.asyncquery.tcp(query, up.host, timeout=self.timeout, port=up.port)
                return reply
            except (dns.exception.DNSException, OSError) as exc:
                last = exc
        raise dns.exception.Timeout() if last is None else last

    async def resolve(self, qname: str, rdtype: int, rdclass: int = 1) -> dns.message.Message | None:
        """The upstream's answer (maybe cached; TTLs not yet aged), or None on failure."""
        key = (qname.lower(), rdtype, rdclass)
        cached = self._cached(key)
        if cached is not None:
            self.hits += 1
            return _aged(cached[1], int(cached[0]))
        self.misses += 1
        pending = self._inflight.get(key)
        if pending is not None:
            try:
                return await asyncio.shield(pending)
            except Exception:
                return None
        future: asyncio.Future[dns.message.Message] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            query = dns.message.make_query(
                qname, dns.rdatatype.RdataType.make(rdtype), dns.rdataclass.RdataClass.make(rdclass),
                use_edns=0, payload=1232,
            )
            reply = await self._ask(query)
            self._store(key, reply)
            future.set_result(reply)
            return reply
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters get it through shield
            return None
        finally:
            self._inflight.pop(key, None)


def _aged(message: dns.message.Message, elapsed: int) -> dns.message.Message:
    if elapsed <= 0:
        return message
    copy = dns.message.from_wire(message.to_wire())
    for section in (copy.answer, copy.authority, copy.additional):
        for rrset in section:
            rrset.ttl = max(0, rrset.ttl - elapsed)
    return copy
