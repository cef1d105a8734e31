"""Test data: valid national codes, forms, users, and cases opened as the API would."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from db.case_store import forget_case as forget_case_of_process
from db.case_store import open_case as open_case_of_process
from db.models import Case, Person
from domain.email_account import EmailRequestForm
from processes.email_account import EMAIL_ACCOUNT

_counter = itertools.count(1)


def national_code(seed: int) -> str:
    """A valid national code derived from `seed` (never one repeated digit)."""
    rng = random.Random(seed)
    while True:
        body = [rng.randrange(10) for _ in range(9)]
        s = sum(d * (10 - i) for i, d in enumerate(body)) % 11
        check = s if s < 2 else 11 - s
        code = "".join(map(str, body)) + str(check)
        if len(set(code)) > 1:
            return code


def form_data(**overrides: Any) -> dict[str, Any]:
    n = next(_counter) + random.randrange(10**6)
    data = {
        "first_name": "زهرا",
        "last_name": "محمدی",
        "national_code": national_code(n),
        "mobile": f"0912{n % 10**7:07d}",
        "affiliation": "student",
        "member_id": f"40{n % 10**8:08d}",
        "unit": "دانشکده پزشکی",
        "requested_username": f"zmohammadi{n}",
        "personal_email": f"zahra{n}@example.com",
    }
    data.update(overrides)
    return data


def open_case(engine: Engine, data: dict[str, Any], *, key: str | None = None) -> Case:
    form = EmailRequestForm.model_validate(data)
    with Session(engine, expire_on_commit=False) as session:
        case = open_case_of_process(
            session,
            EMAIL_ACCOUNT,
            form,
            idempotency_key=key,
            answer_due_at=datetime.now(UTC) + timedelta(days=7),
        )
        session.commit()
    return case


def forget_case(engine: Engine, case: Case) -> None:
    """Remove a case a test left half-made, so other tests' sweeps never meet it."""
    with Session(engine) as session:
        stored = session.get(Case, case.id)
        if stored is not None:
            forget_case_of_process(session, EMAIL_ACCOUNT, stored)


def register_person(engine: Engine, data: dict[str, Any]) -> None:
    with Session(engine) as session:
        session.add(
            Person(
                national_code=data["national_code"],
                member_id=data["member_id"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                affiliation=data["affiliation"],
                unit=data["unit"],
            )
        )
        session.commit()
