"""Process 5 over HTTP, as the hospital's IT unit, the SEPAS expert, the HIS vendor and the
ministry's Jira do it, on a real Temporal dev server with the local Jira."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from db.models import Case, User
from db.sepas import (
    ErrorBankEntry,
    HisVendor,
    Hospital,
    SepasCase,
    his_vendor_scope,
    hospital_scope,
)
from db.srm_import import SRM_FIELD_FA
from domain.calendar import TEHRAN
from domain.cases import Role
from domain.jira import tracking_label
from domain.passwords import hash_password
from domain.sepas import match_key
from tests.e2e.conftest import JIRA_TOKEN
from tests.e2e.test_email_process import login, wait_for_task
from tests.jira_server import JiraServer
from tests.stack import PASSWORD, Stack
from tests.workflows.test_sepas import evidence_span

PROCESS = "sepas_error"
HEADER = ",".join(SRM_FIELD_FA.values())


def add_login(engine: Engine, role: Role, scope: str) -> str:
    username = f"{role.value.replace('_', '-')}-{uuid.uuid4().hex[:6]}"
    with Session(engine) as session:
        session.add(
            User(
                username=username,
                password_hash=hash_password(PASSWORD),
                roles=[role],
                scopes=[scope] if scope else [],
            )
        )
        session.commit()
    return username


def add_hospital(engine: Engine) -> tuple[str, int]:
    tag = uuid.uuid4().hex[:6].upper()
    with Session(engine, expire_on_commit=False) as session:
        vendor = HisVendor(name=f"شرکت HIS {tag}", products=["شفا"], mobile="09121110000")
        session.add(vendor)
        session.flush()
        session.add(Hospital(code=f"E{tag}", name=f"بیمارستان {tag}", his_vendor_id=vendor.id))
        session.commit()
        assert vendor.id is not None
        return f"E{tag}", vendor.id


def srm_csv(rows: list[tuple[str, datetime, str, int]]) -> dict[str, tuple[str, bytes, str]]:
    lines = [HEADER]
    lines += [
        f"{code},{at.isoformat(timespec='seconds')},{uuid.uuid4().int % 10**9},{message},{count}"
        for code, at, message, count in rows
    ]
    return {"file": ("srm.csv", ("\n".join(lines) + "\n").encode(), "text/csv")}


async def upload_srm(
    http: httpx.AsyncClient,
    expert: dict[str, str],
    rows: list[tuple[str, datetime, str, int]],
    since: datetime,
    until: datetime,
) -> None:
    answer = await http.post(
        "/api/sepas/srm/import",
        files=srm_csv(rows),
        data={"period_from": since.isoformat(), "period_until": until.isoformat()},
        headers=expert,
    )
    assert answer.status_code == 200, answer.text


def report(code: str) -> dict[str, Any]:
    return {
        "hospital_code": code,
        "reporter_name": "سارا محمدی",
        "mobile": "09127654321",
        "what_fails": "پرونده‌های بستری دو روز است به سپاس نمی‌رسد",
        "since": (datetime.now(TEHRAN) - timedelta(days=2)).date().isoformat(),
        "sample_record_ids": "55501 55502",
    }


async def complete(
    http: httpx.AsyncClient, headers: dict[str, str], task: dict[str, Any], decision: dict[str, Any]
) -> None:
    answer = await http.post(f"/api/tasks/{task['id']}/complete", json=decision, headers=headers)
    assert answer.status_code == 200, answer.text


async def timeline_has(
    http: httpx.AsyncClient, headers: dict[str, str], code: str, text: str
) -> None:
    for _ in range(300):
        case = (await http.get(f"/api/cases/{code}", headers=headers)).json()
        if any(text in entry["text_fa"] for entry in case["timeline"]):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{text!r} never reached the timeline of {code}")


async def fixed_at(engine: Engine, code: str) -> datetime:
    """When the case recorded the fix (SRM's evidence is read from then)."""
    for _ in range(300):
        with Session(engine) as session:
            at = session.exec(
                select(SepasCase.fixed_at)
                .join(Case, col(Case.id) == col(SepasCase.case_id))
                .where(Case.tracking_code == code)
            ).first()
        if at is not None:
            return at
        await asyncio.sleep(0.1)
    raise AssertionError(f"case {code} recorded no fix")


async def in_jira(jira: JiraServer, code: str) -> str:
    label = tracking_label(code)
    for _ in range(300):
        keys = [k for k, i in jira.state.issues.items() if label in i.fields.get("labels", [])]
        if keys:
            assert len(keys) == 1, keys
            return keys[0]
        await asyncio.sleep(0.1)
    raise AssertionError(f"no Jira issue for {code}")


async def test_an_unknown_error_through_the_ministry_jira_over_http(
    stack: Stack, engine: Engine, ministry_jira: JiraServer
) -> None:
    http = stack.http
    hospital, _ = add_hospital(engine)
    other_hospital, _ = add_hospital(engine)
    expert = await login(http, add_login(engine, Role.sepas_expert, ""))
    mine = await login(http, add_login(engine, Role.hospital_it, hospital_scope(hospital)))
    theirs = await login(http, add_login(engine, Role.hospital_it, hospital_scope(other_hospital)))
    message = f"Mapping missing: {uuid.uuid4().hex}{uuid.uuid4().hex}"
    now = datetime.now(UTC)
    await upload_srm(
        http,
        expert,
        [(hospital, now - timedelta(hours=5), message, 7)],
        now - timedelta(days=4),
        now + timedelta(minutes=30),
    )

    # The hospital reports for itself; another hospital neither can nor sees the case.
    assert (
        await http.post("/api/sepas-reports", json=report(hospital), headers=theirs)
    ).status_code == 403
    submitted = await http.post("/api/sepas-reports", json=report(hospital), headers=mine)
    assert submitted.status_code == 201, submitted.text
    code = submitted.json()["tracking_code"]
    assert (await http.get(f"/api/cases/{code}", headers=mine)).status_code == 200
    assert (await http.get(f"/api/cases/{code}", headers=theirs)).status_code == 403

    classify = await wait_for_task(http, expert, code, "classify", PROCESS)
    detail = (await http.get(f"/api/tasks/{classify['id']}", headers=expert)).json()
    [group] = detail["context"]["groups"]
    assert group["message"] == message and group["count"] == 7 and group["match"] is None
    assert detail["form_schema"]["properties"]["verdict"]["default"] == "unknown"
    await complete(http, expert, classify, {"verdict": "unknown"})
    # The case page lists SRM's errors by message, as the hospital sees it too.
    seen = (await http.get(f"/api/cases/{code}", headers=mine)).json()
    assert [(g["message"], g["count"]) for g in seen["facts"]["groups"]] == [(message, 7)]

    # The ministry answers in its Jira; its webhook wakes the case long before the next poll.
    key = await in_jira(ministry_jira, code)
    async with httpx.AsyncClient(
        base_url=ministry_jira.url, headers={"Authorization": f"Bearer {JIRA_TOKEN}"}
    ) as jira:
        answer = await jira.post(
            f"/rest/api/2/issue/{key}/comment", json={"body": "نگاشت کد در سرویس واژگان افزوده شد"}
        )
        assert answer.status_code == 201, answer.text
        await timeline_has(http, expert, code, "نگاشت کد در سرویس واژگان افزوده شد")
        answer = await jira.post(
            f"/rest/api/2/issue/{key}/transitions",
            json={"transition": {"id": "21"}, "fields": {"resolution": {"name": "Fixed"}}},
        )
        assert answer.status_code == 204, answer.text
    fixed = await fixed_at(engine, code)

    # SRM's next export shows the message no more: the upload wakes the case. SRM's data
    # reaches as far as its latest import (any suite's), so this one reaches past them all.
    since, end = evidence_span(engine, fixed)
    await upload_srm(
        http,
        expert,
        [(other_hospital, end - timedelta(days=1), "NationalCode invalid", 1)],
        since,
        end,
    )
    lesson = await wait_for_task(http, expert, code, "learn", PROCESS)
    lesson_form = (await http.get(f"/api/tasks/{lesson['id']}", headers=expert)).json()
    assert lesson_form["form_schema"]["properties"]["message"]["default"] == message
    await complete(
        http,
        expert,
        lesson,
        {
            "message": message,
            "category": "structural",
            "cause_fa": "نگاشت کد در سرویس واژگان سپاس نبود",
            "cause_en": "SEPAS's terminology service lacked the code's mapping",
            "remedy_fa": "وزارت نگاشت را افزود؛ پرونده‌ها را دوباره ارسال کنید",
            "remedy_en": "The ministry added the mapping; send the records again",
            "source": "jira",
            "jira_key": key,
        },
    )
    for _ in range(300):
        tracked = await http.get(f"/api/track/{code}", params={"identity": "09127654321"})
        assert tracked.status_code == 200, tracked.text
        if tracked.json()["status"] != "open":
            break
        await asyncio.sleep(0.1)
    view = tracked.json()
    assert view["status"] == "closed"
    shown = {item["key"]: item["value"] for item in view["answer"]["items"]}
    assert key in shown["jira"] and shown["evidence"]
    facts = (await http.get(f"/api/cases/{code}", headers=expert)).json()["facts"]
    assert facts["jira_key"] == key and facts["verdict"] == "unknown"
    with Session(engine) as session:
        learned = session.exec(
            select(ErrorBankEntry).where(ErrorBankEntry.match_key == match_key(message))
        ).one()
        assert learned.jira_key == key
    assert len([k for k in ministry_jira.state.issues if k == key]) == 1


async def test_a_software_error_at_the_his_vendor_over_http(stack: Stack, engine: Engine) -> None:
    http = stack.http
    hospital, vendor_id = add_hospital(engine)
    _, other_vendor_id = add_hospital(engine)
    expert = await login(http, add_login(engine, Role.sepas_expert, ""))
    mine = await login(http, add_login(engine, Role.hospital_it, hospital_scope(hospital)))
    vendor = await login(http, add_login(engine, Role.his_vendor, his_vendor_scope(vendor_id)))
    other_vendor = await login(
        http, add_login(engine, Role.his_vendor, his_vendor_scope(other_vendor_id))
    )
    now = datetime.now(UTC)
    await upload_srm(
        http,
        expert,
        [(hospital, now - timedelta(hours=2), "DO_CODED_TEXT Diagnosis is not Complete.", 12)],
        now - timedelta(days=4),
        now + timedelta(minutes=30),
    )
    submitted = await http.post("/api/sepas-reports", json=report(hospital), headers=mine)
    assert submitted.status_code == 201, submitted.text
    code = submitted.json()["tracking_code"]

    classify = await wait_for_task(http, expert, code, "classify", PROCESS)
    await complete(http, expert, classify, {"verdict": "software", "note": "کد تشخیص ناقص"})
    job = await wait_for_task(http, vendor, code, "vendor_fix", PROCESS)
    assert (await http.get(f"/api/tasks/{job['id']}", headers=other_vendor)).status_code == 403
    refused = await http.post(
        f"/api/tasks/{job['id']}/complete", json={"fixed": True}, headers=vendor
    )
    assert refused.status_code == 422
    assert {e["field"] for e in refused.json()["errors"]} >= {"fix", "version"}
    await complete(http, vendor, job, {"fixed": False, "reason": "این پیام از نسخه قدیمی HIS است"})
    again = await wait_for_task(http, expert, code, "classify", PROCESS)
    await complete(
        http, expert, again, {"verdict": "no_error", "note": "بیمارستان نسخه را به‌روز می‌کند"}
    )
    for _ in range(300):
        tracked = (await http.get(f"/api/track/{code}", params={"identity": "09127654321"})).json()
        if tracked["status"] != "open":
            break
        await asyncio.sleep(0.1)
    assert tracked["status"] == "closed" and tracked["answer"]["outcome"] == "no_error"
