"""Opening a case in the system of record, before its workflow starts."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from db.models import Case, CaseEvent, EmailRequest
from domain.cases import WORKFLOW_ID_PREFIX, EventKind, ProcessKind
from domain.email_account import EmailRequestForm

TRACKING_CODE_DIGITS = 10


def new_tracking_code() -> str:
    """Ten digits, easy to read out and to type on a phone; never starts with 0."""
    return str(
        secrets.randbelow(9 * 10 ** (TRACKING_CODE_DIGITS - 1)) + 10 ** (TRACKING_CODE_DIGITS - 1)
    )


def workflow_id(process: ProcessKind, tracking_code: str) -> str:
    return f"{WORKFLOW_ID_PREFIX[process]}-{tracking_code}"


def find_by_idempotency_key(session: Session, key: str) -> Case | None:
    return session.exec(select(Case).where(Case.idempotency_key == key)).first()


def open_email_case(
    session: Session,
    form: EmailRequestForm,
    *,
    idempotency_key: str | None,
    answer_due_at: datetime,
) -> Case:
    """Write the case and its form in one transaction; a taken idempotency key raises.

    Call it before writing anything else in the session: a conflict rolls its transaction back.
    No savepoint: under pysqlite a savepoint opened outside a transaction becomes the
    transaction, and releasing it would commit the case alone, without its form.
    """
    for _ in range(5):
        code = new_tracking_code()
        case = Case(
            tracking_code=code,
            process=ProcessKind.email_account,
            workflow_id=workflow_id(ProcessKind.email_account, code),
            idempotency_key=idempotency_key,
            requester_name=form.full_name,
            requester_national_code=form.national_code,
            requester_mobile=form.mobile,
            requester_unit=form.unit,
            current_step="submitted",
            answer_due_at=answer_due_at,
        )
        session.add(case)
        try:
            session.flush()
        except IntegrityError:
            session.rollback()
            if idempotency_key and find_by_idempotency_key(session, idempotency_key):
                raise
            continue  # a tracking-code collision: draw another
        assert case.id is not None
        session.add(EmailRequest(case_id=case.id, **form.model_dump(exclude={"full_name"})))
        session.add(
            CaseEvent(
                case_id=case.id,
                event_key=f"{case.workflow_id}:submitted",
                kind=EventKind.submitted,
                step="submitted",
                text_fa="ثبت درخواست و دریافت کد پیگیری",
                text_en="Request submitted; tracking code issued",
                public=True,
                at=case.created_at,
            )
        )
        session.flush()
        return case
    raise RuntimeError("could not draw a free tracking code")


def email_form(session: Session, case_id: int) -> EmailRequestForm:
    """The form as accepted, to (re)start the workflow of an accepted request."""
    request = session.get(EmailRequest, case_id)
    assert request is not None
    return EmailRequestForm.model_validate(request.model_dump(exclude={"case_id"}))
