"""Public tracking (مراجعه مجدد کاربر و دریافت پاسخ با کد پیگیری): code + national code.

The case opens with its tracking code and the requester's identity (the second factor), or with
the signed link sent to the requester (domain/requester_link.py). Opened, it also lists the
tasks the case asks of its requester (role `requester`, scope: the tracking code), and one
generic route delivers the requester's decision to the workflow as the staff route does.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import AliasChoices, BaseModel, BeforeValidator, Field
from sqlalchemy import update
from sqlmodel import Session, col, select

from api.blocking import run_blocking
from api.errors import ApiError, documented, lang_of
from api.rate_limit import RateLimiter
from api.routes.tasks import ClientDep, run_task_update
from api.security import ProcessesDep, SessionDep, SettingsDep
from db.models import Case, CaseEvent, CredentialReveal, Task
from domain.calendar import format_jalali
from domain.cases import CaseOutcome, CaseStatus, Role, TaskStatus
from domain.credentials import CredentialVault
from domain.requester_link import is_requester_link_token
from domain.tasks import CompleteTaskInput, TaskCompletion, requester_actor
from domain.text import normalize_digits
from processes.declaration import Process
from settings import Settings
from workflows.human_task import CaseWorkflow

router = APIRouter(tags=["public"], responses=documented(404, 429))

NationalCodeParam = Annotated[
    str, BeforeValidator(lambda v: normalize_digits(v).strip() if isinstance(v, str) else v)
]
LinkToken = Annotated[str, Field(max_length=64)]
"""The `k` of the signed link sent to the requester; stands in for the identity."""


def limit_lookups(request: Request) -> None:
    limiter: RateLimiter = request.app.state.track_limiter
    limiter.check(request)


class Stage(BaseModel):
    step: str | None
    title_fa: str
    title_en: str
    at: datetime
    at_jalali: str


class AnswerItem(BaseModel):
    """One part of the answer, as the process declares it (e.g. the new e-mail address)."""

    key: str
    label_fa: str
    label_en: str
    value: str
    left_to_right: bool


class Answer(BaseModel):
    outcome: str
    """done, refused or cancelled."""
    reason: str | None = None
    """Why the request was refused or cancelled."""
    text_fa: str | None = None
    text_en: str | None = None
    """What the process tells the requester when it is done, if it says more than "done"."""
    items: list[AnswerItem] = []


class RequesterTask(BaseModel):
    """A task the case asks of its requester, decided on the tracking page."""

    id: str
    step: str
    title_fa: str
    title_en: str
    form_schema: dict[str, Any]
    """JSON schema of the decision form, as the workflow stored it on the task."""
    due_at: datetime
    due_at_jalali: str


class TrackingView(BaseModel):
    tracking_code: str
    process: str
    process_title_fa: str
    process_title_en: str
    status: CaseStatus
    current_stage: str | None
    stages: list[Stage]
    submitted_at: datetime
    submitted_at_jalali: str
    answer_due_at: datetime | None
    answer_due_at_jalali: str | None
    answer: Answer | None
    password_available: bool
    """The initial password can be seen once (POST …/password)."""
    tasks: list[RequesterTask] = []
    """Open tasks of the requester (POST …/tasks/{task_id} decides one)."""


class RevealRequest(BaseModel):
    identity: Annotated[
        NationalCodeParam, Field(validation_alias=AliasChoices("identity", "national_code"))
    ]
    """The requester's identity given in the request (e.g. the national code)."""


class RequesterDecisionBody(BaseModel):
    identity: NationalCodeParam = Field(default="", max_length=30)
    """The requester's identity given in the request (e.g. the national code)…"""
    token: LinkToken = ""
    """…or, instead, the token (`k`) of the link sent to the requester."""
    decision: dict[str, Any]
    """The task's decision form as filled in (its JSON schema is in the tracking answer)."""


class RevealedPassword(BaseModel):
    login: str
    """What the password opens: the address or username in the answer."""
    password: str
    """Shown this once; change it at first login."""


def _verified_case(session: Session, tracking_code: str, identity: str) -> Case:
    """The case, only if the second factor matches; otherwise the same 404 as an unknown code.

    A case with no requester identity (followed by staff only) is never shown here.
    """
    case = session.exec(
        select(Case).where(Case.tracking_code == normalize_digits(tracking_code).strip())
    ).first()
    stored = (case.requester_identity if case is not None else None) or ""
    matches = hmac.compare_digest(stored.encode(), identity.encode())
    if case is None or not stored or not matches:
        raise ApiError(404, "not_found")
    return case


