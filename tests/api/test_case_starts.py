"""Who may start a case: the public, or staff holding one of the process's starter roles.

A staff-only process is refused before anything is written or any workflow is asked for."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from api.app import create_app
from db.models import Case
from domain.cases import Role
from processes.declaration import Registry
from settings import Settings
from tests.e2e.loan_process import LOAN

STAFF_ONLY = replace(LOAN, starters=frozenset({Role.support_lead}))


@pytest.fixture
async def staff_only_api(settings: Settings, engine: Engine) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        settings,
        engine=engine,
        temporal=object(),  # type: ignore[arg-type]
        processes=Registry([STAFF_ONLY]),
    )
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50001))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def _loan() -> dict[str, Any]:
    return {
        "personnel_number": "12345678",
        "full_name": "مریم کاظمی",
        "unit": "معاونت آموزشی",
        "device": "laptop",
        "days": 3,
    }


def _loan_cases(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(
            select(func.count()).select_from(Case).where(col(Case.process) == LOAN.kind)
        ).one()


async def test_a_staff_only_process_refuses_the_public_and_other_roles(
    staff_only_api: httpx.AsyncClient,
    engine: Engine,
    make_user: Callable[..., tuple[Any, dict[str, str]]],
) -> None:
    before = _loan_cases(engine)
    anonymous = await staff_only_api.post("/api/loan-requests", json=_loan())
    assert anonymous.status_code == 401
    _, technician = make_user(Role.technician)
    other_role = await staff_only_api.post(
        "/api/loan-requests",
        json=_loan(),
        headers={**technician, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert other_role.status_code == 403
    assert _loan_cases(engine) == before


async def test_a_staff_only_form_page_asks_for_a_login(
    staff_only_api: httpx.AsyncClient,
) -> None:
    page = await staff_only_api.get("/loan/new")
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    home = await staff_only_api.get("/")
    assert "/loan/new" not in home.text


def test_starters_are_the_public_or_named_roles() -> None:
    assert LOAN.public and LOAN.may_start([])
    assert not STAFF_ONLY.public
    assert STAFF_ONLY.may_start([Role.support_lead])
    assert STAFF_ONLY.may_start([Role.admin])
    assert not STAFF_ONLY.may_start([Role.technician])


async def test_an_empty_idempotency_key_is_no_key(api: httpx.AsyncClient) -> None:
    """Two requests with an empty key are two requests, not a clash (the fuzz found a 500)."""
    from tests.factories import form_data

    answers = [
        await api.post("/api/email-requests", json=form_data(), headers={"Idempotency-Key": ""})
        for _ in range(2)
    ]
    assert [a.status_code for a in answers] != [500, 500]
    assert all(a.status_code in (201, 503) for a in answers), [a.text for a in answers]


async def test_a_case_of_a_process_no_longer_run_is_not_found(
    staff_only_api: httpx.AsyncClient,
    engine: Engine,
    make_user: Callable[..., tuple[Any, dict[str, str]]],
) -> None:
    """The e-mail case exists, but this app runs only the loan process: 404, not a crash."""
    from tests.factories import form_data, open_case

    data = form_data()
    case = open_case(engine, data)
    _, admin = make_user(Role.admin)
    tracked = await staff_only_api.get(
        f"/api/track/{case.tracking_code}", params={"identity": data["national_code"]}
    )
    detail = await staff_only_api.get(f"/api/cases/{case.tracking_code}", headers=admin)
    assert tracked.status_code == detail.status_code == 404
