"""The cartable: one generic route to list a user's tasks and one to complete any task."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import Subquery, func, union_all
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select
from temporalio.client import (
    Client,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.audit import record
from api.blocking import run_blocking
from api.errors import ApiError, FieldProblem, documented, field_problems, lang_of, unavailable
from api.security import CurrentUser, ProcessesDep, SessionDep, actor_of, require_role
from api.temporal import temporal_client
from db.handover import CaseSecret
from db.models import Case, Task, User, utcnow
from domain.calendar import format_jalali
from domain.cases import ALL_SCOPES, CaseStatus, Role, TaskStatus
from domain.credentials import CredentialVault
from domain.handover import PASSWORD_MAX, PASSWORD_MIN, SEALED, SEALED_FIELD, vault_ref
from domain.messages import Lang, message
from domain.tasks import (
    CompleteTaskInput,
    OpenTaskView,
    ReassignTaskInput,
    TaskCompletion,
    TaskRefusal,
    workflow_of_task,
)
from settings import Settings
from workflows.human_task import CaseWorkflow

log = logging.getLogger("peygir.api")
router = APIRouter(tags=["cartable"], responses=documented(401))

PAGE_SIZE = 50


class TaskSummary(BaseModel):
    id: str
    tracking_code: str
    process: str
    step: str
    title_fa: str
    title_en: str
    role: str
    scope: str | None
    assignee: str | None
    status: TaskStatus
    overdue: bool
    due_at: datetime
    due_at_jalali: str
    created_at: datetime


class TaskDetail(TaskSummary):
    form_schema: dict[str, Any]
    """JSON schema of the decision form; the page renders its fields from it."""
    context: dict[str, Any]
    """The case's data shown beside the form."""
    decision: dict[str, Any] | None
    completed_by: str | None


class Cartable(BaseModel):
    items: list[TaskSummary]
    total: int
    overdue: int
    by_process: dict[str, int]


def visible_to(user: User) -> Subquery:
    """Open tasks this user may act on: assigned to them, or of their role within their scopes.

    A union of branches that each run on a covering index (ix_tasks_cartable_*), so the
    cartable stays fast however many tasks other people have open.
    """
    fields = (col(Task.id), col(Task.process), col(Task.overdue), col(Task.due_at))
    is_open = col(Task.status) == TaskStatus.open
    branches = [select(*fields).where(is_open, col(Task.assignee) == user.username)]
    if user.roles:
        by_role = (is_open, col(Task.role).in_(user.roles), col(Task.assignee).is_(None))
        if ALL_SCOPES in user.scopes:
            branches.append(select(*fields).where(*by_role))
        else:
            branches.append(select(*fields).where(*by_role, col(Task.scope).is_(None)))
            if user.scopes:
                branches.append(select(*fields).where(*by_role, col(Task.scope).in_(user.scopes)))
    return union_all(*branches).subquery("visible")


_SUMMARY_COLUMNS = [
    col(Task.id),
    col(Task.process),
    col(Task.step),
    col(Task.title_fa),
    col(Task.title_en),
    col(Task.role),
    col(Task.scope),
    col(Task.assignee),
    col(Task.status),
    col(Task.overdue),
    col(Task.due_at),
    col(Task.created_at),
]
"""The task's columns a cartable row shows (`TaskSummary` but the case's code)."""


def _summary(task: Task, tracking_code: str) -> dict[str, Any]:
    return {
        **task.model_dump(),
        "tracking_code": tracking_code,
        "due_at_jalali": format_jalali(task.due_at),
    }