def opened_case(
    session: Session, settings: Settings, tracking_code: str, identity: str, token: str
) -> Case:
    """The case opened by its requester's identity or, when none is given, by the signed link's
    token; anything wrong is the same 404 as an unknown code."""
    if identity or not token:
        return _verified_case(session, tracking_code, identity)
    code = normalize_digits(tracking_code).strip()
    case = session.exec(select(Case).where(Case.tracking_code == code)).first()
    signed = is_requester_link_token(settings.secret_key, code, token)
    if case is None or not case.requester_identity or not signed:
        raise ApiError(404, "not_found")
    return case


def _requester_task_view(task: Task) -> RequesterTask:
    return RequesterTask(
        id=task.id,
        step=task.step,
        title_fa=task.title_fa,
        title_en=task.title_en,
        form_schema=task.form_schema,
        due_at=task.due_at,
        due_at_jalali=format_jalali(task.due_at),
    )


def requester_tasks(session: Session, case: Case) -> list[RequesterTask]:
    """The open tasks the case asks of its requester."""
    rows = session.exec(
        select(Task)
        .where(
            Task.case_id == case.id,
            Task.status == TaskStatus.open,
            Task.role == Role.requester,
            Task.scope == case.tracking_code,
        )
        .order_by(col(Task.created_at), col(Task.id))
    ).all()
    return [_requester_task_view(t) for t in rows]


def requester_task_form(session: Session, tracking_code: str, task_id: str) -> RequesterTask | None:
    """A task of the requester of case `tracking_code`, open or not (the page keeps a form typed
    while the task closed); call it only for a case already opened."""
    task = session.exec(
        select(Task)
        .join(Case, col(Case.id) == col(Task.case_id))
        .where(
            Task.id == task_id,
            Case.tracking_code == tracking_code,
            Task.role == Role.requester,
            Task.scope == tracking_code,
        )
    ).first()
    return _requester_task_view(task) if task is not None else None


def answer_of(process: Process[Any], case: Case) -> Answer | None:
    """The answer shown once the case has closed, with the fields its process declares."""
    if case.status == CaseStatus.open or not case.outcome:
        return None
    detail = case.outcome_detail
    text = process.outcome_texts.get(case.outcome)
    if text is None and case.outcome == CaseOutcome.done:
        text = process.done_text
    return Answer(
        outcome=case.outcome,
        reason=detail.get("reason"),
        text_fa=text.fa if text is not None else None,
        text_en=text.en if text is not None else None,
        items=[
            AnswerItem(
                key=f.key,
                label_fa=f.label.fa,
                label_en=f.label.en,
                value=str(detail[f.key]),
                left_to_right=f.left_to_right,
            )
            for f in process.answer_fields
            if detail.get(f.key) is not None
        ],
    )


def _reveal(session: Session, case: Case) -> CredentialReveal | None:
    reveal = session.get(CredentialReveal, case.id)
    if reveal is None or reveal.ciphertext is None or reveal.expires_at < datetime.now(UTC):
        return None
    return reveal


@router.get(
    "/api/track/{tracking_code}",
    response_model=TrackingView,
    dependencies=[Depends(limit_lookups)],
    summary="Follow a request with its tracking code and the requester's identity",
)
def track(
    tracking_code: str,
    session: SessionDep,
    processes: ProcessesDep,
    settings: SettingsDep,
    identity: Annotated[NationalCodeParam | None, Query()] = None,
    national_code: Annotated[NationalCodeParam | None, Query(deprecated=True)] = None,
    token: Annotated[LinkToken | None, Query()] = None,
) -> TrackingView:
    """`identity` is what the request gave as the requester's identity (the national code for
    an e-mail request); `national_code` is its older name. Instead of it, `token` is the `k` of
    the link sent to the requester. The answer lists the tasks waiting for the requester."""
    case = opened_case(
        session, settings, tracking_code, identity or national_code or "", token or ""
    )
    process = processes[case.process]
    events = session.exec(
        select(CaseEvent)
        .where(CaseEvent.case_id == case.id, col(CaseEvent.public).is_(True))
        .order_by(col(CaseEvent.at), col(CaseEvent.id))
    ).all()
    stages: list[Stage] = []
    for event in events:
        if stages and stages[-1].step == event.step and stages[-1].title_fa == event.text_fa:
            continue  # a step re-entered (e.g. a second username choice) shows once
        stages.append(
            Stage(
                step=event.step,
                title_fa=event.text_fa,
                title_en=event.text_en,
                at=event.at,
                at_jalali=format_jalali(event.at),
            )
        )
    return TrackingView(
        tracking_code=case.tracking_code,
        process=case.process,
        process_title_fa=process.title.fa,
        process_title_en=process.title.en,
        status=case.status,
        current_stage=case.current_step,
        stages=stages,
        submitted_at=case.created_at,
        submitted_at_jalali=format_jalali(case.created_at),
        answer_due_at=case.answer_due_at,
        answer_due_at_jalali=format_jalali(case.answer_due_at) if case.answer_due_at else None,
        answer=answer_of(process, case),
        password_available=process.reveals_credentials and _reveal(session, case) is not None,
        tasks=requester_tasks(session, case) if case.status == CaseStatus.open else [],
    )


