"""Process 2 over HTTP, as the person, the support lead, the technician and the vendors do it,
on a real Temporal dev server."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine
from sqlmodel import Session, select

from db.models import Case, OutboundMessage, User
from db.repair import Asset, RepairJob, Vendor, vendor_scope
from domain.calendar import TEHRAN
from domain.cases import Role
from domain.passwords import hash_password
from domain.repair import AssetKind
from tests.e2e.test_email_process import login, wait_closed, wait_for_task
from tests.stack import PASSWORD, Stack

PROCESS = "equipment_repair"


def add_vendor_with_login(engine: Engine, name: str) -> tuple[Vendor, str]:
    username = f"vendor-{uuid.uuid4().hex[:8]}"
    with Session(engine, expire_on_commit=False) as session:
        vendor = Vendor(
            name=name, fields=["printer", "scanner"], mobile="09121110000", email=f"{username}@v.ir"
        )
        session.add(vendor)
        session.commit()
        session.add(
            User(
                username=username,
                full_name=name,
                password_hash=hash_password(PASSWORD),
                roles=[Role.vendor],
                scopes=[vendor_scope(vendor.id or 0)],
            )
        )
        session.commit()
    return vendor, username


def add_staff(engine: Engine, role: Role) -> str:
    username = f"{role.value}-{uuid.uuid4().hex[:6]}"
    with Session(engine) as session:
        session.add(
            User(
                username=username,
                password_hash=hash_password(PASSWORD),
                roles=[role],
                scopes=["*"],
            )
        )
        session.commit()
    return username


async def complete(
    http: httpx.AsyncClient, headers: dict[str, str], task: dict[str, Any], decision: dict[str, Any]
) -> httpx.Response:
    return await http.post(f"/api/tasks/{task['id']}/complete", json=decision, headers=headers)


async def decide(
    http: httpx.AsyncClient,
    headers: dict[str, str],
    code: str,
    step: str,
    decision: dict[str, Any],
) -> dict[str, Any]:
    task = await wait_for_task(http, headers, code, step, PROCESS)
    answer = await complete(http, headers, task, decision)
    assert answer.status_code == 200, answer.text
    return task


async def test_repair_through_a_vendor_over_http(stack: Stack, engine: Engine) -> None:
    http = stack.http
    printers, printers_login = add_vendor_with_login(engine, f"رایان {uuid.uuid4().hex[:4]}")
    _, other_login = add_vendor_with_login(engine, f"پردازش {uuid.uuid4().hex[:4]}")
    with Session(engine) as session:
        property_number = f"E2E-{uuid.uuid4().hex[:6]}"
        session.add(
            Asset(property_number=property_number, kind=AssetKind.printer, make_model="Canon 6030")
        )
        session.commit()

    person = {
        "personnel_number": "۸۷۶۵۴",
        "mobile": "09351112233",
        "full_name": "مریم احمدی",
        "unit": "امور مالی",
        "property_number": property_number,
        "location": "ستاد، اتاق ۲۰۴",
        "problem": "چاپگر کاغذ را گیر می‌اندازد",
        "urgency": "high",
    }
    submitted = await http.post("/api/repair-requests", json=person)
    assert submitted.status_code == 201, submitted.text
    code = submitted.json()["tracking_code"]

    lead = await login(http, add_staff(engine, Role.support_lead))
    technician = await login(http, add_staff(engine, Role.technician))
    vendor = await login(http, printers_login)
    other = await login(http, other_login)

    assess = await wait_for_task(http, lead, code, "assess", PROCESS)
    detail = (await http.get(f"/api/tasks/{assess['id']}", headers=lead)).json()
    assert detail["context"]["make_model"] == "Canon 6030"
    assert detail["context"]["under_warranty"] is False
    assert (await complete(http, technician, assess, {"in_house": False})).status_code == 403
    assert (await complete(http, lead, assess, {"in_house": False})).status_code == 200

    choose = await wait_for_task(http, lead, code, "choose_vendor", PROCESS)
    offered = (await http.get(f"/api/tasks/{choose['id']}", headers=lead)).json()
    assert str(printers.id) in offered["form_schema"]["properties"]["vendor"]["enum"]
    dispatch = {"vendor": str(printers.id), "dispatched_on": "2026-12-01", "taken_by": "آقای رضایی"}
    assert (await complete(http, lead, choose, dispatch)).status_code == 200

    # The vendor works from its cartable; another vendor sees nothing of this job.
    job = await wait_for_task(http, vendor, code, "vendor_job", PROCESS)
    theirs = (await http.get("/api/tasks", headers=other, params={"process": PROCESS})).json()
    assert all(item["tracking_code"] != code for item in theirs["items"])
    assert (await http.get(f"/api/tasks/{job['id']}", headers=other)).status_code == 403
    assert (await http.get(f"/api/cases/{code}", headers=other)).status_code == 403
    assert (await complete(http, other, job, {"kind": "received"})).status_code == 403
    refused = await complete(http, vendor, job, {"kind": "diagnosed"})
    assert refused.status_code == 422, refused.text

    today = datetime.now(TEHRAN).date()
    received = {"kind": "received", "promised_date": (today + timedelta(days=10)).isoformat()}
    assert (await complete(http, vendor, job, received)).status_code == 200

    tracked = await http.get(f"/api/track/{code}", params={"identity": "87654"})
    assert tracked.status_code == 200
    assert any(printers.name in s["title_fa"] for s in tracked.json()["stages"])

    quote = stack.settings.repair_quote_approval_limit_rials + 5_000_000
    await decide(http, vendor, code, "vendor_job", {"kind": "diagnosed", "quote_rials": quote})
    await decide(http, lead, code, "approve_quote", {"approved": True})
    await decide(http, vendor, code, "vendor_job", {"kind": "repaired", "note": "فیوزر تعویض شد"})
    await decide(http, lead, code, "inspect", {"accepted": False, "reason": "هنوز خط می‌اندازد"})
    await decide(http, vendor, code, "vendor_job", {"kind": "repaired"})
    await decide(
        http,
        lead,
        code,
        "inspect",
        {"accepted": True, "minutes": 40, "cost_material_rials": 9_000_000},
    )
    await decide(http, technician, code, "hand_over", {"handed_to": "مریم احمدی"})

    # The person confirms receipt from the tracking page, with a score.
    for _ in range(300):
        view = (await http.get(f"/api/track/{code}", params={"identity": "87654"})).json()
        if view["tasks"]:
            break
        await asyncio.sleep(0.05)
    [confirm] = view["tasks"]
    assert confirm["step"] == "confirm_receipt"
    wrong = await http.post(
        f"/api/track/{code}/tasks/{confirm['id']}",
        json={"identity": "11111", "decision": {"received": True}},
    )
    assert wrong.status_code == 404
    bad = await http.post(
        f"/api/track/{code}/tasks/{confirm['id']}",
        json={"identity": "87654", "decision": {"received": True, "satisfaction": 9}},
    )
    assert bad.status_code == 422, bad.text
    confirmed = await http.post(
        f"/api/track/{code}/tasks/{confirm['id']}",
        json={"identity": "87654", "decision": {"received": True, "satisfaction": 4}},
    )
    assert confirmed.status_code == 200, confirmed.text
    closed = await wait_closed(http, code, "87654")
    assert closed["answer"]["outcome"] == "repaired_by_vendor"
    assert closed["answer"]["text_fa"] == "تعمیر شد (توسط شرکت)"

    with Session(engine) as session:
        case_job = session.exec(select(RepairJob).where(RepairJob.vendor_id == printers.id)).one()
        assert case_job.send_backs == 1 and case_job.quote_approved is True
        assert case_job.cost_material_rials == 9_000_000 and case_job.delivered_at is not None
        assert case_job.satisfaction == 4 and case_job.receipt_confirmed_at is not None
        sms = session.exec(
            select(OutboundMessage).where(
                OutboundMessage.case_id == case_job.case_id,
                OutboundMessage.recipient == "09351112233",
            )
        ).all()
    assert len(sms) == 3  # assessed (to a vendor), sent to the vendor, ready
    ready = next(m for m in sms if "آماده تحویل" in m.body)
    assert f"/track/{code}?k=" in ready.body


async def test_staff_report_for_someone_else_and_an_unknown_property_number(
    stack: Stack, engine: Engine
) -> None:
    http = stack.http
    lead_name = add_staff(engine, Role.support_lead)
    lead = await login(http, lead_name)
    report = {
        "personnel_number": "55501",
        "mobile": "09127778899",
        "full_name": "حسن رضایی",
        "unit": "حراست",
        "property_number": f"NEW-{uuid.uuid4().hex[:6]}",
        "kind": "scanner",
        "location": "ساختمان ۲، اتاق ۱۱",
        "problem": "اسکنر روشن نمی‌شود",
    }
    missing_kind = await http.post(
        "/api/repair-requests", json={**report, "property_number": "", "kind": ""}, headers=lead
    )
    assert missing_kind.status_code == 422
    submitted = await http.post("/api/repair-requests", json=report, headers=lead)
    assert submitted.status_code == 201, submitted.text
    code = submitted.json()["tracking_code"]
    with Session(engine) as session:
        case = session.exec(select(Case).where(Case.tracking_code == code)).one()
    assert case.started_by == lead_name and case.requester_name == "حسن رضایی"
    assess = await wait_for_task(http, lead, code, "assess", PROCESS)
    context = (await http.get(f"/api/tasks/{assess['id']}", headers=lead)).json()["context"]
    assert context["in_register"] is False and context["kind"] == "scanner"
    cancelled = await http.post(
        f"/api/cases/{code}/cancel",
        json={"reason": "گزارش تکراری"},
        headers=await login(http, "e2e_admin"),
    )
    assert cancelled.status_code == 200, cancelled.text
    closed = await wait_closed(http, code, "55501")
    assert closed["answer"]["outcome"] == "cancelled"