@router.get("/api/tasks", response_model=Cartable, summary="My open tasks (the cartable)")
def my_tasks(
    user: CurrentUser,
    session: SessionDep,
    processes: ProcessesDep,
    lang: Annotated[Lang, Depends(lang_of)],
    process: Annotated[str | None, Query(max_length=40)] = None,
    overdue: bool | None = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Cartable:
    if process is not None and process not in processes:
        raise ApiError(
            422,
            "invalid_value",
            [
                FieldProblem(
                    field="process", reason=message("invalid_value", lang), code="invalid_value"
                )
            ],
        )
    visible = visible_to(user)
    filters = []
    if process is not None:
        filters.append(visible.c.process == process)
    if overdue is not None:
        filters.append(visible.c.overdue.is_(overdue))
    page_ids = (
        select(visible.c.id)
        .where(*filters)
        .order_by(visible.c.overdue.desc(), visible.c.due_at, visible.c.id)
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    # The summary's columns only: a task's form schema and context (kilobytes of JSON each)
    # are for its own page, not for every row of every cartable poll.
    rows = sorted(
        session.execute(
            sa_select(*_SUMMARY_COLUMNS, col(Case.tracking_code))
            .join(Case, col(Case.id) == col(Task.case_id))
            .where(col(Task.id).in_(page_ids))
        )
        .mappings()
        .all(),
        key=lambda row: (not row["overdue"], row["due_at"], row["id"]),
    )
    counts = session.exec(
        select(visible.c.process, visible.c.overdue, func.count()).group_by(
            visible.c.process, visible.c.overdue
        )
    ).all()
    by_process: dict[str, int] = {}
    for proc, _, n in counts:
        by_process[proc] = by_process.get(proc, 0) + n
    matching = sum(
        n
        for proc, late, n in counts
        if (process is None or proc == process) and (overdue is None or late == overdue)
    )
    return Cartable(
        items=[
            TaskSummary.model_validate({**row, "due_at_jalali": format_jalali(row["due_at"])})
            for row in rows
        ],
        total=matching,
        overdue=sum(n for proc, late, n in counts if late and (process is None or proc == process)),
        by_process=by_process,
    )


def _task_and_case(session: Session, task_id: str) -> tuple[Task, Case]:
    task = session.get(Task, task_id)
    if task is None:
        raise ApiError(404, "not_found")
    case = session.get(Case, task.case_id)
    assert case is not None
    return task, case


def _may_see(user: User, task: Task) -> bool:
    actor = actor_of(user)
    return (
        Role.admin in actor.roles
        or task.assignee == user.username
        or (task.assignee is None and actor.covers(Role(task.role), task.scope))
        or task.completed_by == user.username
    )


@router.get(
    "/api/tasks/{task_id}",
    response_model=TaskDetail,
    responses=documented(403, 404),
    summary="A task with its form",
)
def task_detail(task_id: str, user: CurrentUser, session: SessionDep) -> TaskDetail:
    detail, visible = read_task(session, task_id, user)
    if not visible:
        raise ApiError(403, "task_not_yours")
    return detail


def read_task(session: Session, task_id: str, user: User) -> tuple[TaskDetail, bool]:
    """The task with its form, and whether `user` may see it (404 when there is none)."""
    task, case = _task_and_case(session, task_id)
    return TaskDetail.model_validate(_summary(task, case.tracking_code)), _may_see(user, task)


def update_refusal(error: WorkflowUpdateFailedError, lang: Lang) -> ApiError:
    """A task Update's refusal by the workflow's validator, as the API answers it."""
    cause = error.cause
    if isinstance(cause, ApplicationError):
        if cause.type == TaskRefusal.invalid_decision:
            details = cause.details[0] if cause.details else []
            return ApiError(422, "invalid_decision", field_problems(_as_errors(details), lang))
        if cause.type == TaskRefusal.not_authorized:
            return ApiError(403, "task_not_yours")
        if cause.type == TaskRefusal.case_closed:
            return ApiError(409, "case_closed")
    return ApiError(409, "task_not_open")


def _as_errors(details: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Field errors from the workflow's validator, in pydantic's shape for translation."""
    return [
        {"loc": d["field"].split("."), "type": d.get("kind", ""), "msg": d["reason"]}
        for d in details
    ]


async def run_update(
    client: Client, session: Session, workflow_id: str, update: Any, arg: BaseModel, lang: Lang
) -> Any:
    """Deliver an Update to a workflow of the case; its validator's refusal becomes 4xx.

    The session's read transaction ends first (in a worker thread): no pooled connection
    waits on Temporal.
    """
    await run_blocking(session.commit)
    try:
        return await client.get_workflow_handle(workflow_id).execute_update(update, arg)
    except WorkflowUpdateFailedError as error:
        raise update_refusal(error, lang) from None
    except RPCError as error:
        if error.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
            raise ApiError(409, "task_not_open") from None  # the workflow has closed
        log.warning("update to %s failed: %s", workflow_id, error.status.name)
        raise unavailable() from None
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        log.warning("update to %s timed out (no worker?)", workflow_id)
        raise unavailable() from None


ClientDep = Annotated[Client, Depends(temporal_client)]

READ_MODEL_LEAD = (0.2, 0.4, 0.8, 1.6, 3.2)
"""Pauses (seconds) before asking again when the workflow does not know a task the database
shows open: after a worker crash the task row can be written before the workflow's state that
opened it is durable, and the next worker to replay the case catches up within moments."""


async def run_task_update(
    client: Client,
    session: Session,
    task: Task,
    update: Any,
    arg: BaseModel,
    lang: Lang,
) -> Any:
    """`run_update` to the workflow that asked the task, asking again while the read model
    is ahead."""
    workflow_id = workflow_of_task(task.id)
    for pause in READ_MODEL_LEAD:
        try:
            return await run_update(client, session, workflow_id, update, arg, lang)
        except ApiError as error:
            if error.code != "task_not_open":
                raise
        await asyncio.sleep(pause)
        await run_blocking(session.refresh, task)
        if task.status != TaskStatus.open:
            raise ApiError(409, "task_not_open")
    return await run_update(client, session, workflow_id, update, arg, lang)


def seal_typed_secrets(
    session: Session,
    settings: Settings,
    task: Task,
    decision: dict[str, Any],
    user: User,
    lang: Lang,
) -> dict[str, Any]:
    """The decision with each sealed field's value sealed into the case's secrets (so that no
    Update, history or log holds it) and replaced by `sealed`."""
    properties: dict[str, Any] = task.form_schema.get("properties") or {}
    names = [n for n, p in properties.items() if p.get(SEALED_FIELD) and n in decision]
    if not names:
        return decision
    vault = CredentialVault(settings.vault_keys())
    sealed = dict(decision)
    for name in names:
        value = decision[name]
        if not isinstance(value, str) or not PASSWORD_MIN <= len(value) <= PASSWORD_MAX:
            reason = message("password_too_short", lang, min=PASSWORD_MIN, max=PASSWORD_MAX)
            problem = FieldProblem(field=name, reason=reason, code="password_too_short")
            raise ApiError(422, "invalid_value", [problem])
        secret = session.get(CaseSecret, (task.case_id, name)) or CaseSecret(
            case_id=task.case_id, name=name, sealed_by=user.username
        )
        secret.ciphertext = vault.seal(vault_ref(task.case_id, name), value)
        secret.sealed_at, secret.sealed_by, secret.erased_at = utcnow(), user.username, None
        session.add(secret)
        sealed[name] = SEALED
    session.commit()
    return sealed


def _decidable_task(session: Session, task_id: str, user: User) -> Task:
    task, case = _task_and_case(session, task_id)
    if task.status != TaskStatus.open or case.status != CaseStatus.open:
        raise ApiError(409, "task_not_open")
    if not _may_see(user, task):
        raise ApiError(403, "task_not_yours")
    return task


@router.post(
    "/api/tasks/{task_id}/complete",
    response_model=TaskCompletion,
    responses=documented(403, 404, 409, 503),
    summary="Decide a task: 200, or 409 no longer open, 403 not yours, 422 fields wrong",
)
async def complete_task(
    task_id: str,
    decision: Annotated[dict[str, Any], Body(examples=[{"form_complete": True}])],
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    client: ClientDep,
) -> TaskCompletion:
    """A field the step marks sealed (a cartable's initial password) is sealed here and stored
    with the case; the workflow receives only the word `sealed`."""
    task = await run_blocking(_decidable_task, session, task_id, user)
    decision = await run_blocking(
        seal_typed_secrets,
        session,
        request.app.state.settings,
        task,
        decision,
        user,
        lang_of(request),
    )
    completion: TaskCompletion = await run_task_update(
        client,
        session,
        task,
        CaseWorkflow.complete_task,
        CompleteTaskInput(task_id=task_id, actor=actor_of(user), decision=decision),
        lang_of(request),
    )
    return completion


class Reassignment(BaseModel):
    assignee: str
    """Username who will hold the task; must hold the step's role."""
    reason: str = Field(min_length=3, max_length=500)


def _reassignable_task(
    session: Session, task_id: str, assignee_name: str, lang: Lang
) -> tuple[Task, Case]:
    """The open task, if `assignee_name` is an active user who holds its role and scope."""
    task, case = _task_and_case(session, task_id)
    if task.status != TaskStatus.open:
        raise ApiError(409, "task_not_open")
    assignee = session.exec(select(User).where(User.username == assignee_name)).first()
    if (
        assignee is None
        or not assignee.is_active
        or not actor_of(assignee).covers(Role(task.role), task.scope)
    ):
        problem = FieldProblem(
            field="assignee", reason=message("forbidden", lang), code="forbidden"
        )
        raise ApiError(422, "invalid_value", [problem])
    return task, case


@router.post(
    "/api/tasks/{task_id}/reassign",
    response_model=OpenTaskView,
    responses=documented(403, 404, 409, 503),
    summary="Admin: give an open task to a named person",
)
async def reassign_task(
    task_id: str,
    body: Reassignment,
    request: Request,
    admin: Annotated[User, Depends(require_role(Role.admin))],
    session: SessionDep,
    client: ClientDep,
) -> OpenTaskView:
    task, case = await run_blocking(
        _reassignable_task, session, task_id, body.assignee, lang_of(request)
    )
    previous = task.assignee
    view: OpenTaskView = await run_task_update(
        client,
        session,
        task,
        CaseWorkflow.reassign_task,
        ReassignTaskInput(
            task_id=task_id, actor=actor_of(admin), assignee=body.assignee, reason=body.reason
        ),
        lang_of(request),
    )
    await run_blocking(
        record,
        session,
        request,
        admin,
        "task.reassign",
        task_id,
        case=case.tracking_code,
        assignee=[previous, body.assignee],
        reason=body.reason,
    )
    return view
