"""Process 1 on the time-skipping server, with the real activities on the test database."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowHistory,
    WorkflowUpdateFailedError,
    WorkflowUpdateStage,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

import worker as worker_module
from activities.mail_directory import LocalMailDirectory, MailboxSpec
from db.models import (
    Case,
    CaseEvent,
    CredentialReveal,
    DirectoryMailbox,
    Holiday,
    MailAccount,
    OutboundMessage,
    Task,
    User,
)
from domain.calendar import TEHRAN, to_jalali_date_str
from domain.cases import CaseStatus, EventKind, Role, TaskStatus
from domain.email_account import EmailAccountInput, EmailRequestForm
from domain.records import TaskReassignment
from domain.tasks import Actor, CancelCaseInput, CompleteTaskInput, ReassignTaskInput, TaskRefusal
from settings import Settings
from tests.factories import form_data, open_case, register_person
from worker import build_worker
from workflows.email_account import IDENTITY, REVIEW, EmailAccountWorkflow

EXPERT = Actor(username="email_admin", roles=[Role.email_admin], scopes=["*"])
ADMIN = Actor(username="admin", roles=[Role.admin], scopes=["*"])


@pytest.fixture
async def worker(
    env: WorkflowEnvironment, settings: Settings, engine: Engine
) -> AsyncIterator[Worker]:
    async with build_worker(env.client, settings, engine) as running:
        yield running


async def start(
    env: WorkflowEnvironment, settings: Settings, engine: Engine, data: dict[str, Any]
) -> tuple[Case, WorkflowHandle[EmailAccountWorkflow, str]]:
    case = open_case(engine, data)
    assert case.id is not None
    handle = await env.client.start_workflow(
        EmailAccountWorkflow.run,
        EmailAccountInput(
            case_id=case.id,
            tracking_code=case.tracking_code,
            form=EmailRequestForm.model_validate(data),
            submitted_at=case.created_at,
        ),
        id=case.workflow_id,
        task_queue=settings.temporal_task_queue,
    )
    return case, handle


async def open_task(engine: Engine, case: Case, step: str) -> Task:
    """Wait (in real time) until the workflow has put the step's task in the cartable."""
    for _ in range(200):
        with Session(engine) as session:
            task = session.exec(
                select(Task).where(
                    Task.case_id == case.id, Task.step == step, Task.status == TaskStatus.open
                )
            ).first()
        if task is not None:
            return task
        await asyncio.sleep(0.05)
    raise AssertionError(f"no open {step} task for case {case.tracking_code}")


async def decide(
    handle: WorkflowHandle[EmailAccountWorkflow, Any],
    task: Task,
    decision: dict[str, Any],
    actor: Actor = EXPERT,
) -> None:
    await handle.execute_update(
        EmailAccountWorkflow.complete_task,
        CompleteTaskInput(task_id=task.id, actor=actor, decision=decision),
    )


async def refusal(
    handle: WorkflowHandle[EmailAccountWorkflow, Any],
    task: Task,
    decision: dict[str, Any],
    actor: Actor = EXPERT,
) -> ApplicationError:
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await decide(handle, task, decision, actor)
    assert isinstance(failed.value.cause, ApplicationError)
    return failed.value.cause


def messages(engine: Engine, case: Case) -> list[OutboundMessage]:
    with Session(engine) as session:
        return list(session.exec(select(OutboundMessage).where(OutboundMessage.case_id == case.id)))


def reload(engine: Engine, case: Case) -> Case:
    with Session(engine) as session:
        fresh = session.get(Case, case.id)
        assert fresh is not None
        return fresh


