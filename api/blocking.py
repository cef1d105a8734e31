"""Database work of the async routes, run in a worker thread.

An `async def` route runs on the event loop, which every request shares: a query waiting there
on a lock would stall health checks, pages and tracking alike. So async routes await only
Temporal; each database phase (ending its transaction) goes through `run_blocking`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import OperationalError

from api.errors import is_lock_wait, unavailable

P = ParamSpec("P")
T = TypeVar("T")


async def run_blocking(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`fn` in the thread pool; a lock wait past the timeout becomes the 503 `unavailable`, an
    ApiError, so a page can keep its form and show the message beside it."""
    try:
        return await run_in_threadpool(fn, *args, **kwargs)
    except OperationalError as error:
        if is_lock_wait(error):
            raise unavailable() from error
        raise
