"""The bench's HTTP clients honour `503 Service Unavailable` with `Retry-After`, as a browser would.

The API answers a request that waited too long for a database lock with 503 and Retry-After: the
request was not taken, and the same request later is. A figure retries it after that delay
(bounded) and counts it, so a busy moment costs its time in the figure instead of failing it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import aiohttp
import httpx

MAX_WAIT_SECONDS = 60.0
"""Retries of one request stop after this long: the 503 is then the figure's failure."""
MIN_WAIT_SECONDS = 0.05
"""A `Retry-After: 0` still lets the API breathe before the same request again."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    retry_after: float | None
    """Seconds to wait before the same request again (None: the answer has no Retry-After)."""


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Retry-After as seconds: a number of seconds or an HTTP date (RFC 9110 §10.2.3)."""
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


async def read_aiohttp(response: aiohttp.ClientResponse) -> Answer:
    return Answer(response.status, await response.read(), retry_after(response.headers))


def read_httpx(response: httpx.Response) -> Answer:
    return Answer(response.status_code, response.content, retry_after(response.headers))


class Retrying:
    """Sends a request again while it is answered 503 with Retry-After; counts those answers."""

    def __init__(self) -> None:
        self.retried = 0

    async def __call__(self, send: Callable[[], Awaitable[Answer]]) -> Answer:
        deadline = time.monotonic() + MAX_WAIT_SECONDS
        while True:
            answer = await send()
            if answer.status != 503 or answer.retry_after is None:
                return answer
            if time.monotonic() + answer.retry_after > deadline:
                return answer
            self.retried += 1
            await asyncio.sleep(max(answer.retry_after, MIN_WAIT_SECONDS))