async def test_happy_path_registry_match(env, settings, engine, worker) -> None:
    data = form_data()
    register_person(engine, data)
    case, handle = await start(env, settings, engine, data)

    review = await open_task(engine, case, REVIEW.key)
    assert review.context["national_code"] == data["national_code"]
    assert review.form_schema["properties"]["form_complete"]["type"] == "boolean"
    await decide(handle, review, {"form_complete": True})

    assert await handle.result() == "done"
    address = f"{data['requested_username']}@{settings.mail_domain}"
    closed = reload(engine, case)
    assert closed.status == CaseStatus.closed
    assert closed.outcome_detail == {"address": address}
    with Session(engine) as session:
        accounts = session.exec(select(MailAccount).where(MailAccount.case_id == case.id)).all()
        assert [a.address for a in accounts] == [address]
        assert session.get(DirectoryMailbox, data["requested_username"]) is not None
        reveal = session.get(CredentialReveal, case.id)
        assert reveal is not None and reveal.ciphertext
        steps = [
            e.step
            for e in session.exec(
                select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
            )
        ]
        tasks = session.exec(select(Task).where(Task.case_id == case.id)).all()
    assert [t.step for t in tasks] == [REVIEW.key]  # identity matched: no human check
    assert steps[:3] == ["submitted", REVIEW.key, REVIEW.key]
    assert {"verify_identity", "create_mailbox", "send_answer"} <= set(steps)
    sent = messages(engine, case)
    assert sorted(m.channel for m in sent) == ["email", "sms"]
    assert all(address in m.body for m in sent)
    assert all(reveal.ciphertext not in m.body for m in sent)


async def test_production_worker_runs_the_case_without_the_sandbox(env, settings, engine) -> None:
    """docker-compose.yml turns the sandbox off; the same case runs the same way."""
    data = form_data()
    register_person(engine, data)
    unsandboxed = settings.model_copy(update={"workflow_sandbox": False})
    running = build_worker(env.client, unsandboxed, engine)
    assert isinstance(running.config()["workflow_runner"], UnsandboxedWorkflowRunner)
    async with running:
        case, handle = await start(env, settings, engine, data)
        await decide(handle, await open_task(engine, case, REVIEW.key), {"form_complete": True})
        assert await handle.result() == "done"
    assert reload(engine, case).outcome_detail == {
        "address": f"{data['requested_username']}@{settings.mail_domain}"
    }


