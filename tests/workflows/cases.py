"""What the process workflows' time-skipping tests share: starting a case as the API does
(without search attributes, which the test server cannot register), waiting for its tasks, and
reading its timeline and outbox."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from db.case_store import open_case
from db.models import Case, CaseEvent, OutboundMessage, Task
from domain.cases import TaskStatus
from processes.declaration import Process
from settings import Settings


async def start_case(
    env: WorkflowEnvironment,
    settings: Settings,
    engine: Engine,
    process: Process[Any],
    form: BaseModel,
    *,
    started_by: str | None = None,
    answer_days: int = 14,
) -> tuple[Case, WorkflowHandle[Any, Any]]:
    """The case and its form written, then its workflow started with the process's input."""
    with Session(engine, expire_on_commit=False) as session:
        case = open_case(
            session,
            process,
            form,
            idempotency_key=None,
            answer_due_at=datetime.now(UTC) + timedelta(days=answer_days),
            started_by=started_by,
        )
        session.commit()
    assert case.id is not None
    handle = await env.client.start_workflow(
        process.workflow.run,  # type: ignore[attr-defined]
        process.workflow_input(
            case_id=case.id,
            tracking_code=case.tracking_code,
            form=form,
            submitted_at=case.created_at,
        ),
        id=case.workflow_id,
        task_queue=settings.temporal_task_queue,
    )
    return case, handle


async def open_task(engine: Engine, of: Case | str, step: str, number: int = 1) -> Task:
    """Wait (in real time) until the case's workflow, or the workflow named, has opened the
    step's `number`-th task."""
    workflow_id = of.workflow_id if isinstance(of, Case) else of
    task_id = f"{workflow_id}:{step}:{number}"
    for _ in range(400):
        with Session(engine) as session:
            task = session.get(Task, task_id)
        if task is not None and task.status == TaskStatus.open:
            return task
        await asyncio.sleep(0.05)
    raise AssertionError(f"no open task {task_id}")


def timeline(engine: Engine, case: Case) -> list[CaseEvent]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(col(CaseEvent.id))
            )
        )


def sent(engine: Engine, case: Case) -> list[OutboundMessage]:
    with Session(engine) as session:
        return list(session.exec(select(OutboundMessage).where(OutboundMessage.case_id == case.id)))
