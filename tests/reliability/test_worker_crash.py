"""The worker dies (kill -9) again and again while 200 cases run: nothing is lost or doubled.

The worker is the product's own `python worker.py` in a child process, configured by environment
variables only, on a dev server of this module. The cases are e-mail requests and, beside them,
equipment repairs (in-house and through a vendor). A scripted expert decides every task through
the `complete_task` Update meanwhile: the e-mail review, and each repair step as the support
lead, the technician, the vendor or the requester; it retries what it sent while no worker was up.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from settings import Settings
from supervise import WORKER_READY, Child
from tests.conftest import start_dev_server
from tests.reliability.harness import (
    PROGRESS_PER_CASE,
    Expert,
    after_review,
    assert_each_effect_once,
    open_registered_cases,
    progress,
    retried_activities,
    start_workflows,
    wait_all_closed,
    worker_child,
    workflow_results,
)
from tests.reliability.repair_cases import (
    add_vendors,
    assert_repairs_as_expected,
    expected_outcomes,
    open_repair_cases,
    repairs_progress,
)

CASES = 200
REPAIRS = 60
"""Of the CASES, equipment repairs (half in-house, half through a vendor); the rest e-mail."""
VENDORS = 2
KILLS = 20
UP_SECONDS = (0.2, 1.5)
"""How long the worker runs (after it starts polling) before each kill -9."""
SPREAD = 0.6
"""Kill k comes once (k-1)/KILLS of this fraction of all the work is done (or after a bound)."""
SHARE_WAIT_SECONDS = 10
SETTLE_SECONDS = 240
"""After the last kill: an activity lost with its worker is retried after its start-to-close
timeout (2 minutes for create_mailbox), so the slowest case may need that long."""


@pytest.fixture(scope="module")
def crash_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"temporal_task_queue": "peygir-reliability-crash"})


@pytest.fixture(scope="module")
async def temporal(
    crash_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[WorkflowEnvironment]:
    db = tmp_path_factory.mktemp("temporal-crash") / "temporal.db"
    env = await start_dev_server(crash_settings, db, dev_server_log_level="error")
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
def worker(
    crash_settings: Settings, temporal: WorkflowEnvironment, tmp_path: Path
) -> Iterator[Child]:
    child = worker_child(
        crash_settings, temporal.client.service_client.config.target_host, tmp_path
    )
    try:
        yield child
    finally:
        child.stop()


async def test_kill9_worker_20_times_with_200_cases_in_flight(
    temporal: WorkflowEnvironment,
    worker: Child,
    crash_settings: Settings,
    engine: Engine,
) -> None:
    client: Client = temporal.client
    rng = random.Random()
    began = time.monotonic()
    worker.start()
    await worker.wait_log(WORKER_READY, 1, timeout=60)

    emails = open_registered_cases(engine, CASES - REPAIRS, rng)
    repairs = open_repair_cases(engine, REPAIRS, add_vendors(engine, VENDORS, rng), rng)
    cases = [*emails, *repairs]
    rng.shuffle(cases)
    await start_workflows(client, crash_settings, cases)
    expert = Expert(client, engine, cases)
    expert.start()
    ids = [c.case_id for c in cases]
    email_ids = [c.case_id for c in emails]
    total = len(emails) * PROGRESS_PER_CASE + repairs_progress(repairs)
    done_at_kill: list[str] = []
    late_steps_at_kill: list[tuple[int, int]] = []
    try:
        for kill in range(1, KILLS + 1):
            await worker.wait_log(WORKER_READY, kill, timeout=60)
            # Spread the kills over the whole life of the cases (mailboxes and answers too):
            # kill k waits (bounded) until its share of the work is done, then strikes at a
            # random moment.
            share = total * SPREAD * (kill - 1) / KILLS
            deadline = time.monotonic() + SHARE_WAIT_SECONDS
            while time.monotonic() < deadline:
                if await asyncio.to_thread(progress, engine, ids) >= share:
                    break
                await asyncio.sleep(0.2)
            await asyncio.sleep(rng.uniform(*UP_SECONDS))
            worker.kill9()
            done = await asyncio.to_thread(progress, engine, ids)
            done_at_kill.append(f"{100 * done / total:.0f}%")
            late_steps_at_kill.append(await asyncio.to_thread(after_review, engine, email_ids))
            worker.start()
        await worker.wait_log(WORKER_READY, KILLS + 1, timeout=60)
        chaos_done = time.monotonic()

        def diagnostics() -> str:
            return (
                f"expert: accepted={len(expert.accepted)} not_open={expert.not_open} "
                f"retries={expert.retries} errors={expert.errors[:5]}\n"
                f"worker log tail:\n{worker.tail(15)}"
            )

        await wait_all_closed(engine, cases, SETTLE_SECONDS, diagnostics=diagnostics, client=client)
        results = await workflow_results(client, cases)
        retried = await retried_activities(client, emails)
        retried_in_repairs = await retried_activities(client, repairs)
    finally:
        await expert.stop()
        worker.stop()

    log = worker.log_text()
    again = [line for line in log.splitlines() if line.endswith("already sent")]
    repair_sends_again = sum(" repair-" in line for line in again)
    print(
        f"\n{CASES} cases ({len(repairs)} repairs), {worker.kills} kills; "
        f"work done at each kill: {done_at_kill}; "
        f"open e-mail cases past review without / with their mailbox at each kill: "
        f"{late_steps_at_kill}; "
        f"chaos {chaos_done - began:.0f}s, all done {time.monotonic() - began:.0f}s; "
        f"expert accepted {len(expert.accepted)}, refused-not-open {expert.not_open}, "
        f"retried {expert.retries}; activities run again after a kill: e-mail {dict(retried)}, "
        f"repair {dict(retried_in_repairs)}; sends found already made on a retry: "
        f"{len(again)} ({repair_sends_again} of repairs)"
    )
    assert worker.kills >= KILLS
    assert retried, "no kill caught an activity in flight"
    assert any(m for m, _ in late_steps_at_kill), "no kill came before mailboxes were made"
    assert any(a for _, a in late_steps_at_kill), "no kill came before answers were sent"
    assert retried_in_repairs or repair_sends_again, "no kill caught a repair case's work"
    assert not expert.errors, expert.errors[:10]
    assert results == Counter({"done": len(emails)}) + expected_outcomes(repairs), results
    assert_each_effect_once(engine, emails)
    assert_repairs_as_expected(engine, repairs, log)
