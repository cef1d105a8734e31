"""Public tracking (مراجعه مجدد کاربر و دریافت پاسخ با کد پیگیری): code + national code."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AliasChoices, BaseModel, BeforeValidator, Field
from sqlalchemy import update
from sqlmodel import Session, col, select

from api.errors import ApiError, documented
from api.rate_limit import RateLimiter
from api.security import ProcessesDep, SessionDep, SettingsDep
from db.models import Case, CaseEvent, CredentialReveal
from domain.calendar import format_jalali
from domain.cases import CaseOutcome, CaseStatus
from domain.credentials import CredentialVault
from domain.text import normalize_digits
from processes.declaration import Process

router = APIRouter(tags=["public"], responses=documented(404, 429))

NationalCodeParam = Annotated[
    str, BeforeValidator(lambda v: normalize_digits(v).strip() if isinstance(v, str) else v)
]


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


class RevealRequest(BaseModel):
    identity: Annotated[
        NationalCodeParam, Field(validation_alias=AliasChoices("identity", "national_code"))
    ]
    """The requester's identity given in the request (e.g. the national code)."""


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
    identity: Annotated[NationalCodeParam | None, Query()] = None,
    national_code: Annotated[NationalCodeParam | None, Query(deprecated=True)] = None,
) -> TrackingView:
    """`identity` is what the request gave as the requester's identity (the national code for
    an e-mail request); `national_code` is its older name."""
    case = _verified_case(session, tracking_code, identity or national_code or "")
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
    )


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
