"""A folded subtree's answers kept by value: a value met again is not evaluated again.

Design: the fold (:mod:`.folded`) answers "does every create-time rule of a subtree hold on
this value?". That answer is a function of the value alone: the folded program reads only
``self`` (no ``oldSelf``: subtrees holding transition rules are never folded on update), CEL has
no clock, no randomness and no side effects, Kubernetes' libraries a CRD rule may call
(lists, regex, URLs, quantity, IP/CIDR, sets, optionals) are pure, and the runtime-cost bound
checked before the call counts the value's entries. So the answer for a value already judged
can be returned without converting and evaluating it again. Only a true answer is ever acted
on as "no cause"; a false one (a rule false, an error, the entry bound exceeded) sends the
value to the walk, which judges rule by rule, so keeping it cannot hide a cause.

The key is the value's ``marshal`` serialization: marshal writes only the exact core types a
decoded JSON or YAML body holds (dict, list, str, int, float, bool, None) and refuses any other
object (a subclass included), and its bytes rebuild the value they came from, so equal keys
mean values the runtime converts to the same CEL value (``1``, ``1.0`` and ``true`` all differ).
Format version 2: the later versions write back-references and interning flags that follow
the objects' sharing and reference counts, so the same value decoded twice, or deep-copied,
would get other bytes and miss. A value marshal refuses, or whose key is over
:data:`MAX_KEY_BYTES`, is evaluated and not kept.

Where values repeat: an update that leaves the folded subtree as it was (labels,
annotations, finalizers or owner references changed, a re-apply of the same manifest by a
GitOps controller, a status written through the main resource) and creates of objects made
from one template. Where they do not (every object different) a lookup costs the key, a
small share of converting the value for the runtime (docs/decisions/0053, round 6). The
answers kept are bounded per folded program, by count (:data:`MAX_ANSWERS`) and by their
keys' bytes (:data:`MAX_BYTES`), least recently used dropped first: a burst of more distinct
values than are kept, between a create and its update, misses (LRU order).
"""

from __future__ import annotations

import marshal
import threading
from collections import OrderedDict
from typing import Any

__all__ = ["MAX_ANSWERS", "MAX_BYTES", "MAX_KEY_BYTES", "Answers", "key_of"]

MAX_ANSWERS = 1024
MAX_BYTES = 512 * 1024  # the keys' bytes kept per folded program
MAX_KEY_BYTES = 16 * 1024
_VERSION = 2  # no back-references nor interning flags: equal values, equal bytes


def key_of(value: Any) -> bytes | None:
    """The value's key, or None when it cannot be kept (a type marshal refuses, too large)."""
    try:
        key = marshal.dumps(value, _VERSION)
    except ValueError:  # "unmarshallable object": not a plain decoded value
        return None
    return key if len(key) <= MAX_KEY_BYTES else None


class Answers:
    """A bounded map from a value's key to the fold's answer on it (least recently used
    dropped first, past ``limit`` answers or ``budget`` bytes of keys). Safe to share
    between threads."""

    __slots__ = ("_answers", "_budget", "_bytes", "_limit", "_lock")

    def __init__(self, limit: int = MAX_ANSWERS, budget: int = MAX_BYTES) -> None:
        self._answers: OrderedDict[bytes, bool] = OrderedDict()
        self._limit = limit
        self._budget = budget
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._answers)

    def get(self, key: bytes) -> bool | None:
        with self._lock:
            answer = self._answers.get(key)
            if answer is not None:
                self._answers.move_to_end(key)
            return answer

    def put(self, key: bytes, answer: bool) -> None:
        with self._lock:
            if key not in self._answers:
                self._bytes += len(key)
            self._answers[key] = answer
            self._answers.move_to_end(key)
            while len(self._answers) > self._limit or self._bytes > self._budget:
                dropped, _ = self._answers.popitem(last=False)
                self._bytes -= len(dropped)
