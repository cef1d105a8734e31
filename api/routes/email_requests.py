"""Process 1's public form: POST /api/email-requests answers at once with a tracking code."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response, status
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.blocking import run_blocking
from api.errors import ApiError, FieldProblem, documented, lang_of, unavailable
from api.security import SessionDep, SettingsDep
from api.temporal import start_email_workflow, temporal_client
from db.calendar import working_calendar
from db.case_store import email_form, find_by_idempotency_key, open_email_case
from db.models import Case, CaseEvent, EmailRequest
from domain.calendar import format_jalali
from domain.cases import CaseStatus, ProcessKind
from domain.email_account import EmailRequestForm
from domain.messages import Lang, message
from settings import Settings
from workflows.email_account import ANSWER_WORKING_DAYS

router = APIRouter(tags=["public"])
log = logging.getLogger("peygir.api")


class Receipt(BaseModel):
    """The service-desk receipt: keep the tracking code to follow the request."""

    tracking_code: str
    submitted_at: datetime
    submitted_at_jalali: str
    answer_due_at: datetime
    """The final answer is promised by then (working days of the university calendar)."""
    answer_due_at_jalali: str


def _receipt(case: Case) -> Receipt:
    assert case.answer_due_at is not None
    return Receipt(
        tracking_code=case.tracking_code,
        submitted_at=case.created_at.astimezone(UTC),
        submitted_at_jalali=format_jalali(case.created_at),
        answer_due_at=case.answer_due_at.astimezone(UTC),
        answer_due_at_jalali=format_jalali(case.answer_due_at),
    )


def _open_request_of(session: Session, national_code: str) -> Case | None:
    """One e-mail request per person at a time; the earlier one's code is not revealed."""
    return session.exec(
        select(Case).where(
            Case.process == ProcessKind.email_account,
            Case.status == CaseStatus.open,
            Case.requester_national_code == national_code,
        )
    ).first()


def _forget(session: Session, case: Case) -> None:
    """Remove a case whose workflow could not start: it was never accepted."""
    for model in (CaseEvent, EmailRequest):
        for row in session.exec(select(model).where(model.case_id == case.id)):
            session.delete(row)
    session.flush()
    session.delete(case)
    session.commit()


@dataclass
class _Accepted:
    """What the database phase of a submit decided."""

    case: Case
    form: EmailRequestForm
    """The form as stored: for a repeated key, the first attempt's."""
    replayed: bool


def _accept(
    session: Session,
    settings: Settings,
    form: EmailRequestForm,
    idempotency_key: str | None,
    lang: Lang,
) -> _Accepted:
    """Open the case, or find the one a repeated key opened; ends its transaction.

    Runs in a worker thread: its writes may wait on a lock another connection holds.
    """
    if idempotency_key:
        earlier = find_by_idempotency_key(session, idempotency_key)
        if earlier is not None:
            return _replay_of(session, earlier, form)
    if _open_request_of(session, form.national_code) is not None:
        raise ApiError(
            409,
            "request_in_progress",
            [
                FieldProblem(
                    field="national_code",
                    reason=message("request_in_progress", lang),
                    code="request_in_progress",
                )
            ],
        )
    now = datetime.now(UTC)
    due = working_calendar(session, settings, now.date()).add_working_days(now, ANSWER_WORKING_DAYS)
    try:
        case = open_email_case(session, form, idempotency_key=idempotency_key, answer_due_at=due)
        session.commit()
    except IntegrityError:
        # The same key arrived twice at once: the other request opened the case.
        session.rollback()
        earlier = find_by_idempotency_key(session, idempotency_key or "")
        if earlier is None:
            raise
        return _replay_of(session, earlier, form)
    return _Accepted(case, form, replayed=False)


def _replay_of(session: Session, case: Case, form: EmailRequestForm) -> _Accepted:
    """The same Idempotency-Key again: the same case, if it is the same person's."""
    assert case.id is not None
    if session.get(EmailRequest, case.id) is None:
        # The first attempt's start failed and it was removed a moment ago: the retry opens anew.
        raise unavailable()
    stored = email_form(session, case.id)
    if stored.national_code != form.national_code:
        raise ApiError(409, "idempotency_conflict")
    session.commit()  # no pooled connection waits on Temporal
    return _Accepted(case, stored, replayed=True)


@router.post(
    "/api/email-requests",
    status_code=status.HTTP_201_CREATED,
    response_model=Receipt,
    responses=documented(409, 503),
    summary="Submit the university e-mail request form (ثبت درخواست ایمیل دانشگاهی)",
)
async def submit_email_request(
    form: EmailRequestForm,
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    client: Annotated[Client, Depends(temporal_client)],
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Receipt:
    accepted = await run_blocking(
        _accept, session, settings, form, idempotency_key, lang_of(request)
    )
    case = accepted.case
    if accepted.replayed:
        try:
            await start_email_workflow(client, settings, case, accepted.form)
        except Exception:
            # The case is kept: the recovery sweep (or this client's next retry) starts it.
            log.exception("could not start the workflow of case %s", case.tracking_code)
            raise unavailable() from None
        response.headers["Idempotent-Replayed"] = "true"
        return _receipt(case)
    try:
        await start_email_workflow(client, settings, case, form)
    except Exception:
        log.exception("could not start the workflow of case %s", case.tracking_code)
        exists = await _workflow_exists(client, case)
        if exists is False:
            await run_blocking(_forget, session, case)
            raise unavailable() from None
        # exists is None: Temporal cannot be asked. The case is kept and the recovery sweep
        # starts its workflow, so it is accepted: the person gets the tracking code now.
    return _receipt(case)


async def _workflow_exists(client: Client, case: Case) -> bool | None:
    """After a failed start call: did the server start it all the same? None: cannot tell.

    Only a definite "not found" lets the case be removed; when Temporal cannot be asked, the
    case stays and the recovery sweep starts it later.
    """
    try:
        await client.get_workflow_handle(case.workflow_id).describe()
    except RPCError as error:
        return False if error.status == RPCStatusCode.NOT_FOUND else None
    except Exception:
        return None
    return True
