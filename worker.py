"""The worker: hosts every workflow and activity on the task queue. `python worker.py`."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkerConfig
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from activities.case_records import CaseRecordActivities
from activities.notifications import make_email_sender, make_sms_gateway
from db.engine import get_engine
from processes.declaration import Registry, WorkerResources
from processes.registry import PROCESSES
from settings import Settings, get_settings
from workflows.client import connect
from workflows.task_queues import waits_queue

ACTIVITY_THREADS = 8
"""Activities running at once. Most are short database writes, which more threads than cores
only slow down (they queue for the GIL and the database); the outside calls take about 100 ms,
so eight threads still make some 80 calls a second. Add worker processes to go further."""
CACHED_CASES = 1000
"""Cases kept in memory between their workflow tasks (about 100 KiB each). Most cases wait
days for a person, so the rest are replayed from history when their next decision comes;
this bound is what keeps the worker's memory flat however many cases are open."""


def activities(
    settings: Settings, engine: Engine, processes: Registry = PROCESSES
) -> list[Callable[..., Any]]:
    """The engine's own activities and every process's, bound to the outside systems the
    settings choose."""
    resources = WorkerResources(
        settings=settings,
        engine=engine,
        email=make_email_sender(settings, engine),
        sms=make_sms_gateway(settings, engine),
    )
    records = CaseRecordActivities(engine, settings, resources.email)
    engine_activities: list[Callable[..., Any]] = [
        records.record_stages,
        records.open_task,
        records.mark_task_overdue,
        records.remind_task,
        records.escalate_task,
        records.expire_task,
        records.close_task,
        records.reassign_task,
        records.close_case,
    ]
    return engine_activities + [a for p in processes for a in p.activities(resources)]


WAITING_ACTIVITIES = 2000
"""Long outside waits running at once on the waits queue: asyncio tasks, mostly asleep."""


class Workers:
    """The main worker, and the one for long outside waits (`workflows.task_queues`): their
    activities hold a slot for as long as they wait, so on the main queue eight unreachable
    routers would stop every case of every process. Used as one: `async with`."""

    def __init__(self, main: Worker, waits: Worker | None) -> None:
        self.main = main
        self.waits = waits
        self._running = contextlib.AsyncExitStack()

    def config(self) -> WorkerConfig:
        return self.main.config()

    async def __aenter__(self) -> Workers:
        await self._running.enter_async_context(self.main)
        if self.waits is not None:
            await self._running.enter_async_context(self.waits)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._running.aclose()


def build_worker(
    client: Client, settings: Settings, engine: Engine, processes: Registry = PROCESSES
) -> Workers:
    """The workers for every declared process (tests pass a registry of their own)."""
    hosted = activities(settings, engine, processes)
    main = Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=processes.workflows(),
        activities=hosted,
        activity_executor=ThreadPoolExecutor(ACTIVITY_THREADS),
        max_concurrent_activities=ACTIVITY_THREADS,
        max_cached_workflows=CACHED_CASES,
        workflow_runner=(
            SandboxedWorkflowRunner() if settings.workflow_sandbox else UnsandboxedWorkflowRunner()
        ),
    )
    # Only async activities wait there: they need no thread, just a slot.
    waiting = [a for a in hosted if inspect.iscoroutinefunction(a)]
    waits = (
        Worker(
            client,
            task_queue=waits_queue(settings.temporal_task_queue),
            activities=waiting,
            max_concurrent_activities=WAITING_ACTIVITIES,
        )
        if waiting
        else None
    )
    return Workers(main, waits)


async def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = get_settings()
    client = await connect(settings)
    worker = build_worker(client, settings, get_engine())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with worker:
        logging.getLogger("peygir.worker").info(
            "worker polling %s on %s", settings.temporal_task_queue, settings.temporal_address
        )
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
