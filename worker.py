"""The worker: hosts every workflow and activity on the task queue. `python worker.py`."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from activities.case_records import CaseRecordActivities
from activities.email_account import EmailAccountActivities
from activities.mail_directory import make_mail_directory
from activities.notifications import make_email_sender, make_sms_gateway
from db.engine import get_engine
from settings import Settings, get_settings
from workflows.client import connect
from workflows.email_account import EmailAccountWorkflow

WORKFLOWS: Sequence[type] = (EmailAccountWorkflow,)
ACTIVITY_THREADS = 8
"""Activities running at once. Most are short database writes, which more threads than cores
only slow down (they queue for the GIL and the database); the outside calls take about 100 ms,
so eight threads still make some 80 calls a second. Add worker processes to go further."""
CACHED_CASES = 1000
"""Cases kept in memory between their workflow tasks (about 100 KiB each). Most cases wait
days for a person, so the rest are replayed from history when their next decision comes;
this bound is what keeps the worker's memory flat however many cases are open."""


def activities(settings: Settings, engine: Engine) -> list[Callable[..., Any]]:
    """Every activity, bound to its outside systems as the settings choose them."""
    email = make_email_sender(settings, engine)
    records = CaseRecordActivities(engine, settings, email)
    account = EmailAccountActivities(
        engine,
        settings,
        make_mail_directory(settings, engine),
        make_sms_gateway(settings, engine),
        email,
    )
    return [
        records.record_stages,
        records.open_task,
        records.mark_task_overdue,
        records.close_task,
        records.reassign_task,
        records.close_case,
        account.check_request,
        account.check_username,
        account.create_mailbox,
        account.send_answer,
    ]


def build_worker(client: Client, settings: Settings, engine: Engine) -> Worker:
    return Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=list(WORKFLOWS),
        activities=activities(settings, engine),
        activity_executor=ThreadPoolExecutor(ACTIVITY_THREADS),
        max_concurrent_activities=ACTIVITY_THREADS,
        max_cached_workflows=CACHED_CASES,
        workflow_runner=(
            SandboxedWorkflowRunner() if settings.workflow_sandbox else UnsandboxedWorkflowRunner()
        ),
    )


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
