"""Figure 5: RSS of a worker process with 1k and with 10k open cases waiting in review.

A fresh `python worker.py` polls a task queue of its own. Cases are opened and started (raw)
until 1k wait in their review task; the worker's VmRSS is read once it has settled; then on to
10k. Its idle RSS is read first, to tell what a cached workflow costs. Temporal's sticky cache
keeps at most `max_cached_workflows` workflows in memory (worker.CACHED_CASES), so beyond that
count a waiting case costs the worker (almost) nothing: the line says what the ratio would be
without that bound.
"""

from __future__ import annotations

import asyncio
import statistics
import time

from api.temporal import begin_case_workflow
from bench.cases import open_case, open_review_tasks
from bench.forms import form
from bench.measure import Figure, run_pool, scaled, verdict
from bench.stack import Stack, peak_rss_mib, rss_mib
from processes.email_account import EMAIL_ACCOUNT
from supervise import Child
from worker import CACHED_CASES

TARGET = 1.2
QUEUE = "bench-memory"
CACHE = CACHED_CASES
CONCURRENCY = 10
AHEAD = 200
"""Started cases not yet in review, at most: the worker is not buried under a backlog."""
SETTLE_SECONDS = 5.0


async def run(stack: Stack) -> Figure:
    small, large = scaled(1000, 20), scaled(10_000, 200)
    started = time.perf_counter()
    rss: dict[int, float] = {}
    async with stack.worker(QUEUE) as worker:
        idle = await settled_rss(worker)
        opened: list[int] = []
        for size in (small, large):
            await _fill_to(stack, worker, opened, size)
            rss[size] = await settled_rss(worker)
        peak = peak_rss_mib(worker)
    ratio = rss[large] / rss[small]
    met = ratio <= TARGET
    bounded = large > CACHE
    # What a cached case costs: the slope between the two sizes while all fit in the cache,
    # else the slope from idle (which also holds one-off warm-up allocations: an upper bound).
    if bounded:
        per_case_kib = (rss[small] - idle) * 1024 / small
    else:
        per_case_kib = (rss[large] - rss[small]) * 1024 / (large - small)
    projected = rss[small] + per_case_kib * (large - small) / 1024
    cache_note = (
        f"sticky cache bounded at {CACHE} < {large} cases, which keeps it flat: "
        f"unbounded the ratio would be {projected / rss[small]:.1f}"
        if bounded and met and projected / rss[small] > TARGET
        else f"sticky cache {CACHE} {'<' if bounded else '≥'} {large} cases"
    )
    line = (
        f"memory    idle {idle:.0f} MiB  {_k(small)} {rss[small]:.0f} MiB  "
        f"{_k(large)} {rss[large]:.0f} MiB  ratio {ratio:.2f}  (target ≤ {TARGET}) "
        f"{verdict(met)}  [{per_case_kib:.0f} KiB per cached case; {cache_note}]"
    )
    return Figure(
        "memory",
        line,
        met,
        {
            "idle MiB": round(idle, 1),
            f"{small} cases MiB": round(rss[small], 1),
            f"{large} cases MiB": round(rss[large], 1),
            "peak (VmHWM) MiB": round(peak, 1),
            "ratio": round(ratio, 3),
            "KiB per cached case": round(per_case_kib, 1),
            f"projected MiB if all {large} were cached": round(projected, 1),
        },
        [
            "worker.py as a subprocess; VmRSS from /proc/<pid>/status after a 5 s settle",
            cache_note,
        ],
        time.perf_counter() - started,
        target=f"ratio ≤ {TARGET}",
        result=f"ratio {ratio:.2f}",
    )


def _k(n: int) -> str:
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)


async def _fill_to(stack: Stack, worker: Child, opened: list[int], target: int) -> None:
    """Open and start cases until `target` of them wait in review (bounded in time)."""
    deadline = time.monotonic() + 300 + target
    while True:
        waiting = open_review_tasks(stack.engine, min(opened), max(opened)) if opened else 0
        if waiting >= target:
            return
        worker.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"memory: {waiting}/{target} cases in review")
        todo = min(target - len(opened), max(0, AHEAD - (len(opened) - waiting)))
        if todo:
            await run_pool(todo, CONCURRENCY, lambda _: _begin(stack, opened), timeout=600)
        else:
            await asyncio.sleep(0.25)


async def _begin(stack: Stack, opened: list[int]) -> None:
    request = form(stack.run_id, "mem", len(opened))
    case = open_case(stack.engine, request)
    assert case.id is not None
    opened.append(case.id)
    await begin_case_workflow(stack.client, QUEUE, EMAIL_ACCOUNT, case, request)


async def settled_rss(worker: Child) -> float:
    """Median VmRSS (MiB) of three readings, after the worker has had time to go quiet."""
    await asyncio.sleep(SETTLE_SECONDS)
    readings = []
    for _ in range(3):
        readings.append(rss_mib(worker))
        await asyncio.sleep(1)
    return statistics.median(readings)
