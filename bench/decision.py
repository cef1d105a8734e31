"""Figure 2: latency of a human decision, POST /api/tasks/{id}/complete vs a raw Update.

Cases are opened and started (raw), the worker runs, and each waits in its review task. Then the
expert decides them one at a time, alternating: one through the API (HTTP, login check, task
lookup, Update), one by `handle.execute_update(EmailAccountWorkflow.complete_task, ...)` with the
same actor. Both return once the task is closed in the cartable (the Update waits for the
close_task activity). The requesters are in the person registry, so each case then runs to its
end in the background, for both sides alike, and nothing is left in the cartable afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import httpx

from api.temporal import begin_case_workflow
from bench.cases import closed_cases, open_case, open_review_tasks, register_people
from bench.forms import form
from bench.measure import Figure, ms, percentile, run_pool, scaled, verdict, wait_until
from bench.retry import Answer, Retrying, read_httpx
from bench.stack import EXPERT, MAIN_QUEUE, Stack
from db.models import Case
from domain.cases import Role
from domain.tasks import Actor, CompleteTaskInput
from processes.email_account import EMAIL_ACCOUNT
from workflows.email_account import EmailAccountWorkflow

TARGET = 1.2
WARMUP = 5
DECISION = {"form_complete": True}


async def run(stack: Stack) -> Figure:
    per_side = scaled(1000, 10)
    started = time.perf_counter()
    count = 2 * (per_side + WARMUP)
    forms = [form(stack.run_id, "dec", i) for i in range(count)]
    register_people(stack.engine, forms)
    cases: list[Case] = []
    retrying = Retrying()
    async with stack.worker(MAIN_QUEUE) as worker, stack.api(MAIN_QUEUE) as api:

        async def begin(i: int) -> None:
            case = open_case(stack.engine, forms[i])
            cases.append(case)
            await begin_case_workflow(stack.client, MAIN_QUEUE, EMAIL_ACCOUNT, case, forms[i])

        await run_pool(count, 10, begin, timeout=60 + count)
        ids = [c.id for c in cases if c.id is not None]
        first, last = min(ids), max(ids)
        await wait_until(
            "cases waiting in review",
            lambda: open_review_tasks(stack.engine, first, last),
            count,
            timeout=120 + count,
            alive=worker.check_alive,
        )
        async with httpx.AsyncClient(base_url=api.base_url, timeout=60) as http:
            headers = await stack.login(http, EXPERT)
            actor = Actor(username=EXPERT, roles=[Role.email_admin], scopes=["*"])

            async def via_api(case: Case) -> None:
                async def send() -> Answer:
                    return read_httpx(
                        await http.post(
                            f"/api/tasks/{_review(case)}/complete", json=DECISION, headers=headers
                        )
                    )

                answer = await retrying(send)
                if answer.status != 200:
                    raise RuntimeError(f"complete: {answer.status} {answer.body[:500]!r}")

            async def raw(case: Case) -> None:
                handle = stack.client.get_workflow_handle_for(
                    EmailAccountWorkflow.run, case.workflow_id
                )
                await handle.execute_update(
                    EmailAccountWorkflow.complete_task,
                    CompleteTaskInput(task_id=_review(case), actor=actor, decision=DECISION),
                )

            api_ms: list[float] = []
            raw_ms: list[float] = []
            for i in range(per_side + WARMUP):
                pair: list[tuple[Callable[[Case], Awaitable[None]], list[float], Case]] = [
                    (via_api, api_ms, cases[2 * i]),
                    (raw, raw_ms, cases[2 * i + 1]),
                ]
                if i % 2:
                    pair.reverse()
                for decide, samples, case in pair:
                    t0 = time.perf_counter()
                    await decide(case)
                    if i >= WARMUP:
                        samples.append(time.perf_counter() - t0)
        await wait_until(
            "decided cases closed",
            lambda: closed_cases(stack.engine, first, last),
            count,
            timeout=120 + count,
            alive=worker.check_alive,
        )
    api50, api99 = percentile(api_ms, 50), percentile(api_ms, 99)
    raw50, raw99 = percentile(raw_ms, 50), percentile(raw_ms, 99)
    ratio = api50 / raw50
    met = ratio <= TARGET
    line = (
        f"decision  api p50 {ms(api50)} p99 {ms(api99)}  raw p50 {ms(raw50)} p99 {ms(raw99)}  "
        f"ratio p50 {ratio:.2f} p99 {api99 / raw99:.2f}  (target p50 ≤ {TARGET}) {verdict(met)}"
        f"  [503 retried {retrying.retried}]"
    )
    return Figure(
        "decision",
        line,
        met,
        {
            "decisions per side": per_side,
            "api p50 ms": round(api50 * 1000, 1),
            "api p99 ms": round(api99 * 1000, 1),
            "raw p50 ms": round(raw50 * 1000, 1),
            "raw p99 ms": round(raw99 * 1000, 1),
            "ratio p50": round(ratio, 3),
            "ratio p99": round(api99 / raw99, 3),
            "503 answers retried after Retry-After": retrying.retried,
        },
        [
            "one decision at a time, API and raw alternating, worker running",
            "review_form tasks, decision {form_complete: true}; the cases then run to the end",
        ],
        time.perf_counter() - started,
        target=f"p50 ratio ≤ {TARGET}",
        result=f"ratio {ratio:.2f} (p50 {ms(api50)})",
    )


def _review(case: Case) -> str:
    return f"{case.workflow_id}:review_form:1"
