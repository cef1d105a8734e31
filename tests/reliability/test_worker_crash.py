"""The worker dies (kill -9) again and again while 200 cases run: nothing is lost or doubled.

The worker is the product's own `python worker.py` in a child process, configured by environment
variables only, on a dev server of this module. A scripted expert decides the review step of every
case through the `complete_task` Update meanwhile, retrying what it sent while no worker was up.
"""

from __future__ import annotations

import asyncio
import random
import time
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

CASES = 200
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

    cases = open_registered_cases(engine, CASES, rng)
    await start_workflows(client, crash_settings, cases)
    expert = Expert(client, engine, cases)
    expert.start()
    ids = [c.case_id for c in cases]
    total = CASES * PROGRESS_PER_CASE
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
            late_steps_at_kill.append(await asyncio.to_thread(after_review, engine, ids))
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
        retried = await retried_activities(client, cases)
    finally:
        await expert.stop()
        worker.stop()

    print(
        f"\n{CASES} cases, {worker.kills} kills; work done at each kill: {done_at_kill}; "
        f"open cases past review without / with their mailbox at each kill: {late_steps_at_kill}; "
        f"chaos {chaos_done - began:.0f}s, all done {time.monotonic() - began:.0f}s; "
        f"expert accepted {len(expert.accepted)}, refused-not-open {expert.not_open}, "
        f"retried {expert.retries}; activities run again after a kill: {dict(retried)}; "
        f"sends found already made on a retry: {worker.log_text().count('already sent')}"
    )
    assert worker.kills >= KILLS
    assert retried, "no kill caught an activity in flight"
    assert any(m for m, _ in late_steps_at_kill), "no kill came before mailboxes were made"
    assert any(a for _, a in late_steps_at_kill), "no kill came before answers were sent"
    assert not expert.errors, expert.errors[:10]
    assert results == {"done": CASES}, results
    assert_each_effect_once(engine, cases)
