"""Admin routes (users, holidays, registry import) and the codec endpoint for the Temporal UI."""

from __future__ import annotations

import base64
import json
import uuid

import httpx
from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.api.common.v1 import Payload

from db.models import Person
from domain.cases import Role
from settings import AppEnv
from tests.factories import national_code


async def test_users_create_disable_reset(api: httpx.AsyncClient, make_user) -> None:
    _, admin = make_user(Role.admin)
    _, expert = make_user(Role.email_admin)
    name = f"tech{uuid.uuid4().hex[:6]}"
    body = {
        "username": name,
        "password": "long-enough-1",
        "roles": ["technician"],
        "full_name": "علي",
    }
    assert (await api.post("/api/admin/users", json=body, headers=expert)).status_code == 403
    created = await api.post("/api/admin/users", json=body, headers=admin)
    assert created.status_code == 201 and created.json()["full_name"] == "علی"
    assert (await api.post("/api/admin/users", json=body, headers=admin)).status_code == 409
    login = {"username": name, "password": "long-enough-1"}
    assert (await api.post("/api/auth/token", data=login)).status_code == 200
    await api.patch(f"/api/admin/users/{name}", json={"is_active": False}, headers=admin)
    assert (await api.post("/api/auth/token", data=login)).status_code == 401
    await api.patch(f"/api/admin/users/{name}", json={"is_active": True}, headers=admin)
    reset = await api.post(
        f"/api/admin/users/{name}/password", json={"password": "another-pass-2"}, headers=admin
    )
    assert reset.status_code == 204
    assert (await api.post("/api/auth/token", data=login)).status_code == 401
    bad = await api.post("/api/admin/users", json={**body, "roles": ["king"]}, headers=admin)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"].startswith("roles")


async def test_holiday_calendar(api: httpx.AsyncClient, make_user) -> None:
    _, admin = make_user(Role.admin)
    put = await api.put("/api/admin/holidays/2031-03-21", json={"title": "نوروز"}, headers=admin)
    assert put.status_code == 200
    days = [h["day"] for h in (await api.get("/api/admin/holidays", headers=admin)).json()]
    assert "2031-03-21" in days
    assert (await api.delete("/api/admin/holidays/2031-03-21", headers=admin)).status_code == 204
    assert (await api.delete("/api/admin/holidays/2031-03-21", headers=admin)).status_code == 404
    assert (
        await api.put("/api/admin/holidays/2031-02-30", json={"title": "x"}, headers=admin)
    ).status_code == 422


async def test_registry_import_reports_rows(
    api: httpx.AsyncClient, engine: Engine, make_user
) -> None:
    _, admin = make_user(Role.admin)
    good = national_code(424242)
    csv_text = (
        "national_code,member_id,first_name,last_name,affiliation,unit\n"
        f"{good},98123456,مريم,احمدی,student,دانشکده پرستاری\n"
        "1234567890,98123457,رضا,رضایی,staff,مالی\n"
        f"{national_code(434343)},98123458,سارا,,faculty,داروسازی\n"
    )
    report = await api.post(
        "/api/admin/people/import",
        files={"file": ("people.csv", csv_text.encode(), "text/csv")},
        headers=admin,
    )
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["created"] == 1
    assert [(e["row"], e["field"]) for e in body["errors"]] == [
        (3, "national_code"),
        (4, "last_name"),
    ]
    with Session(engine) as session:
        person = session.exec(select(Person).where(Person.national_code == good)).one()
        assert person.first_name == "مریم"


def _payload_json(payload: Payload) -> dict:
    return {
        "metadata": {k: base64.b64encode(v).decode() for k, v in payload.metadata.items()},
        "data": base64.b64encode(payload.data).decode(),
    }


async def test_codec_round_trip_and_access(api: httpx.AsyncClient, make_user) -> None:
    plain = Payload(
        metadata={"encoding": b"json/plain"},
        data=json.dumps({"national_code": "0013542419"}).encode(),
    )
    _, operator = make_user(Role.operator)
    _, expert = make_user(Role.email_admin)
    request = {"payloads": [_payload_json(plain)]}
    encoded = await api.post("/codec/encode", json=request, headers=operator)
    assert encoded.status_code == 200
    sealed = encoded.json()["payloads"][0]
    assert base64.b64decode(sealed["metadata"]["encoding"]) == b"binary/encrypted"
    assert b"0013542419" not in base64.b64decode(sealed["data"])
    decoded = await api.post("/codec/decode", json={"payloads": [sealed]}, headers=operator)
    assert decoded.json() == request

    api.app.state.settings = api.app.state.settings.model_copy(
        update={"app_env": AppEnv.production}
    )  # type: ignore[attr-defined]
    assert (await api.post("/codec/decode", json={"payloads": [sealed]})).status_code == 401
    assert (
        await api.post("/codec/decode", json={"payloads": [sealed]}, headers=expert)
    ).status_code == 403
    assert (
        await api.post("/codec/decode", json={"payloads": [sealed]}, headers=operator)
    ).status_code == 200
    assert (
        await api.post("/codec/decode", content=b"nonsense", headers=operator)
    ).status_code == 400


async def test_registry_file_without_its_columns_is_refused_whole(
    api: httpx.AsyncClient, engine: Engine, make_user
) -> None:
    _, admin = make_user(Role.admin)
    code = national_code(454545)
    csv_text = f"national_code,first_name\n{code},مریم\n"
    answer = await api.post(
        "/api/admin/people/import",
        files={"file": ("people.csv", csv_text.encode(), "text/csv")},
        headers=admin,
    )
    assert answer.status_code == 422, answer.text
    [problem] = answer.json()["errors"]
    assert problem["field"] == "file" and problem["code"] == "columns_missing"
    assert "member_id" in problem["reason"] and "ستون" in problem["reason"]
    with Session(engine) as session:
        assert session.exec(select(Person).where(Person.national_code == code)).first() is None