class _DirectoryDownOnce(LocalMailDirectory):
    """The university's directory does not answer the first creation call."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.calls = 0

    def create_mailbox(self, spec: MailboxSpec, password: str) -> None:
        self.calls += 1
        if self.calls == 1:
            raise ConnectionError("directory unreachable")
        super().create_mailbox(spec, password)


async def test_outside_call_that_fails_once_is_retried_as_a_regular_activity(
    env, settings, engine, monkeypatch
) -> None:
    """Tried once as a local activity; on failure the stages are written first, then the call
    goes on as a regular activity with its retry policy, and the case completes."""
    directory = _DirectoryDownOnce(engine)
    monkeypatch.setattr("activities.mail_directory.make_mail_directory", lambda *_: directory)
    data = form_data()
    register_person(engine, data)
    async with build_worker(env.client, settings, engine):
        case, handle = await start(env, settings, engine, data)
        await decide(handle, await open_task(engine, case, REVIEW.key), {"form_complete": True})
        assert await handle.result() == "done"
    assert directory.calls == 2
    history = await handle.fetch_history()
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    assert scheduled == ["close_task", "create_mailbox"]
    with Session(engine) as session:
        steps = [
            e.step
            for e in session.exec(
                select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
            )
        ]
        assert session.get(DirectoryMailbox, data["requested_username"]) is not None
    assert steps[-4:] == ["verify_identity", "create_mailbox", "send_answer", None]


async def test_form_refused(env, settings, engine, worker) -> None:
    case, handle = await start(env, settings, engine, form_data())
    review = await open_task(engine, case, REVIEW.key)
    await decide(handle, review, {"form_complete": False, "refusal_reason": "واحد نامعتبر است"})
    assert await handle.result() == "refused"
    closed = reload(engine, case)
    assert closed.outcome == "refused"
    assert closed.outcome_detail == {"reason": "واحد نامعتبر است"}
    sms = [m for m in messages(engine, case) if m.channel == "sms"]
    assert len(sms) == 1 and "واحد نامعتبر است" in sms[0].body
    with Session(engine) as session:
        assert (
            session.exec(select(MailAccount).where(MailAccount.case_id == case.id)).first() is None
        )


async def test_identity_refused_by_expert(env, settings, engine, worker) -> None:
    case, handle = await start(env, settings, engine, form_data())  # not in the registry
    await decide(handle, await open_task(engine, case, REVIEW.key), {"form_complete": True})
    identity = await open_task(engine, case, IDENTITY.key)
    assert identity.context["registry"] == "not in the registry"
    await decide(
        handle, identity, {"identity_confirmed": False, "refusal_reason": "شماره دانشجویی نادرست"}
    )
    assert await handle.result() == "refused"
    assert reload(engine, case).outcome_detail["reason"] == "شماره دانشجویی نادرست"


def _mailbox_of_someone_else(engine: Engine, settings: Settings, username: str) -> None:
    LocalMailDirectory(engine).create_mailbox(
        MailboxSpec(
            username=username,
            address=f"{username}@{settings.mail_domain}",
            first_name="x",
            last_name="y",
            owner_ref="someone-else",
        ),
        "Password123",
    )


async def test_username_taken_reviewer_picks_alternative(env, settings, engine, worker) -> None:
    data = form_data()
    register_person(engine, data)
    _mailbox_of_someone_else(engine, settings, data["requested_username"])
    case, handle = await start(env, settings, engine, data)
    await decide(handle, await open_task(engine, case, REVIEW.key), {"form_complete": True})

    choose = await open_task(engine, case, "choose_username")
    options = choose.form_schema["properties"]["username"]["enum"]
    assert options and data["requested_username"] not in options
    error = await refusal(handle, choose, {"username": "not-offered"})
    assert error.type == TaskRefusal.invalid_decision
    assert error.details[0][0]["field"] == "username"
    await decide(handle, choose, {"username": options[0]})

    assert await handle.result() == "done"
    assert reload(engine, case).outcome_detail == {
        "address": f"{options[0]}@{settings.mail_domain}"
    }


class _TakenAfterTheCheck(LocalMailDirectory):
    """Someone else's mailbox appears between the username check and the creation."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.checks = 0

    def is_taken(self, username: str, owner_ref: str) -> bool:
        self.checks += 1
        return self.checks > 1 and super().is_taken(username, owner_ref)


async def test_username_taken_at_creation_asks_for_another(
    env, settings, engine, monkeypatch
) -> None:
    monkeypatch.setattr(
        "activities.mail_directory.make_mail_directory", lambda *_: _TakenAfterTheCheck(engine)
    )
    data = form_data()
    register_person(engine, data)
    _mailbox_of_someone_else(engine, settings, data["requested_username"])
    async with build_worker(env.client, settings, engine):
        case, handle = await start(env, settings, engine, data)
        await decide(handle, await open_task(engine, case, REVIEW.key), {"form_complete": True})
        choose = await open_task(engine, case, "choose_username")
        options = choose.form_schema["properties"]["username"]["enum"]
        assert data["requested_username"] not in options
        await decide(handle, choose, {"username": options[0]})
        assert await handle.result() == "done"
    with Session(engine) as session:
        mailbox = session.get(DirectoryMailbox, data["requested_username"])
        assert mailbox is not None and mailbox.owner_ref == "someone-else"


