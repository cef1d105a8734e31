"""Figure 3: whole e-mail cases/s, submit to answer sent, vs a one-activity workflow (the floor).

The process side: requesters POST the form (N in flight at a time, each waiting for its case's
workflow to finish, i.e. the answer sent and the case closed); a scripted expert polls the
cartable (GET /api/tasks) and approves each review task through the API. The requesters are in
the person registry, so the identity step passes by itself (no second human task), and every
requested username is free. The floor side: FloorWorkflow (bench/floor.py) started and awaited
at the same concurrency, on its own worker process and task queue. Both workers run throughout;
the sides alternate in two rounds. The requesters and the expert speak HTTP through aiohttp
(a fifth of httpx's CPU per request), as in the submit figure.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections import Counter

import aiohttp
import httpx

from bench.cases import register_people
from bench.floor import FLOOR_QUEUE, FloorWorkflow
from bench.forms import form, form_data
from bench.measure import Figure, run_pool, scaled, verdict
from bench.retry import Answer, Retrying, read_aiohttp
from bench.stack import EXPERT, MAIN_QUEUE, CpuMeter, Stack, breakdown, peak_rss_mib
from db.case_store import workflow_id
from domain.cases import CaseOutcome
from processes.email_account import EMAIL_ACCOUNT

TARGET = 0.3
CONCURRENCY = 20
ROUNDS = 2
WARMUP = 3
POLL_SECONDS = 0.2
"""How often the scripted expert reloads the cartable when it found nothing new: five times a
second, far more often than a person, and it adds about 0.1 s to each case."""


async def run(stack: Stack) -> Figure:
    per_side = scaled(500, 10)
    per_round = max(1, per_side // ROUNDS)
    started = time.perf_counter()
    total = WARMUP + per_round * ROUNDS
    register_people(stack.engine, [form(stack.run_id, "pro", i) for i in range(total)])
    serial = iter(range(total))
    retrying = Retrying()
    reads = Counter[str]()
    """Cartable reads of the scripted expert, to tell what its polling costs per case."""
    floor_serial = iter(range(10**9))
    async with (
        stack.worker(MAIN_QUEUE) as worker,
        stack.worker(FLOOR_QUEUE, module="bench.floor") as floor_worker,
        stack.api(MAIN_QUEUE) as api,
        aiohttp.ClientSession(
            base_url=api.base_url,
            timeout=aiohttp.ClientTimeout(total=60),
            connector=aiohttp.TCPConnector(limit=CONCURRENCY * 3),
        ) as http,
    ):
        async with httpx.AsyncClient(base_url=api.base_url, timeout=60) as login:
            headers = await stack.login(login, EXPERT)

        async def case(_: int) -> None:
            body = form_data(stack.run_id, "pro", next(serial))

            async def send() -> Answer:
                async with http.post("/api/email-requests", json=body) as answer:
                    return await read_aiohttp(answer)

            answer = await retrying(send)
            if answer.status != 201:
                raise RuntimeError(f"submit: {answer.status} {answer.body[:500]!r}")
            receipt = json.loads(answer.body)
            wid = workflow_id(EMAIL_ACCOUNT, receipt["tracking_code"])
            outcome = await stack.client.get_workflow_handle(wid).result()
            if outcome != CaseOutcome.done:
                raise RuntimeError(f"{wid} ended {outcome}")

        async def floor(_: int) -> None:
            i = next(floor_serial)
            await stack.client.execute_workflow(
                FloorWorkflow.run, "x", id=f"floor-{stack.run_id}-{i}", task_queue=FLOOR_QUEUE
            )

        async def cases(count: int) -> float:
            expert = asyncio.create_task(_expert(http, headers, retrying, reads))
            pool = asyncio.create_task(run_pool(count, CONCURRENCY, case, timeout=120 + 10 * count))
            try:
                await asyncio.wait({expert, pool}, return_when=asyncio.FIRST_COMPLETED)
                if expert.done():
                    expert.result()  # raises what stopped the expert
                    raise RuntimeError("the scripted expert stopped")
                return pool.result()
            finally:
                for job in (expert, pool):
                    job.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await job

        async def floors(count: int) -> float:
            return await run_pool(count, CONCURRENCY, floor, timeout=120 + count)

        await floors(WARMUP)
        await cases(WARMUP)
        bench, server = os.getpid(), stack.server_pid
        case_cpu = CpuMeter(
            {"worker": worker.pid, "api": api.child.pid, "server": server, "bench": bench},
            stack.backends,
        )
        floor_cpu = CpuMeter(
            {"worker": floor_worker.pid, "server": server, "bench": bench}, stack.backends
        )
        case_time = floor_time = 0.0
        for round_no in range(ROUNDS):
            for side in ("floor", "cases") if round_no % 2 == 0 else ("cases", "floor"):
                meter = floor_cpu if side == "floor" else case_cpu
                meter.start()
                if side == "floor":
                    floor_time += await floors(per_round)
                else:
                    case_time += await cases(per_round)
                meter.stop()
        worker.check_alive()
        floor_worker.check_alive()
        worker_peak = peak_rss_mib(worker)
    count = per_round * ROUNDS
    case_rate, floor_rate = count / case_time, count / floor_time
    ratio = case_rate / floor_rate
    met = ratio >= TARGET
    case_ms, floor_ms = case_cpu.per(count), floor_cpu.per(count)
    line = (
        f"process   cases {case_rate:.1f}/s  floor {floor_rate:.1f}/s  ratio {ratio:.2f}  "
        f"(target ≥ {TARGET}) {verdict(met)}  [CPU per case {case_ms['total']:.0f} ms "
        f"({breakdown(case_ms, 0)}); per floor workflow {floor_ms['total']:.0f} ms; "
        f"worker peak RSS {worker_peak:.0f} MiB; "
        f"503 retried {retrying.retried}]"
    )
    return Figure(
        "process",
        line,
        met,
        {
            "cases per side": count,
            "concurrency": CONCURRENCY,
            "e-mail cases/s": round(case_rate, 2),
            "floor workflows/s": round(floor_rate, 2),
            "ratio": round(ratio, 3),
            "503 answers retried after Retry-After": retrying.retried,
            "cartable reads by the expert per case": round(reads["cartable"] / total, 1),
            **{f"CPU ms per case ({k})": round(v, 1) for k, v in case_ms.items()},
            "worker peak RSS (VmHWM) MiB": round(worker_peak, 1),
            **{f"CPU ms per floor workflow ({k})": round(v, 1) for k, v in floor_ms.items()},
        },
        [
            "identity: requesters registered in the Person registry (checked automatically)",
            "review: a scripted expert polls GET /api/tasks and approves through the API",
            "a case counts when its workflow has returned (answer sent, case closed)",
        ],
        time.perf_counter() - started,
        target=f"ratio ≥ {TARGET}",
        result=f"ratio {ratio:.2f} ({case_rate:.1f} cases/s)",
    )


async def _expert(
    http: aiohttp.ClientSession, headers: dict[str, str], retrying: Retrying, reads: Counter[str]
) -> None:
    """Approve every review task that shows up in the cartable, until cancelled.

    Its approvals run in a task group: a failed one stops the expert with its error, and a
    cancelled expert waits for the approvals it has sent.
    """
    seen: set[str] = set()

    async def approve(task_id: str) -> None:
        async def send() -> Answer:
            async with http.post(
                f"/api/tasks/{task_id}/complete", json={"form_complete": True}, headers=headers
            ) as answer:
                return await read_aiohttp(answer)

        answer = await retrying(send)
        if answer.status != 200:
            raise RuntimeError(f"complete {task_id}: {answer.status} {answer.body[:500]!r}")

    async def listing() -> Answer:
        async with http.get(
            "/api/tasks", params={"process": "email_account"}, headers=headers
        ) as answer:
            return await read_aiohttp(answer)

    try:
        async with asyncio.TaskGroup() as approvals:
            while True:
                answer = await retrying(listing)
                reads["cartable"] += 1
                if answer.status != 200:
                    raise RuntimeError(f"cartable: {answer.status} {answer.body[:500]!r}")
                new = [
                    item["id"]
                    for item in json.loads(answer.body)["items"]
                    if item["step"] == "review_form" and item["id"] not in seen
                ]
                for task_id in new:
                    seen.add(task_id)
                    approvals.create_task(approve(task_id))
                if not new:
                    await asyncio.sleep(POLL_SECONDS)
    except ExceptionGroup as failures:
        raise failures.exceptions[0] from None
