"""Staff view of a case: its timeline, open tasks and live step; comments; cancel (admin)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, status
from pydantic import BaseModel, BeforeValidator, Field
from sqlalchemy import ColumnElement, and_, func, not_
from sqlalchemy import case as sa_case
from sqlmodel import Session, col, select
from temporalio.client import Client

from api.audit import record
from api.blocking import run_blocking
from api.errors import ApiError, documented, lang_of
from api.routes.tasks import ClientDep, TaskSummary, run_update
from api.routes.tracking import Answer, answer_of
from api.security import CurrentUser, ProcessesDep, SessionDep, actor_of, require_role
from api.temporal import case_handle
from db.models import Case, CaseEvent, Task, User
from domain.calendar import format_jalali
from domain.cases import CaseStatus, EventKind, Role, TaskStatus
from domain.tasks import CancelCaseInput, CaseLive
from domain.text import normalize_text
from processes.declaration import Registry
from processes.registry import PROCESSES
from workflows.human_task import CaseWorkflow

router = APIRouter(tags=["cases"], responses=documented(401, 403, 404))
log = logging.getLogger("peygir.api")

SUPERVISING_ROLES = {Role.admin, Role.operator, Role.it_supervisor}


class TimelineEntry(BaseModel):
    kind: EventKind
    step: str | None
    actor: str | None
    text_fa: str
    text_en: str
    at: datetime
    at_jalali: str
    public: bool


PART_TASKS_SHOWN = 20
"""Open tasks of the case's parts listed per step (the oldest due first); the rest are counted."""


class StepTasks(BaseModel):
    """The open tasks of one step asked by the case's parts (a rollout's counties and sites)."""

    step: str
    title_fa: str
    title_en: str
    open: int
    overdue: int
    first: list[TaskSummary]
    """The first `PART_TASKS_SHOWN` of them, the oldest due first."""


class CaseDetail(BaseModel):
    tracking_code: str
    process: str
    process_title_fa: str
    process_title_en: str
    workflow_id: str
    requester_name: str
    requester_unit: str
    status: CaseStatus
    current_step: str | None
    outcome: str | None
    outcome_detail: dict[str, Any]
    answer: Answer | None
    """The closing answer with the fields its process declares."""
    created_at: datetime
    answer_due_at: datetime | None
    closed_at: datetime | None
    timeline: list[TimelineEntry]
    tasks: list[TaskSummary]
    """The tasks the case's own workflow asked."""
    part_tasks: list[StepTasks]
    """Open tasks its parts' workflows asked (a rollout's counties and sites), by step."""
    live: CaseLive | None
    """Straight from the running workflow; absent when it has closed or cannot be reached."""
    facts: dict[str, Any] = {}
    """What the process's own record says of the case (a SEPAS case's SRM errors by message),
    keyed like a task's context and labelled by the process."""


class NewComment(BaseModel):
    text: Annotated[
        str,
        BeforeValidator(lambda v: normalize_text(v) if isinstance(v, str) else v),
        Field(min_length=1, max_length=2000),
    ]


class CancelRequest(BaseModel):
    reason: Annotated[
        str,
        BeforeValidator(lambda v: normalize_text(v) if isinstance(v, str) else v),
        Field(min_length=3, max_length=500),
    ]


def may_access(session: Session, user: User, case: Case) -> bool:
    """Supervisors see every case; a process's overseers its cases; a scope's users (a
    hospital's) the cases of that scope; others the cases whose tasks are (or were) theirs."""
    if SUPERVISING_ROLES & set(user.roles):
        return True
    if case.scope is not None and case.scope in user.scopes:
        return True
    if case.process in PROCESSES and PROCESSES[case.process].overseers & set(user.roles):
        return True
    actor = actor_of(user)
    for task in session.exec(select(Task).where(Task.case_id == case.id)):
        if task.completed_by == user.username or task.assignee == user.username:
            return True
        if actor.covers(Role(task.role), task.scope):
            return True
    return False


def accessible_case(session: Session, user: User, tracking_code: str) -> Case:
    case = session.exec(select(Case).where(Case.tracking_code == tracking_code)).first()
    if case is None:
        raise ApiError(404, "not_found")
    if not may_access(session, user, case):
        raise ApiError(403, "forbidden")
    return case


async def _live(client: Client, case: Case) -> CaseLive | None:
    if case.status != CaseStatus.open:
        return None
    try:
        return await case_handle(client, case).query(CaseWorkflow.live)
    except Exception:  # the page still shows the database's view
        log.warning("live query failed for %s", case.workflow_id, exc_info=True)
        return None


def _summary(task: Task, case: Case) -> TaskSummary:
    return TaskSummary(
        **task.model_dump(),
        tracking_code=case.tracking_code,
        due_at_jalali=format_jalali(task.due_at),
    )