async def test_update_validator_refusals(env, settings, engine, worker) -> None:
    case, handle = await start(env, settings, engine, form_data())
    review = await open_task(engine, case, REVIEW.key)

    technician = Actor(username="tech", roles=[Role.technician], scopes=["*"])
    assert (await refusal(handle, review, {"form_complete": True}, technician)).type == (
        TaskRefusal.not_authorized
    )
    bad = await refusal(handle, review, {"form_complete": False})
    assert bad.type == TaskRefusal.invalid_decision
    extra = await refusal(handle, review, {"form_complete": True, "hack": 1})
    assert extra.details[0][0]["field"] == "hack"

    # The case (not in the registry) goes on to identity; the review task is closed.
    await decide(handle, review, {"form_complete": True})
    identity = await open_task(engine, case, IDENTITY.key)
    assert (await refusal(handle, review, {"form_complete": True})).type == TaskRefusal.not_open
    await decide(handle, identity, {"identity_confirmed": False, "refusal_reason": "ناقص"})
    assert await handle.result() == "refused"


async def test_sla_expiry_escalates_on_working_days_then_completes(
    env, settings, engine, worker
) -> None:
    with Session(engine) as session:
        session.add(
            User(
                username=f"supervisor-{uuid.uuid4().hex[:6]}",
                password_hash="x",
                roles=[Role.it_supervisor],
                scopes=["*"],
                email="supervisor@university.ac.ir",
            )
        )
        session.commit()
    # Start on a Wednesday at 10:00 Tehran time; Saturday is an official holiday that week.
    now = (await env.get_current_time()).astimezone(TEHRAN)
    wednesday = (now + timedelta(days=(2 - now.weekday()) % 7 or 7)).replace(
        hour=10, minute=0, second=0, microsecond=0
    )
    saturday = (wednesday + timedelta(days=3)).date()
    with Session(engine) as session:
        session.add(Holiday(day=saturday, title="تعطیل رسمی"))
        session.commit()
    await env.sleep(wednesday - now)

    case, handle = await start(env, settings, engine, form_data())
    review = await open_task(engine, case, REVIEW.key)
    now = await env.get_current_time()
    # Thursday, Friday (weekend) and Saturday (holiday) do not count: Sunday and Monday do.
    due = review.due_at.astimezone(TEHRAN)
    assert (due.weekday(), due.date()) == (0, saturday + timedelta(days=2))
    assert abs(due - wednesday.replace(day=due.day, month=due.month, year=due.year)) < timedelta(
        minutes=1
    )
    assert to_jalali_date_str(due) == to_jalali_date_str(wednesday + timedelta(days=5))

    await env.sleep(review.due_at - now - timedelta(hours=1))
    with Session(engine) as session:
        assert session.get(Task, review.id).overdue is False  # type: ignore[union-attr]
    await env.sleep(timedelta(hours=2))
    for _ in range(100):
        with Session(engine) as session:
            task = session.get(Task, review.id)
            assert task is not None
            if task.overdue:
                break
        await asyncio.sleep(0.05)
    assert task.overdue and task.status == TaskStatus.open
    with Session(engine) as session:
        escalations = session.exec(
            select(OutboundMessage).where(OutboundMessage.message_key.startswith(review.id))  # type: ignore[attr-defined]
        ).all()
        kinds = {
            e.kind for e in session.exec(select(CaseEvent).where(CaseEvent.case_id == case.id))
        }
    assert any(m.recipient == "supervisor@university.ac.ir" for m in escalations)
    assert EventKind.task_overdue in kinds

    await decide(handle, review, {"form_complete": False, "refusal_reason": "دیر بررسی شد"})
    assert await handle.result() == "refused"


async def test_admin_cancels_case(env, settings, engine, worker) -> None:
    case, handle = await start(env, settings, engine, form_data())
    review = await open_task(engine, case, REVIEW.key)

    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(
            EmailAccountWorkflow.cancel_case, CancelCaseInput(actor=EXPERT, reason="تکراری")
        )
    status = await handle.execute_update(
        EmailAccountWorkflow.cancel_case, CancelCaseInput(actor=ADMIN, reason="درخواست تکراری")
    )
    assert status == CaseStatus.cancelled
    assert await handle.result() == "cancelled"
    closed = reload(engine, case)
    assert closed.status == CaseStatus.cancelled
    assert closed.outcome_detail == {"reason": "درخواست تکراری", "by": "admin"}
    with Session(engine) as session:
        assert session.get(Task, review.id).status == TaskStatus.cancelled  # type: ignore[union-attr]
    with pytest.raises(RPCError):  # the workflow is closed: the API answers 409
        await decide(handle, review, {"form_complete": True})


