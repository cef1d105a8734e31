"""A case and its form are written together or not at all: the API may die at any line."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from db import case_store
from db.case_store import open_case, stored_form
from db.models import Case, EmailRequest
from domain.email_account import EmailRequestForm
from processes.email_account import EMAIL_ACCOUNT
from tests.factories import form_data

DUE = datetime.now(UTC) + timedelta(days=7)


def _case_of(engine: Engine, key: str) -> Case | None:
    with Session(engine) as session:
        return session.exec(select(Case).where(Case.idempotency_key == key)).first()


def test_nothing_is_kept_until_the_caller_commits(engine: Engine) -> None:
    key = str(uuid.uuid4())
    form = EmailRequestForm.model_validate(form_data())
    with Session(engine) as session:
        open_case(session, EMAIL_ACCOUNT, form, idempotency_key=key, answer_due_at=DUE)
        session.rollback()  # the process died before its commit
    assert _case_of(engine, key) is None


def test_a_drawn_code_already_taken_is_drawn_again(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Session(engine, expire_on_commit=False) as session:
        first = open_case(
            session,
            EMAIL_ACCOUNT,
            EmailRequestForm.model_validate(form_data()),
            idempotency_key=None,
            answer_due_at=DUE,
        )
        session.commit()
    # The second draw differs from the first in its first digit (whatever that digit is).
    other = ("1" if first.tracking_code[0] != "1" else "2") + first.tracking_code[1:]
    draws = iter([first.tracking_code, other])
    monkeypatch.setattr(case_store, "new_tracking_code", lambda: next(draws))
    key = str(uuid.uuid4())
    form = EmailRequestForm.model_validate(form_data())
    with Session(engine) as session:
        second = open_case(session, EMAIL_ACCOUNT, form, idempotency_key=key, answer_due_at=DUE)
        session.commit()
        assert second.tracking_code != first.tracking_code
        assert stored_form(session, EMAIL_ACCOUNT, second.id) == form  # type: ignore[arg-type]


def test_a_taken_idempotency_key_raises_and_leaves_the_first_whole(engine: Engine) -> None:
    key = str(uuid.uuid4())
    form = EmailRequestForm.model_validate(form_data())
    with Session(engine) as session:
        open_case(session, EMAIL_ACCOUNT, form, idempotency_key=key, answer_due_at=DUE)
        session.commit()
    with Session(engine) as session, pytest.raises(IntegrityError):
        open_case(session, EMAIL_ACCOUNT, form, idempotency_key=key, answer_due_at=DUE)
    stored = _case_of(engine, key)
    assert stored is not None
    with Session(engine) as session:
        assert session.get(EmailRequest, stored.id) is not None
