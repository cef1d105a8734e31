"""Public routes that need no workflow: tracking's second factor and rate limit, errors."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import Engine
from sqlmodel import Session

from db.models import EmailRequest
from tests.factories import forget_case, form_data, open_case


async def test_wrong_second_factor_is_indistinguishable(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    data = form_data()
    case = open_case(engine, data)
    right = await api.get(
        f"/api/track/{case.tracking_code}", params={"national_code": data["national_code"]}
    )
    assert right.status_code == 200 and right.json()["status"] == "open"
    assert right.json()["stages"][0]["step"] == "submitted"
    wrong = await api.get(
        f"/api/track/{case.tracking_code}", params={"national_code": "0013542419"}
    )
    unknown = await api.get(
        "/api/track/9999999999", params={"national_code": data["national_code"]}
    )
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.json() == unknown.json()
    assert wrong.headers.keys() == unknown.headers.keys()


async def test_tracking_rate_limit(api: httpx.AsyncClient, settings) -> None:
    limit = settings.track_rate_limit_per_minute
    answers = [
        (await api.get("/api/track/1000000000", params={"national_code": "0013542419"})).status_code
        for _ in range(limit + 3)
    ]
    assert answers[:limit] == [404] * limit
    assert answers[limit:] == [429, 429, 429]
    limited = await api.get(
        "/api/track/1000000000",
        params={"national_code": "0013542419"},
        headers={"Accept-Language": "en"},
    )
    assert limited.json()["message"].startswith("Too many requests")


async def test_missing_fields_named_in_both_languages(api: httpx.AsyncClient) -> None:
    fa = await api.post("/api/email-requests", json={"first_name": "زهرا"})
    en = await api.post(
        "/api/email-requests",
        json={"first_name": "زهرا"},
        headers={"Accept-Language": "en-US,en;q=0.9"},
    )
    assert fa.status_code == en.status_code == 422
    missing = {e["field"] for e in en.json()["errors"] if e["code"] == "required"}
    assert missing == {
        "last_name",
        "national_code",
        "mobile",
        "affiliation",
        "member_id",
        "unit",
        "requested_username",
    }
    assert fa.json()["errors"][0]["reason"] == "پر کردن این فیلد الزامی است."
    assert en.json()["errors"][0]["reason"] == "This field is required."


async def test_bad_json_and_unknown_affiliation(api: httpx.AsyncClient) -> None:
    broken = await api.post(
        "/api/email-requests", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert broken.status_code == 422
    odd = await api.post("/api/email-requests", json=form_data(affiliation="alien"))
    assert [e["field"] for e in odd.json()["errors"]] == ["affiliation"]


async def test_health_reports_temporal_down(api: httpx.AsyncClient) -> None:
    health = await api.get("/api/health")
    assert health.json() == {"status": "degraded", "database": True, "temporal": False}


async def test_one_open_request_per_person(api: httpx.AsyncClient, engine: Engine) -> None:
    data = form_data()
    open_case(engine, data)
    second = await api.post(
        "/api/email-requests",
        json={**data, "requested_username": "another.name"},
        headers={"Accept-Language": "en"},
    )
    assert second.status_code == 409
    assert second.json()["errors"][0]["field"] == "national_code"
    assert "already in progress" in second.json()["errors"][0]["reason"]


async def test_a_key_whose_case_is_being_removed_answers_503(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    """The first attempt's start failed and its case is being removed (form first): the retry
    is told to come back, and then opens the case anew."""
    key = str(uuid.uuid4())
    data = form_data()
    case = open_case(engine, data, key=key)
    with Session(engine) as session:
        session.delete(session.get(EmailRequest, case.id))
        session.commit()
    try:
        answer = await api.post("/api/email-requests", json=data, headers={"Idempotency-Key": key})
        assert answer.status_code == 503, answer.text
        assert answer.json()["code"] == "unavailable"
    finally:
        forget_case(engine, case)
