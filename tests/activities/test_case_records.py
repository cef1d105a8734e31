"""The read-model writes are idempotent: a local activity run again after a crash adds nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.testing import ActivityEnvironment

from activities.case_records import CaseRecordActivities
from activities.notifications import make_email_sender
from db.models import Case, CaseEvent, Holiday, OutboundMessage, Task, User
from domain.calendar import TEHRAN
from domain.cases import EventKind, Role, TaskStatus
from domain.records import CaseStage, StagesEntered, TaskClosing, TaskOpening
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
        opened_at=datetime.now(UTC),
        sla_working_days=2,
        form_schema={"type": "object"},
        stages=[stage],
    )
    closing = TaskClosing(
        task_id=opening.task_id,
        case_id=case.id,
        decision={"form_complete": True},
        completed_by="email_admin",
    )
    due_dates = {run(records.open_task, opening).due_at for _ in range(2)}
    for _ in range(2):
        run(records.record_stages, StagesEntered(case_id=case.id, stages=[stage]))
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
    assert due_dates == {tasks[0].due_at}


def test_due_date_counts_the_holidays_known_when_the_task_opens(
    engine: Engine, settings: Settings
) -> None:
    """A holiday the admin adds while a case runs counts for the tasks opened after it."""
    records = CaseRecordActivities(engine, settings, make_email_sender(settings, engine))
    run = ActivityEnvironment().run
    case = open_case(engine, form_data())
    assert case.id is not None
    # Saturday 10:00 in Tehran, two working days; the weekend is Thursday and Friday.
    saturday = datetime(2031, 1, 4, 10, 0, tzinfo=TEHRAN)
    assert saturday.weekday() == 5

    def opening(number: int) -> TaskOpening:
        return TaskOpening(
            task_id=f"{case.workflow_id}:review_form:{number}",
            case_id=case.id,  # type: ignore[arg-type]
            step="review_form",
            title_fa="بررسی فرم ارسالی",
            title_en="Review the submitted form",
            role=Role.email_admin,
            scope=None,
            opened_at=saturday,
            sla_working_days=2,
            form_schema={"type": "object"},
        )

    assert run(records.open_task, opening(1)).due_at == saturday + timedelta(days=2)
    with Session(engine) as session:
        session.add(Holiday(day=date(2031, 1, 5), title="تعطیل رسمی"))
        session.commit()
    assert run(records.open_task, opening(2)).due_at == saturday + timedelta(days=3)
    # The first task keeps the due date it was given.
    assert run(records.open_task, opening(1)).due_at == saturday + timedelta(days=2)


def test_a_step_of_a_part_with_its_own_history_stays_off_the_case(
    engine: Engine, settings: Settings
) -> None:
    """A SHAMS site's carrier task (one of thousands under a rollout's case): no e-mail to
    every carrier user, no lines on the rollout's timeline; the task itself is as any other.
    The same task with the defaults e-mails the role's holders and shows on the timeline."""
    records = CaseRecordActivities(engine, settings, make_email_sender(settings, engine))
    run = ActivityEnvironment().run
    case = open_case(engine, form_data())
    assert case.id is not None
    carrier = f"carrier-{case.tracking_code}"
    with Session(engine) as session:
        session.add(
            User(
                username=carrier,
                password_hash="x",
                roles=[Role.carrier.value],
                scopes=["*"],
                email=f"{carrier}@tci.example",
            )
        )
        session.commit()

    def ask(site: str, **part: bool) -> None:
        opening = TaskOpening(
            task_id=f"{case.workflow_id}-{site}:range_site:1",
            case_id=case.id or 0,
            step="range_site",
            title_fa="رانژه",
            title_en="Range",
            role=Role.carrier,
            scope="*",
            opened_at=datetime.now(UTC),
            sla_working_days=10,
            form_schema={"type": "object"},
            **part,
        )
        run(records.open_task, opening)
        closing = TaskClosing(
            task_id=opening.task_id,
            case_id=case.id or 0,
            decision={"feasible": True},
            completed_by=carrier,
            on_case_timeline=part.get("on_case_timeline", True),
        )
        run(records.close_task, closing)

    ask("site-1", notify=False, on_case_timeline=False)
    assert _events(engine, case.id) == [(EventKind.submitted, "submitted")]
    assert _mails_to(engine, carrier) == 0
    with Session(engine) as session:
        task = session.get(Task, f"{case.workflow_id}-site-1:range_site:1")
        assert task is not None and task.status == TaskStatus.done

    ask("site-2")
    assert _events(engine, case.id)[1:] == [
        (EventKind.task_opened, "range_site"),
        (EventKind.task_completed, "range_site"),
    ]
    assert _mails_to(engine, carrier) == 1


def _mails_to(engine: Engine, username: str) -> int:
    with Session(engine) as session:
        return len(
            session.exec(
                select(OutboundMessage).where(col(OutboundMessage.recipient).startswith(username))
            ).all()
        )
