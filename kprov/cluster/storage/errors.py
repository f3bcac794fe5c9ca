"""Storage errors: what can go wrong between the API server and etcd, as plain exceptions.

The API server maps each one to a Kubernetes Status (NotFound, AlreadyExists, Conflict,
Expired, InternalError, ServiceUnavailable); storage itself knows nothing about HTTP.
"""

from __future__ import annotations

__all__ = [
    "KeyExistsError",
    "KeyNotFoundError",
    "RequestTooLargeError",
    "RevisionConflictError",
    "RevisionExpiredError",
    "StorageError",
    "StorageTimeoutError",
    "StorageUnavailableError",
]


class StorageError(Exception):
    """Base class of every storage failure."""


class KeyNotFoundError(StorageError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key {key} not found")
        self.key = key


class KeyExistsError(StorageError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key {key} already exists")
        self.key = key


class RevisionConflictError(StorageError):
    """The object changed since the revision the caller based its write on."""

    def __init__(self, key: str, expected: int, actual: int) -> None:
        super().__init__(f"key {key}: expected revision {expected}, found {actual}")
        self.key = key
        self.expected = expected
        self.actual = actual


class RevisionExpiredError(StorageError):
    """A revision older than what etcd or the watch cache still remembers."""

    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(f"too old resource version: {requested} ({oldest})")
        self.requested = requested
        self.oldest = oldest


class StorageUnavailableError(StorageError):
    """etcd could not be reached or answered with an error."""


class StorageTimeoutError(StorageUnavailableError):
    """A write was cut short on a member that stopped serving: it may or may not have been
    applied (kube-apiserver answers such a write with a 504 Timeout, never a success)."""


class RequestTooLargeError(StorageError):
    """etcd refused a request above its size limit (``--max-request-bytes``, 1.5 MiB by
    default). Nothing was written, and sending it again can never succeed."""

    def __init__(self, details: str, size: int = 0) -> None:
        lead = details if "request is too large" in details else f"request is too large for etcd: {details}"
        what = f"the request is {size} bytes, and etcd" if size else "etcd"
        super().__init__(f"{lead} ({what} limits requests to --max-request-bytes, 1.5 MiB by default)")
        self.details = details
        self.size = size