def _part_tasks(session: Session, case: Case, own: ColumnElement[bool]) -> list[StepTasks]:
    """The parts' open tasks counted by step, and the first few of each, in the order the
    steps were first asked."""
    is_open = (Task.case_id == case.id, Task.status == TaskStatus.open, not_(own))
    counts = session.exec(
        select(
            Task.step,
            func.count(),
            func.sum(sa_case((col(Task.overdue), 1), else_=0)),
            func.min(Task.created_at),
        )
        .where(*is_open)
        .group_by(col(Task.step))
        .order_by(func.min(Task.created_at))
    ).all()
    steps = []
    for step, count, overdue, _ in counts:
        first = session.exec(
            select(Task)
            .where(*is_open, Task.step == step)
            .order_by(col(Task.due_at), col(Task.id))
            .limit(PART_TASKS_SHOWN)
        ).all()
        steps.append(
            StepTasks(
                step=step,
                title_fa=first[0].title_fa,
                title_en=first[0].title_en,
                open=count,
                overdue=overdue or 0,
                first=[_summary(t, case) for t in first],
            )
        )
    return steps


def _case_record(
    session: Session, user: User, tracking_code: str, processes: Registry
) -> tuple[Case, list[CaseEvent], list[TaskSummary], list[StepTasks], dict[str, Any]]:
    """The case with its timeline and tasks, in a worker thread; ends the read transaction, so
    no pooled connection waits on the live query."""
    case = accessible_case(session, user, tracking_code)
    events = session.exec(
        select(CaseEvent)
        .where(CaseEvent.case_id == case.id)
        .order_by(col(CaseEvent.at), col(CaseEvent.id))
    ).all()
    # The case's own tasks are `{workflow_id}:{step}:{n}` (`;` follows `:`); its parts' are
    # `{workflow_id}-{part}:…`, thousands in a rollout: counted, not listed.
    own = and_(col(Task.id) > f"{case.workflow_id}:", col(Task.id) < f"{case.workflow_id};")
    tasks = session.exec(
        select(Task)
        .where(Task.case_id == case.id, own)
        .order_by(col(Task.created_at), col(Task.id))
    ).all()
    parts = _part_tasks(session, case, own)
    facts_of = processes[case.process].case_facts
    assert case.id is not None
    facts = facts_of(session, case.id) if facts_of is not None else {}
    session.commit()
    return case, list(events), [_summary(t, case) for t in tasks], parts, facts


@router.get("/api/cases/{tracking_code}", response_model=CaseDetail, summary="A case in full")
async def case_detail(
    tracking_code: str,
    user: CurrentUser,
    session: SessionDep,
    client: ClientDep,
    processes: ProcessesDep,
) -> CaseDetail:
    case, events, tasks, parts, facts = await run_blocking(
        _case_record, session, user, tracking_code, processes
    )
    process = processes[case.process]
    return CaseDetail(
        **case.model_dump(
            include={
                "tracking_code",
                "process",
                "workflow_id",
                "requester_name",
                "requester_unit",
                "status",
                "current_step",
                "outcome",
                "outcome_detail",
                "created_at",
                "answer_due_at",
                "closed_at",
            }
        ),
        process_title_fa=process.title.fa,
        process_title_en=process.title.en,
        answer=answer_of(process, case),
        timeline=[TimelineEntry(**e.model_dump(), at_jalali=format_jalali(e.at)) for e in events],
        tasks=tasks,
        part_tasks=parts,
        facts=facts,
        live=await _live(client, case),
    )


@router.post(
    "/api/cases/{tracking_code}/comments",
    response_model=TimelineEntry,
    status_code=status.HTTP_201_CREATED,
    summary="Add a comment to the case's timeline",
)
def add_comment(
    tracking_code: str, body: NewComment, user: CurrentUser, session: SessionDep
) -> TimelineEntry:
    case = accessible_case(session, user, tracking_code)
    assert case.id is not None
    event = CaseEvent(
        case_id=case.id,
        kind=EventKind.comment,
        actor=user.username,
        text_fa=body.text,
        text_en=body.text,
    )
    session.add(event)
    session.commit()
    return TimelineEntry(**event.model_dump(), at_jalali=format_jalali(event.at))


def _open_case(session: Session, user: User, tracking_code: str) -> Case:
    case = accessible_case(session, user, tracking_code)
    if case.status != CaseStatus.open:
        raise ApiError(409, "case_closed")
    return case


@router.post(
    "/api/cases/{tracking_code}/cancel",
    response_model=CaseStatus,
    responses=documented(409, 503),
    summary="Admin: cancel a case with a reason",
)
async def cancel_case(
    tracking_code: str,
    body: CancelRequest,
    request: Request,
    admin: Annotated[User, Depends(require_role(Role.admin))],
    session: SessionDep,
    client: ClientDep,
) -> CaseStatus:
    case = await run_blocking(_open_case, session, admin, tracking_code)
    status_now: CaseStatus = await run_update(
        client,
        session,
        case.workflow_id,
        CaseWorkflow.cancel_case,
        CancelCaseInput(actor=actor_of(admin), reason=body.reason),
        lang_of(request),
    )
    await run_blocking(
        record, session, request, admin, "case.cancel", tracking_code, reason=body.reason
    )
    return status_now