async def test_live_query_shows_open_task(env, settings, engine, worker) -> None:
    case, handle = await start(env, settings, engine, form_data())
    review = await open_task(engine, case, REVIEW.key)
    live = await handle.query(EmailAccountWorkflow.live)
    assert live.current_step == REVIEW.key
    assert [t.task_id for t in live.open_tasks] == [review.id]
    assert live.open_tasks[0].due_at.astimezone(UTC) == review.due_at.astimezone(UTC)
    assert datetime.now(UTC) < live.open_tasks[0].due_at
    await decide(handle, review, {"form_complete": False, "refusal_reason": "ناقص"})
    await handle.result()


async def test_admin_reassigns_task_to_one_expert(env, settings, engine, worker) -> None:
    case, handle = await start(env, settings, engine, form_data())
    review = await open_task(engine, case, REVIEW.key)
    colleague = Actor(username="colleague", roles=[Role.email_admin], scopes=["*"])

    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(
            EmailAccountWorkflow.reassign_task,
            ReassignTaskInput(
                task_id=review.id, actor=EXPERT, assignee="colleague", reason="مرخصی"
            ),
        )
    view = await handle.execute_update(
        EmailAccountWorkflow.reassign_task,
        ReassignTaskInput(task_id=review.id, actor=ADMIN, assignee="colleague", reason="مرخصی"),
    )
    assert view.assignee == "colleague"
    with Session(engine) as session:
        assert session.get(Task, review.id).assignee == "colleague"  # type: ignore[union-attr]
        kinds = [
            e.kind for e in session.exec(select(CaseEvent).where(CaseEvent.case_id == case.id))
        ]
    assert EventKind.task_reassigned in kinds

    refused = await refusal(handle, review, {"form_complete": True})  # EXPERT: not the assignee
    assert refused.type == TaskRefusal.not_authorized
    await decide(handle, review, {"form_complete": False, "refusal_reason": "ناقص"}, colleague)
    assert await handle.result() == "refused"


async def test_concurrent_reassigns_agree_with_the_database(env, settings, engine, worker) -> None:
    """Three reassignments at once: each gets its timeline event, and the database names the
    assignee the workflow shows (they write one after another, in the order they ran)."""
    case, handle = await start(env, settings, engine, form_data())
    review = await open_task(engine, case, REVIEW.key)
    names = ["colleague1", "colleague2", "colleague3"]
    views = await asyncio.gather(
        *(
            handle.execute_update(
                EmailAccountWorkflow.reassign_task,
                ReassignTaskInput(task_id=review.id, actor=ADMIN, assignee=name, reason="نوبت"),
            )
            for name in names
        )
    )
    assert sorted(v.assignee for v in views) == names
    [live] = (await handle.query(EmailAccountWorkflow.live)).open_tasks
    with Session(engine) as session:
        task = session.get(Task, review.id)
        assert task is not None and task.assignee == live.assignee
        reassigned = session.exec(
            select(CaseEvent)
            .where(CaseEvent.case_id == case.id, CaseEvent.kind == EventKind.task_reassigned)
            .order_by(col(CaseEvent.id))
        ).all()
    assert len(reassigned) == len(names)
    assert task.assignee in reassigned[-1].text_en
    colleague = Actor(username=live.assignee or "", roles=[Role.email_admin], scopes=["*"])
    await decide(handle, review, {"form_complete": False, "refusal_reason": "ناقص"}, colleague)
    assert await handle.result() == "refused"


