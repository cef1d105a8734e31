"""A per-client sliding-window limit for the public lookups (tracking code guessing)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from threading import Lock

from fastapi import Request

from api.errors import ApiError


class RateLimiter:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._limit = per_minute
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = Lock()

    def hit(self, key: str) -> bool:
        """Count one request for `key`; False once the last minute holds the limit already."""
        now = self._clock()
        with self._lock:
            window = self._hits.setdefault(key, deque())
            while window and now - window[0] >= 60:
                window.popleft()
            if len(window) >= self._limit:
                return False
            window.append(now)
            if len(self._hits) > 100_000:
                self._forget_idle(now)
            return True

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, w in self._hits.items() if not w or now - w[-1] >= 60]:
            del self._hits[key]

    def check(self, request: Request) -> None:
        """FastAPI dependency body: refuse with 429 when the client is over its limit."""
        client = request.client.host if request.client else "unknown"
        if not self.hit(client):
            raise ApiError(429, "rate_limited")
