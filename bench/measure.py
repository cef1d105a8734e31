"""Small measuring tools shared by the figures: sizes, pools, percentiles, bounded waits."""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


def scale() -> float:
    """BENCH_SCALE (default 1): multiplies every size."""
    value = float(os.environ.get("BENCH_SCALE", "1"))
    if not 0 < value <= 10:
        raise SystemExit("BENCH_SCALE must be in (0, 10]")
    return value


def scaled(full: int, minimum: int) -> int:
    """`full` times BENCH_SCALE, never below `minimum`."""
    return max(minimum, round(full * scale()))


@dataclass
class Figure:
    """One measured figure: the printed line, whether its target was met, the raw numbers."""

    name: str
    line: str
    met: bool
    numbers: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    target: str = ""
    """The target in a few words, for the table of both databases."""
    result: str = ""
    """What the target is judged on, measured, in a few words."""


def verdict(met: bool) -> str:
    return "OK" if met else "MISSED"


def percentile(samples: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


async def run_pool(
    count: int, concurrency: int, job: Callable[[int], Awaitable[None]], *, timeout: float
) -> float:
    """Run job(0..count-1) with `concurrency` in flight; returns the elapsed seconds.

    The first job to fail (or the timeout) cancels the others and waits for them, and its error
    is raised as is: no job outlives the pool to hold a connection or a Temporal call open.
    """
    indexes = iter(range(count))

    async def lane() -> None:
        for i in indexes:
            await job(i)

    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout), asyncio.TaskGroup() as group:
            for _ in range(min(concurrency, count)):
                group.create_task(lane())
    except ExceptionGroup as failures:
        raise failures.exceptions[0] from None
    return time.perf_counter() - started


async def wait_until(
    what: str,
    reached: Callable[[], int],
    target: int,
    *,
    timeout: float,
    interval: float = 0.25,
    alive: Callable[[], None] | None = None,
) -> float:
    """Poll `reached()` until it gives `target`; returns the seconds waited, raises on timeout."""
    started = time.perf_counter()
    deadline = started + timeout
    last = -1
    while True:
        last = reached()
        if last >= target:
            return time.perf_counter() - started
        if alive is not None:
            alive()
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{what}: {last}/{target} after {timeout:.0f}s")
        await asyncio.sleep(interval)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"
