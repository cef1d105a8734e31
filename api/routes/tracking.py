"""Public tracking (مراجعه مجدد کاربر و دریافت پاسخ با کد پیگیری): code + national code."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, BeforeValidator
from sqlalchemy import update
from sqlmodel import Session, col, select

from api.errors import ApiError, documented
from api.rate_limit import RateLimiter
from api.security import SessionDep, SettingsDep
from db.models import Case, CaseEvent, CredentialReveal, MailAccount
from domain.calendar import format_jalali
from domain.cases import PROCESS_TITLES, CaseStatus
from domain.credentials import CredentialVault
from domain.text import normalize_digits

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


class Answer(BaseModel):
    outcome: str
    """done, refused or cancelled."""
    address: str | None = None
    """The new university address, when created."""
    reason: str | None = None
    """Why the request was refused or cancelled."""


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
    national_code: NationalCodeParam


class RevealedPassword(BaseModel):
    address: str
    password: str
    """Shown this once; change it at first login."""


def _verified_case(session: Session, tracking_code: str, national_code: str) -> Case:
    """The case, only if the second factor matches; otherwise the same 404 as an unknown code."""
    case = session.exec(
        select(Case).where(Case.tracking_code == normalize_digits(tracking_code).strip())
    ).first()
    stored = case.requester_national_code if case is not None else "0" * 10
    matches = hmac.compare_digest(stored.encode(), national_code.encode())
    if case is None or not matches:
        raise ApiError(404, "not_found")
    return case


def _reveal(session: Session, case: Case) -> CredentialReveal | None:
    reveal = session.get(CredentialReveal, case.id)
    if reveal is None or reveal.ciphertext is None or reveal.expires_at < datetime.now(UTC):
        return None
    return reveal


@router.get(
    "/api/track/{tracking_code}",
    response_model=TrackingView,
    dependencies=[Depends(limit_lookups)],
    summary="Follow a request with its tracking code and the national code",
)
def track(
    tracking_code: str, national_code: Annotated[NationalCodeParam, Query()], session: SessionDep
) -> TrackingView:
    case = _verified_case(session, tracking_code, national_code)
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
    answer = None
    if case.status != CaseStatus.open and case.outcome:
        answer = Answer(
            outcome=case.outcome,
            address=case.outcome_detail.get("address"),
            reason=case.outcome_detail.get("reason"),
        )
    title_fa, title_en = PROCESS_TITLES[case.process]
    return TrackingView(
        tracking_code=case.tracking_code,
        process=case.process,
        process_title_fa=title_fa,
        process_title_en=title_en,
        status=case.status,
        current_stage=case.current_step,
        stages=stages,
        submitted_at=case.created_at,
        submitted_at_jalali=format_jalali(case.created_at),
        answer_due_at=case.answer_due_at,
        answer_due_at_jalali=format_jalali(case.answer_due_at) if case.answer_due_at else None,
        answer=answer,
        password_available=_reveal(session, case) is not None,
    )


@router.post(
    "/api/track/{tracking_code}/password",
    response_model=RevealedPassword,
    dependencies=[Depends(limit_lookups)],
    responses=documented(410),
    summary="Show the initial password once (then it is erased)",
)
def reveal_password(
    tracking_code: str, body: RevealRequest, session: SessionDep, settings: SettingsDep
) -> RevealedPassword:
    case = _verified_case(session, tracking_code, body.national_code)
    reveal = _reveal(session, case)
    account = session.exec(select(MailAccount).where(MailAccount.case_id == case.id)).first()
    if reveal is None or account is None:
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
    return RevealedPassword(address=account.address, password=password)
