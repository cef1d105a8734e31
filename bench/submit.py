"""Figure 1: e-mail requests/s through POST /api/email-requests vs a raw start_workflow loop.

Both sides accept the request with the same code (`accept_case`: the one-open-case lookup, the
answer's due date by the calendar, the case rows) and start EmailAccountWorkflow with the same
options, at the same concurrency, on a task queue that no worker polls: the figure is about
accepting a request, not running it, and the API's share of it is HTTP, validation, the thread
hop and the receipt.
The sides alternate in rounds so drift (a growing database, a busy neighbour) hits both alike.
The API side's load generator is aiohttp, whose CPU per request is a fifth of httpx's: on two
shared cores the generator's cost would otherwise be charged to the API (it is still shown).
Afterwards the cases are marked cancelled, so the API's recovery sweep leaves them alone.
"""

from __future__ import annotations

import os
import time

import aiohttp
from sqlalchemy import update
from sqlmodel import Session, col

from api.routes.case_starts import accept_case
from api.temporal import begin_case_workflow
from bench.forms import form, form_data
from bench.measure import Figure, run_pool, scaled, verdict
from bench.retry import Answer, Retrying, read_aiohttp
from bench.stack import CpuMeter, Stack, breakdown
from db.models import Case
from domain.cases import CaseStatus
from domain.messages import Lang
from processes.email_account import EMAIL_ACCOUNT

TARGET = 0.9
IDLE_QUEUE = "bench-submit-idle"
CONCURRENCY = 20
ROUNDS = 4


async def run(stack: Stack) -> Figure:
    total = scaled(1000, 20)
    per_round = max(5, total // ROUNDS)
    warmup = min(20, per_round)
    started = time.perf_counter()
    api_time = raw_time = 0.0
    api_count = raw_count = 0
    retrying = Retrying()
    try:
        async with (
            stack.api(IDLE_QUEUE) as api,
            aiohttp.ClientSession(
                base_url=api.base_url,
                timeout=aiohttp.ClientTimeout(total=60),
                connector=aiohttp.TCPConnector(limit=CONCURRENCY * 2),
            ) as http,
        ):
            serial = iter(range(10**9))

            async def via_api(_: int) -> None:
                body = form_data(stack.run_id, "sub", next(serial))

                async def send() -> Answer:
                    async with http.post("/api/email-requests", json=body) as answer:
                        return await read_aiohttp(answer)

                answer = await retrying(send)
                if answer.status != 201:
                    raise RuntimeError(f"submit: {answer.status} {answer.body[:500]!r}")

            async def raw(_: int) -> None:
                request = form(stack.run_id, "sub", next(serial))
                case = accept_case(
                    stack.engine, stack.settings, EMAIL_ACCOUNT, request, None, None, Lang.fa
                )[0]
                await begin_case_workflow(stack.client, IDLE_QUEUE, EMAIL_ACCOUNT, case, request)

            await run_pool(warmup, CONCURRENCY, via_api, timeout=300)
            await run_pool(warmup, CONCURRENCY, raw, timeout=300)
            bench, server = os.getpid(), stack.server_pid
            api_cpu = CpuMeter(
                {"api": api.child.pid, "server": server, "client": bench}, stack.backends
            )
            raw_cpu = CpuMeter({"server": server, "bench": bench}, stack.backends)
            for round_no in range(ROUNDS):
                sides = [(via_api, "api", api_cpu), (raw, "raw", raw_cpu)]
                if round_no % 2:
                    sides.reverse()
                for job, side, meter in sides:
                    meter.start()
                    elapsed = await run_pool(per_round, CONCURRENCY, job, timeout=600)
                    meter.stop()
                    if side == "api":
                        api_time += elapsed
                        api_count += per_round
                    else:
                        raw_time += elapsed
                        raw_count += per_round
    finally:
        _set_aside(stack)
    api_rate, raw_rate = api_count / api_time, raw_count / raw_time
    ratio = api_rate / raw_rate
    met = ratio >= TARGET
    api_ms, raw_ms = api_cpu.per(api_count), raw_cpu.per(raw_count)
    line = (
        f"submit    api {api_rate:.1f}/s  raw {raw_rate:.1f}/s  ratio {ratio:.2f}  "
        f"(target ≥ {TARGET}) {verdict(met)}  [CPU per request: api side "
        f"{api_ms['total']:.1f} ms ({breakdown(api_ms, 1)}), raw {raw_ms['total']:.1f} ms "
        f"({breakdown(raw_ms, 1)}); "
        f"503 retried {retrying.retried}]"
    )
    return Figure(
        "submit",
        line,
        met,
        {
            "requests per side": api_count,
            "concurrency": CONCURRENCY,
            "api requests/s": round(api_rate, 1),
            "raw starts/s": round(raw_rate, 1),
            "ratio": round(ratio, 3),
            "503 answers retried after Retry-After": retrying.retried,
            **{f"api side CPU ms/request ({k})": round(v, 2) for k, v in api_ms.items()},
            **{f"raw CPU ms/request ({k})": round(v, 2) for k, v in raw_ms.items()},
        },
        [
            "raw = accept_case (the API's own checks and writes) + client.start_workflow (same"
            " options as the API), in the bench process",
            f"no worker polls the task queue; {ROUNDS} alternating rounds per side",
        ],
        time.perf_counter() - started,
        target=f"ratio ≥ {TARGET}",
        result=f"ratio {ratio:.2f}",
    )


def _set_aside(stack: Stack) -> None:
    """Close every case this figure opened (they never run), for the recovery sweep's sake."""
    with Session(stack.engine) as session:
        session.exec(
            update(Case)
            .where(col(Case.workflow_id).like("email-%"), col(Case.current_step) == "submitted")
            .values(status=CaseStatus.cancelled, current_step=None)
        )
        session.commit()