async def test_case_ends_after_its_update_handlers(env, settings, engine, monkeypatch) -> None:
    """The new assignee decides while the reassignment is still being written: the case closes
    only once that write is done, and the admin gets the reassignment's answer."""
    release = threading.Event()
    real_activities = worker_module.activities

    def with_slow_reassign(*args: Any) -> list[Any]:
        found = real_activities(*args)
        [real] = [a for a in found if a.__name__ == "reassign_task"]

        @activity.defn(name="reassign_task")
        def slow(change: TaskReassignment) -> None:
            release.wait(timeout=30)
            real(change)

        return [slow if a is real else a for a in found]

    monkeypatch.setattr(worker_module, "activities", with_slow_reassign)
    async with build_worker(env.client, settings, engine):
        case, handle = await start(env, settings, engine, form_data())
        review = await open_task(engine, case, REVIEW.key)
        reassign = await handle.start_update(
            EmailAccountWorkflow.reassign_task,
            ReassignTaskInput(task_id=review.id, actor=ADMIN, assignee="colleague", reason="نوبت"),
            wait_for_stage=WorkflowUpdateStage.ACCEPTED,
        )
        colleague = Actor(username="colleague", roles=[Role.email_admin], scopes=["*"])
        await decide(handle, review, {"form_complete": False, "refusal_reason": "ناقص"}, colleague)
        for _ in range(100):
            if reload(engine, case).status == CaseStatus.closed:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        description = await handle.describe()
        release.set()
        assert description.status == WorkflowExecutionStatus.RUNNING
        assert (await reassign.result()).assignee == "colleague"
        assert await handle.result() == "refused"
    with Session(engine) as session:
        task = session.get(Task, review.id)
        assert task is not None and task.assignee == "colleague"


def _events_after_updates(history: WorkflowHistory) -> list[list[str]]:
    """For each accepted Update, the events its workflow task produced (up to the next task)."""
    names = [EventType.Name(e.event_type).removeprefix("EVENT_TYPE_") for e in history.events]
    markers = {e.event_id: e.marker_recorded_event_attributes.marker_name for e in history.events}
    produced: list[list[str]] = []
    for index, name in enumerate(names):
        if name != "WORKFLOW_EXECUTION_UPDATE_ACCEPTED":
            continue
        after: list[str] = []
        for event, following in zip(history.events[index + 1 :], names[index + 1 :], strict=True):
            if following.startswith("WORKFLOW_TASK_"):
                break
            after.append(markers[event.event_id] or following)
        produced.append(after)
    return produced


async def test_no_local_write_before_an_update_is_saved(env, settings, engine, worker) -> None:
    """Local activities write the read model, except in the workflow task accepting an Update:
    lost with its worker, that task would take the Update with it but leave the writes."""
    case, handle = await start(env, settings, engine, form_data())  # not in the registry
    review = await open_task(engine, case, REVIEW.key)
    await handle.execute_update(
        EmailAccountWorkflow.reassign_task,
        ReassignTaskInput(task_id=review.id, actor=ADMIN, assignee="email_admin", reason="نوبت"),
    )
    await decide(handle, review, {"form_complete": True})
    await open_task(engine, case, IDENTITY.key)
    await handle.execute_update(
        EmailAccountWorkflow.cancel_case, CancelCaseInput(actor=ADMIN, reason="درخواست تکراری")
    )
    assert await handle.result() == "cancelled"

    history = await handle.fetch_history()
    local_writes = [
        e
        for e in history.events
        if e.marker_recorded_event_attributes.marker_name == "core_local_activity"
    ]
    # The review task, the registry check, the identity task and the closing.
    assert len(local_writes) == 4, "the read model is not written by local activities"
    produced = _events_after_updates(history)
    assert len(produced) == 3
    for after in produced:
        assert "core_local_activity" not in after, after
        assert "ACTIVITY_TASK_SCHEDULED" in after, after
