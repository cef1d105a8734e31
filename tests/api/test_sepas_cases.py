"""Process 5's cases through the API, before Temporal: who may report for which hospital, which
hospitals exist, who sees a case, and the ministry Jira's webhook."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from db.case_store import open_case
from db.models import Case
from db.sepas import Hospital, SepasCase, hospital_scope
from domain.cases import Role
from domain.sepas_process import SepasReportForm
from processes.sepas import SEPAS
from settings import Settings

MakeUser = Callable[..., tuple[Any, dict[str, str]]]
EN = {"Accept-Language": "en"}


def add_hospital(engine: Engine, *, active: bool = True) -> str:
    code = f"H{uuid.uuid4().hex[:8].upper()}"
    with Session(engine) as session:
        session.add(Hospital(code=code, name="بیمارستان نمونه", active=active))
        session.commit()
    return code


def report(code: str, **overrides: Any) -> dict[str, Any]:
    return {
        "hospital_code": code,
        "reporter_name": "علی رضایی",
        "mobile": "09121234567",
        "what_fails": "پرونده‌های سرپایی به سپاس نمی‌رسد",
        "since": (datetime.now(UTC) - timedelta(days=1)).date().isoformat(),
        "sample_record_ids": "1001, 1002",
        **overrides,
    }


def sepas_cases(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(SepasCase)).one()


async def test_a_hospital_reports_for_itself_only_and_for_a_hospital_in_the_register(
    api: httpx.AsyncClient, make_user: MakeUser, engine: Engine
) -> None:
    mine, other = add_hospital(engine), add_hospital(engine)
    _, hospital_it = make_user(Role.hospital_it, scopes=(hospital_scope(mine),))
    _, technician = make_user(Role.technician)
    before = sepas_cases(engine)

    assert (await api.post(SEPAS.api_path, json=report(mine))).status_code == 401
    refused = await api.post(SEPAS.api_path, json=report(mine), headers=technician)
    assert refused.status_code == 403
    # Another hospital's report is not this hospital's to make.
    refused = await api.post(SEPAS.api_path, json=report(other), headers=hospital_it)
    assert refused.status_code == 403

    _, expert = make_user(Role.sepas_expert, scopes=())
    unknown = await api.post(SEPAS.api_path, json=report("NOSUCH1"), headers={**expert, **EN})
    assert unknown.status_code == 422, unknown.text
    [problem] = unknown.json()["errors"]
    assert problem["field"] == "hospital_code" and problem["code"] == "hospital_unknown"
    assert "No active hospital" in problem["reason"]
    closed = add_hospital(engine, active=False)
    assert (await api.post(SEPAS.api_path, json=report(closed), headers=expert)).status_code == 422

    future = (datetime.now(UTC) + timedelta(days=5)).date().isoformat()
    bad = await api.post(SEPAS.api_path, json=report(mine, since=future), headers=hospital_it)
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"since"}
    assert sepas_cases(engine) == before, "a refused report writes nothing"


def reported(engine: Engine, code: str) -> Case:
    form = SepasReportForm.model_validate(report(code))
    with Session(engine, expire_on_commit=False) as session:
        case = open_case(
            session,
            SEPAS,
            form,
            idempotency_key=None,
            answer_due_at=datetime.now(UTC) + timedelta(days=10),
            started_by="someone",
        )
        session.commit()
    return case


async def test_a_case_is_seen_by_its_hospital_and_the_sepas_experts_only(
    api: httpx.AsyncClient, make_user: MakeUser, engine: Engine
) -> None:
    mine, other = add_hospital(engine), add_hospital(engine)
    case = reported(engine, mine)
    assert case.scope == hospital_scope(mine)
    _, own_it = make_user(Role.hospital_it, scopes=(hospital_scope(mine),))
    _, other_it = make_user(Role.hospital_it, scopes=(hospital_scope(other),))
    _, expert = make_user(Role.sepas_expert, scopes=())
    _, technician = make_user(Role.technician)

    assert (await api.get(f"/api/cases/{case.tracking_code}", headers=own_it)).status_code == 200
    assert (await api.get(f"/api/cases/{case.tracking_code}", headers=expert)).status_code == 200
    for stranger in (other_it, technician):
        seen = await api.get(f"/api/cases/{case.tracking_code}", headers=stranger)
        assert seen.status_code == 403


async def test_the_jira_webhook_needs_its_secret(
    api: httpx.AsyncClient, settings: Settings, engine: Engine
) -> None:
    hook = {"webhookEvent": "jira:issue_updated", "issue": {"id": "10001", "key": "SEPAS-1"}}
    path = "/api/sepas/jira-webhook"
    # No secret configured: every webhook is refused (polling alone follows the issues).
    assert (await api.post(path, json=hook)).status_code == 404
    api.app.state.settings = settings.model_copy(  # type: ignore[attr-defined]
        update={"jira_webhook_secret": "s3cret-of-the-ministry"}
    )
    assert (await api.post(path, json=hook, params={"secret": "guess"})).status_code == 404
    # The right secret: an issue no open case follows is ignored.
    answer = await api.post(path, json=hook, params={"secret": "s3cret-of-the-ministry"})
    assert answer.status_code == 204
    bad = await api.post(path, json={"issue": {}}, params={"secret": "s3cret-of-the-ministry"})
    assert bad.status_code == 422
