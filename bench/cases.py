"""Cases opened the way the API opens them, without HTTP: the raw side of the figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from db.case_store import open_case as open_case_rows
from db.models import Case, Person, Task
from domain.cases import CaseStatus, TaskStatus
from domain.email_account import EmailRequestForm
from processes.email_account import EMAIL_ACCOUNT


def open_case(engine: Engine, form: EmailRequestForm) -> Case:
    """The case rows the workflow needs (case, form, first timeline event), committed."""
    with Session(engine, expire_on_commit=False) as session:
        case = open_case_rows(
            session,
            EMAIL_ACCOUNT,
            form,
            idempotency_key=None,
            answer_due_at=datetime.now(UTC) + timedelta(days=7),
        )
        session.commit()
    return case


def register_people(engine: Engine, forms: list[EmailRequestForm]) -> None:
    """Put the requesters in the person registry, so the identity check passes by itself."""
    with Session(engine) as session:
        session.add_all(
            Person(
                national_code=f.national_code,
                member_id=f.member_id,
                first_name=f.first_name,
                last_name=f.last_name,
                affiliation=f.affiliation,
                unit=f.unit,
            )
            for f in forms
        )
        session.commit()


def open_review_tasks(engine: Engine, first_case: int, last_case: int) -> int:
    """How many cases with ids in [first_case, last_case] wait in their review task."""
    with Session(engine) as session:
        return session.exec(
            select(func.count()).where(
                col(Task.case_id).between(first_case, last_case),
                col(Task.step) == "review_form",
                col(Task.status) == TaskStatus.open,
            )
        ).one()


def closed_cases(engine: Engine, first_case: int, last_case: int) -> int:
    """How many cases with ids in [first_case, last_case] are no longer open."""
    with Session(engine) as session:
        return session.exec(
            select(func.count()).where(
                col(Case.id).between(first_case, last_case),
                col(Case.status) != CaseStatus.open,
            )
        ).one()
