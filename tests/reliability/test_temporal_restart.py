"""The Temporal server stops (cleanly, then with kill -9) and comes back while cases run.

The dev server is a child process here (`temporal server start-dev` on a SQLite file), so it can be
restarted on the same file and port; the worker is the product's `python worker.py`, which must ride
out the outages without being restarted. Every case completes, each side effect made once.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select
from temporalio.client import Client

from db.models import Task
from domain.cases import TaskStatus
from settings import Settings
from supervise import WORKER_READY, Child, free_port, temporal_argv
from tests.reliability.harness import (
    PROGRESS_PER_CASE,
    Expert,
    assert_each_effect_once,
    open_registered_cases,
    progress,
    start_workflows,
    wait_all_closed,
    worker_child,
    workflow_results,
)
from workflows.client import connect

CASES = 60
DOWN_SECONDS = 3.0
"""How long the server stays down at each restart (workers and clients keep trying)."""
SETTLE_SECONDS = 200


class DevServer:
    """`temporal server start-dev` on a fixed file and port, restartable."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        # The same command at each restart: registering the search attributes again is accepted.
        self.child = Child(
            "temporal",
            temporal_argv(workdir / "temporal.db", self.port, "--headless", "--log-level", "error"),
            cwd=workdir,
            log=workdir / "temporal.log",
        )

    def start(self) -> None:
        self.child.start()

    async def wait_serving(self, client: Client | None, settings: Settings) -> Client:
        """Wait (bounded) until the server answers; returns a connected client."""
        deadline = time.monotonic() + 60
        while True:
            if not self.child.running:
                raise AssertionError(f"the dev server exited:\n{self.child.tail()}")
            try:
                if client is None:
                    client = await connect(settings)
                if await client.service_client.check_health():
                    return client
            except Exception as error:
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"the dev server is not serving after 60s: {error!r}\n{self.child.tail()}"
                    ) from None
            await asyncio.sleep(0.25)


@pytest.fixture(scope="module")
async def server(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[DevServer, Client, Settings]]:
    dev = DevServer(tmp_path_factory.mktemp("temporal-restart"))
    restart_settings = settings.model_copy(
        update={
            "temporal_task_queue": "peygir-reliability-restart",
            "temporal_address": dev.address,
        }
    )
    dev.start()
    try:
        client = await dev.wait_serving(None, restart_settings)
        yield dev, client, restart_settings
    finally:
        dev.child.stop()


@pytest.fixture
def worker(server: tuple[DevServer, Client, Settings], tmp_path: Path) -> Iterator[Child]:
    dev, _, restart_settings = server
    child = worker_child(restart_settings, dev.address, tmp_path)
    try:
        yield child
    finally:
        child.stop()


async def _wait_share(engine: Engine, ids: list[int], share: float, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await asyncio.to_thread(progress, engine, ids) >= share:
            return
        await asyncio.sleep(0.2)


async def _wait_open_tasks(engine: Engine, ids: list[int], count: int, timeout: float) -> None:
    def open_tasks() -> int:
        with Session(engine) as session:
            return session.exec(
                select(func.count()).where(
                    Task.status == TaskStatus.open, col(Task.case_id).in_(ids)
                )
            ).one()

    deadline = time.monotonic() + timeout
    while (found := await asyncio.to_thread(open_tasks)) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"only {found} review tasks opened within {timeout:.0f}s")
        await asyncio.sleep(0.2)


async def _restart(
    dev: DevServer,
    client: Client,
    settings: Settings,
    how: str,
    engine: Engine,
    ids: list[int],
    log: list[str],
    expert: Expert | None = None,
) -> None:
    if how == "SIGTERM":
        await dev.child.terminate(timeout=30)
    else:
        dev.child.kill9()
    done = await asyncio.to_thread(progress, engine, ids)
    log.append(f"{how} at {100 * done / (len(ids) * PROGRESS_PER_CASE):.0f}%")
    if expert is not None:
        expert.start()
    await asyncio.sleep(DOWN_SECONDS)
    dev.start()
    await dev.wait_serving(client, settings)


async def test_temporal_restarts_while_cases_run(
    server: tuple[DevServer, Client, Settings], worker: Child, engine: Engine
) -> None:
    dev, client, restart_settings = server
    rng = random.Random()
    began = time.monotonic()
    worker.start()
    await worker.wait_log(WORKER_READY, 1, timeout=60)
    cases = open_registered_cases(engine, CASES, rng)
    ids = [c.case_id for c in cases]
    total = CASES * PROGRESS_PER_CASE
    await start_workflows(client, restart_settings, cases)
    expert = Expert(client, engine, cases)
    done_at_restart: list[str] = []
    try:
        # First outage: once the review tasks are open, the server stops cleanly and the expert
        # starts deciding while it is down (each Update must get through after the restart).
        await _wait_open_tasks(engine, ids, CASES // 2, timeout=60)
        await _restart(
            dev, client, restart_settings, "SIGTERM", engine, ids, done_at_restart, expert
        )
        # Second outage: kill -9 in the middle of mailboxes and answers.
        await _wait_share(engine, ids, total * 0.6, timeout=90)
        await _restart(dev, client, restart_settings, "SIGKILL", engine, ids, done_at_restart)

        def diagnostics() -> str:
            return (
                f"expert: accepted={len(expert.accepted)} retries={expert.retries} "
                f"errors={expert.errors[:5]}\nworker log tail:\n{worker.tail(15)}\n"
                f"server log tail:\n{dev.child.tail(15)}"
            )

        await wait_all_closed(engine, cases, SETTLE_SECONDS, diagnostics=diagnostics, client=client)
        results = await workflow_results(client, cases)
        worker_survived = worker.running and worker.starts == 1
    finally:
        await expert.stop()
        worker.stop()

    print(
        f"\n{CASES} cases; restarts: {done_at_restart}; all done in "
        f"{time.monotonic() - began:.0f}s; expert retried {expert.retries}"
    )
    assert worker_survived, f"the worker died with the server:\n{worker.tail()}"
    assert not expert.errors, expert.errors[:10]
    assert results == {"done": CASES}, results
    assert_each_effect_once(engine, cases)
