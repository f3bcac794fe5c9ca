"""A stand-in API client for fleet tests that never reach an API server: the fleet's
constructor only keeps its client, and any call on it fails the test."""

from __future__ import annotations

from typing import Any


class NoClient:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"unexpected client call {name}")
