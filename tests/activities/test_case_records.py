"""The read-model writes are idempotent: a local activity run again after a crash adds nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.testing import ActivityEnvironment

from activities.case_records import CaseRecordActivities
from activities.notifications import make_email_sender
from db.models import Case, CaseEvent, Task
from domain.cases import EventKind, Role, TaskStatus
from domain.records import CaseStage, TaskClosing, TaskOpening
from settings import Settings
from tests.factories import form_data, open_case


def _events(engine: Engine, case_id: int) -> list[tuple[EventKind, str | None]]:
    with Session(engine) as session:
        rows = session.exec(
            select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(col(CaseEvent.id))
        ).all()
        return [(e.kind, e.step) for e in rows]


def test_each_write_twice_leaves_one_row(engine: Engine, settings: Settings) -> None:
    records = CaseRecordActivities(engine, settings, make_email_sender(settings, engine))
    run = ActivityEnvironment().run
    case = open_case(engine, form_data())
    assert case.id is not None
    stage = CaseStage(
        case_id=case.id,
        event_key=f"{case.workflow_id}:stage:review_form:1",
        step="review_form",
        text_fa="بررسی فرم ارسالی",
        text_en="Review the submitted form",
    )
    opening = TaskOpening(
        task_id=f"{case.workflow_id}:review_form:1",
        case_id=case.id,
        step="review_form",
        title_fa="بررسی فرم ارسالی",
        title_en="Review the submitted form",
        role=Role.email_admin,
        scope=None,
        due_at=datetime.now(UTC) + timedelta(days=2),
        form_schema={"type": "object"},
    )
    closing = TaskClosing(
        task_id=opening.task_id,
        case_id=case.id,
        decision={"form_complete": True},
        completed_by="email_admin",
    )
    for _ in range(2):
        run(records.record_stage, stage)
        run(records.open_task, opening)
    for _ in range(2):
        run(records.close_task, closing)

    assert _events(engine, case.id) == [
        (EventKind.submitted, "submitted"),
        (EventKind.stage, "review_form"),
        (EventKind.task_opened, "review_form"),
        (EventKind.task_completed, "review_form"),
    ]
    with Session(engine) as session:
        stored = session.get(Case, case.id)
        assert stored is not None and stored.current_step == "review_form"
        tasks = session.exec(select(Task).where(Task.case_id == case.id)).all()
        assert [(t.status, t.completed_by) for t in tasks] == [(TaskStatus.done, "email_admin")]