def _requester_task(
    session: Session,
    settings: Settings,
    tracking_code: str,
    task_id: str,
    body: RequesterDecisionBody,
) -> tuple[Task, Case]:
    """The task, if the case opens with the body's identity or token and asks it of its
    requester; 404 as for an unknown code, 409 closed, 403 a task of someone else."""
    case = opened_case(session, settings, tracking_code, body.identity, body.token)
    task = session.get(Task, task_id)
    if task is None or task.case_id != case.id:
        raise ApiError(404, "not_found")
    if task.status != TaskStatus.open or case.status != CaseStatus.open:
        raise ApiError(409, "task_not_open")
    if task.role != Role.requester or task.scope != case.tracking_code:
        raise ApiError(403, "task_not_yours")
    return task, case


@router.post(
    "/api/track/{tracking_code}/tasks/{task_id}",
    response_model=TaskCompletion,
    dependencies=[Depends(limit_lookups)],
    responses=documented(403, 409, 503),
    summary="The requester decides a task of their case: 200, 409 no longer open, 422 fields",
)
async def complete_requester_task(
    tracking_code: str,
    task_id: str,
    body: Annotated[
        RequesterDecisionBody,
        Body(examples=[{"identity": "0024173861", "decision": {"received": True}}]),
    ],
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    client: ClientDep,
) -> TaskCompletion:
    """Authenticated as tracking is (the identity, or the signed link's `token`); the decision
    reaches the workflow as the `complete_task` Update of the requester of this case only."""
    task, case = await run_blocking(
        _requester_task, session, settings, tracking_code, task_id, body
    )
    completion: TaskCompletion = await run_task_update(
        client,
        session,
        task,
        CaseWorkflow.complete_task,
        CompleteTaskInput(
            task_id=task.id, actor=requester_actor(case.tracking_code), decision=body.decision
        ),
        lang_of(request),
    )
    return completion


@router.post(
    "/api/track/{tracking_code}/password",
    response_model=RevealedPassword,
    dependencies=[Depends(limit_lookups)],
    responses=documented(410),
    summary="Show the initial password once (then it is erased)",
)
def reveal_password(
    tracking_code: str,
    body: RevealRequest,
    session: SessionDep,
    settings: SettingsDep,
    processes: ProcessesDep,
) -> RevealedPassword:
    case = _verified_case(session, tracking_code, body.identity)
    process = processes[case.process]
    reveal = _reveal(session, case) if process.reveals_credentials else None
    answer = answer_of(process, case)
    if reveal is None or answer is None or not answer.items:
        raise ApiError(410, "password_gone")
    sealed = reveal.ciphertext or ""
    # Erase first, and only if nobody else did meanwhile: the password is shown exactly once.
    erased = session.execute(
        update(CredentialReveal)
        .where(col(CredentialReveal.case_id) == case.id, col(CredentialReveal.ciphertext) == sealed)
        .values(ciphertext=None, revealed_at=datetime.now(UTC))
    )
    session.commit()
    if erased.rowcount != 1:  # type: ignore[attr-defined]
        raise ApiError(410, "password_gone")
    password = CredentialVault(settings.encryption_keys()).open(case.tracking_code, sealed)
    return RevealedPassword(login=answer.items[0].value, password=password)
