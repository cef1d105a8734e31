"""Opening a case of any process in the system of record, before its workflow starts."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import bindparam, delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from db.models import Case, CaseEvent
from domain.cases import CaseStatus, EventKind
from processes.declaration import Process

TRACKING_CODE_DIGITS = 10


def new_tracking_code() -> str:
    """Ten digits, easy to read out and to type on a phone; never starts with 0."""
    return str(
        secrets.randbelow(9 * 10 ** (TRACKING_CODE_DIGITS - 1)) + 10 ** (TRACKING_CODE_DIGITS - 1)
    )


def workflow_id(process: Process[Any], tracking_code: str) -> str:
    return f"{process.workflow_id_prefix}-{tracking_code}"


# The lookups of every start are built once: building a statement (and its cache key) costs
# several times what running it does, and a start runs them on every request.
_BY_IDEMPOTENCY_KEY = select(Case).where(col(Case.idempotency_key) == bindparam("key"))
_OPEN_CASE_OF = select(Case).where(
    col(Case.process) == bindparam("process"),
    col(Case.requester_identity) == bindparam("identity"),
    col(Case.status) == CaseStatus.open,
)


def find_by_idempotency_key(session: Session, key: str) -> Case | None:
    return session.exec(_BY_IDEMPOTENCY_KEY, params={"key": key}).first()


def open_case_of(session: Session, process: Process[Any], identity: str) -> Case | None:
    """The requester's open case of this process, if any."""
    return session.exec(
        _OPEN_CASE_OF, params={"process": process.kind, "identity": identity}
    ).first()


def open_case(
    session: Session,
    process: Process[Any],
    form: BaseModel,
    *,
    idempotency_key: str | None,
    answer_due_at: datetime,
    started_by: str | None = None,
) -> Case:
    """Write the case and its form in one transaction; a taken idempotency key raises.

    Call it before writing anything else in the session: a conflict rolls its transaction back.
    No savepoint: under pysqlite a savepoint opened outside a transaction becomes the
    transaction, and releasing it would commit the case alone, without its form.
    """
    requester = process.requester(form)
    for _ in range(5):
        code = new_tracking_code()
        case = Case(
            tracking_code=code,
            process=process.kind,
            workflow_id=workflow_id(process, code),
            idempotency_key=idempotency_key,
            requester_name=requester.name,
            requester_identity=requester.identity,
            requester_contact=requester.contact,
            requester_unit=requester.unit,
            started_by=started_by,
            scope=process.case_scope(form) if process.case_scope is not None else None,
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
        session.add(process.form_table(case_id=case.id, **form.model_dump()))
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


def stored_form(session: Session, process: Process[Any], case_id: int) -> BaseModel | None:
    """The form as accepted, to (re)start the case's workflow; None while it is being removed."""
    row = session.get(process.form_table, case_id)
    if row is None:
        return None
    form: BaseModel = process.start_form.model_validate(row.model_dump(exclude={"case_id"}))
    return form


def forget_case(session: Session, process: Process[Any], case: Case) -> None:
    """Remove a case whose workflow could not start: it was never accepted."""
    for table in (CaseEvent, process.form_table):
        session.execute(delete(table).where(table.case_id == case.id))  # type: ignore[attr-defined]
    session.flush()
    session.delete(case)
    session.commit()
