"""Process 2 (equipment repair) on the time-skipping server, every branch of the chart, with the
real activities on the test database."""

from __future__ import annotations

import asyncio
import itertools
import random
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from db.models import Case, OutboundMessage, Task, User
from db.repair import Asset, RepairJob, Vendor, vendor_scope
from domain.calendar import TEHRAN
from domain.cases import CaseStatus, EventKind, Role, TaskStatus
from domain.repair import AssetKind, AssetState, RepairForm, RepairOutcome
from domain.tasks import Actor, CancelCaseInput, CompleteTaskInput, TaskRefusal
from processes.repair import REPAIR
from settings import Settings
from tests.workflows.cases import open_task, sent, start_case, timeline
from worker import build_worker
from workflows.repair import (
    APPROVE_QUOTE,
    ASSESS,
    CHOOSE_VENDOR,
    CONFIRM_RECEIPT,
    DISPATCH_WARRANTY,
    HAND_OVER,
    INSPECT,
    REPAIR_IN_HOUSE,
    VENDOR_JOB,
    RepairWorkflow,
)

LEAD = Actor(username="lead", roles=[Role.support_lead], scopes=["*"])
TECHNICIAN = Actor(username="tech", roles=[Role.technician], scopes=["*"])
ADMIN = Actor(username="admin", roles=[Role.admin], scopes=["*"])
_numbers = itertools.count(1)

Handle = WorkflowHandle[RepairWorkflow, str]


@pytest.fixture
async def worker(
    env: WorkflowEnvironment, settings: Settings, engine: Engine
) -> AsyncIterator[Worker]:
    async with build_worker(env.client, settings, engine) as running:
        yield running


def add_vendor(engine: Engine, fields: list[AssetKind], *, active: bool = True) -> Vendor:
    with Session(engine, expire_on_commit=False) as session:
        vendor = Vendor(
            name=f"شرکت {uuid.uuid4().hex[:8]}",
            fields=[f.value for f in fields],
            mobile="09120000000",
            email=f"v{uuid.uuid4().hex[:6]}@vendor.example",
            is_active=active,
        )
        session.add(vendor)
        session.commit()
        return vendor


def add_asset(
    engine: Engine, kind: AssetKind, *, warranty_end: date | None = None, vendor: Vendor | None
) -> Asset:
    with Session(engine, expire_on_commit=False) as session:
        asset = Asset(
            property_number=f"P{random.randrange(10**9)}",
            kind=kind,
            make_model="HP LaserJet 400",
            unit="امور مالی",
            warranty_end=warranty_end,
            warranty_vendor_id=vendor.id if vendor else None,
        )
        session.add(asset)
        session.commit()
        return asset


def report(**overrides: Any) -> dict[str, Any]:
    n = next(_numbers) + random.randrange(10**6)
    data: dict[str, Any] = {
        "personnel_number": f"{10000 + n % 90000}",
        "mobile": f"0935{n % 10**7:07d}",
        "full_name": "مریم احمدی",
        "unit": "امور مالی",
        "kind": "printer",
        "location": "ساختمان ستاد، اتاق ۲۰۴",
        "problem": "چاپگر کاغذ را گیر می‌اندازد",
        "urgency": "high",
    }
    data.update(overrides)
    return data


async def start(
    env: WorkflowEnvironment, settings: Settings, engine: Engine, data: dict[str, Any]
) -> tuple[Case, Handle]:
    return await start_case(env, settings, engine, REPAIR, RepairForm.model_validate(data))


async def decide(handle: Handle, task: Task, decision: dict[str, Any], actor: Actor) -> None:
    await handle.execute_update(
        RepairWorkflow.complete_task,
        CompleteTaskInput(task_id=task.id, actor=actor, decision=decision),
    )


async def refused(handle: Handle, task: Task, decision: dict[str, Any], actor: Actor) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await decide(handle, task, decision, actor)
    assert isinstance(failed.value.cause, ApplicationError)
    return str(failed.value.cause.type)


def vendor_actor(vendor: Vendor) -> Actor:
    assert vendor.id is not None
    return Actor(
        username=f"vendor-{vendor.id}", roles=[Role.vendor], scopes=[vendor_scope(vendor.id)]
    )


def requester(case: Case) -> Actor:
    return Actor(username="requester", roles=[Role.requester], scopes=[case.tracking_code])


def job(engine: Engine, case: Case) -> RepairJob:
    with Session(engine) as session:
        found = session.get(RepairJob, case.id)
        assert found is not None
        return found


def asset_state(engine: Engine, asset: Asset) -> AssetState:
    with Session(engine) as session:
        found = session.get(Asset, asset.id)
        assert found is not None
        return found.state


async def deliver_and_confirm(engine: Engine, case: Case, handle: Handle, **answer: Any) -> None:
    await decide(
        handle,
        await open_task(engine, case, HAND_OVER.key),
        {"handed_to": "مریم احمدی"},
        TECHNICIAN,
    )
    confirm = await open_task(engine, case, CONFIRM_RECEIPT.key)
    await decide(handle, confirm, {"received": True, **answer}, requester(case))


async def send_to_vendor(engine: Engine, case: Case, handle: Handle, vendor: Vendor) -> None:
    choose = await open_task(engine, case, CHOOSE_VENDOR.key)
    await decide(
        handle,
        choose,
        {"vendor": str(vendor.id), "dispatched_on": "2026-12-01", "taken_by": "آقای رضایی"},
        LEAD,
    )


async def test_in_house_repair_then_confirmed_with_a_score(env, settings, engine, worker) -> None:
    printer_vendor = add_vendor(engine, [AssetKind.printer])
    asset = add_asset(engine, AssetKind.printer, vendor=printer_vendor)
    case, handle = await start(env, settings, engine, report(property_number=asset.property_number))

    assess = await open_task(engine, case, ASSESS.key)
    assert assess.context["in_register"] is True
    assert assess.context["under_warranty"] is False
    assert assess.context["make_model"] == "HP LaserJet 400"
    assert asset_state(engine, asset) == AssetState.in_repair
    await decide(handle, assess, {"in_house": True, "note": "مشکل غلتک"}, LEAD)

    fix = await open_task(engine, case, REPAIR_IN_HOUSE.key)
    assert await refused(handle, fix, {"fixed": True}, TECHNICIAN) == TaskRefusal.invalid_decision
    assert (
        await refused(handle, fix, {"fixed": True, "work_done": "x", "minutes_spent": 5}, LEAD)
        == TaskRefusal.not_authorized
    )
    await decide(
        handle,
        fix,
        {"fixed": True, "work_done": "تعویض غلتک", "parts_used": "غلتک", "minutes_spent": 45},
        TECHNICIAN,
    )

    await deliver_and_confirm(engine, case, handle, satisfaction=5, comment="سریع بود")
    assert await handle.result() == RepairOutcome.repaired_in_house

    record = job(engine, case)
    assert record.outcome == RepairOutcome.repaired_in_house
    assert record.cost_minutes == 45 and record.technician_note and "غلتک" in record.technician_note
    assert record.satisfaction == 5 and record.satisfaction_comment == "سریع بود"
    assert record.delivered_at is not None and record.receipt_confirmed_at is not None
    assert asset_state(engine, asset) == AssetState.in_service
    bodies = [m.body for m in sent(engine, case) if m.channel == "sms"]
    assert len(bodies) == 2  # assessed in-house, ready
    assert "واحد پشتیبانی" in bodies[0] or "واحد پشتیبانی" in bodies[1]
    with Session(engine) as session:
        closed = session.get(Case, case.id)
    assert closed is not None and closed.status == CaseStatus.closed
    assert closed.outcome == RepairOutcome.repaired_in_house


async def test_technician_cannot_fix_so_a_matching_vendor_repairs_it(
    env, settings, engine, worker
) -> None:
    printers = add_vendor(engine, [AssetKind.printer])
    networks = add_vendor(engine, [AssetKind.network_device])
    add_vendor(engine, [AssetKind.printer], active=False)
    case, handle = await start(env, settings, engine, report())

    await decide(handle, await open_task(engine, case, ASSESS.key), {"in_house": True}, LEAD)
    fix = await open_task(engine, case, REPAIR_IN_HOUSE.key)
    await decide(handle, fix, {"fixed": False, "reason": "برد اصلی سوخته"}, TECHNICIAN)

    choose = await open_task(engine, case, CHOOSE_VENDOR.key)
    offered = choose.form_schema["properties"]["vendor"]["enum"]
    assert str(printers.id) in offered and str(networks.id) not in offered
    wrong = {"vendor": str(networks.id), "dispatched_on": "2026-12-01", "taken_by": "پیک"}
    assert await refused(handle, choose, wrong, LEAD) == TaskRefusal.invalid_decision
    await send_to_vendor(engine, case, handle, printers)

    received = await open_task(engine, case, VENDOR_JOB.key)
    promised = (await env.get_current_time()).astimezone(TEHRAN).date() + timedelta(days=20)
    assert received.scope == vendor_scope(printers.id or 0)
    assert (
        await refused(handle, received, {"kind": "received"}, vendor_actor(networks))
        == TaskRefusal.not_authorized
    )
    await decide(
        handle,
        received,
        {"kind": "received", "promised_date": promised.isoformat()},
        vendor_actor(printers),
    )
    done = await open_task(engine, case, VENDOR_JOB.key, 2)
    # Due at the end of the promised day, Tehran time.
    assert done.due_at.astimezone(TEHRAN).date() == promised + timedelta(days=1)
    assert done.due_at.astimezone(TEHRAN).hour == 0
    await decide(handle, done, {"kind": "repaired", "note": "برد تعویض شد"}, vendor_actor(printers))

    inspect = await open_task(engine, case, INSPECT.key)
    await decide(
        handle,
        inspect,
        {
            "accepted": True,
            "minutes": 30,
            "cost_time_rials": 1_000_000,
            "cost_fixed_rials": 2_000_000,
            "cost_material_rials": 15_000_000,
        },
        LEAD,
    )
    await deliver_and_confirm(engine, case, handle)
    assert await handle.result() == RepairOutcome.repaired_by_vendor

    record = job(engine, case)
    assert record.vendor_id == printers.id and record.taken_by == "آقای رضایی"
    assert record.dispatched_on == date(2026, 12, 1)
    assert (record.cost_time_rials, record.cost_fixed_rials, record.cost_material_rials) == (
        1_000_000,
        2_000_000,
        15_000_000,
    )
    public = [e.text_fa for e in timeline(engine, case) if e.public]
    assert any("تحویل گرفت" in t for t in public) and any("تعمیر را تمام کرد" in t for t in public)
    to_requester = [m.message_key.split(":")[-2] for m in sent(engine, case) if m.channel == "sms"]
    to_requester = [k for k in to_requester if not k.isdigit()]
    assert sorted(to_requester) == ["assessed_in_house", "ready", "sent_to_vendor"]
    to_vendor = [m for m in sent(engine, case) if m.recipient in (printers.mobile, printers.email)]
    assert {m.channel for m in to_vendor} == {"sms", "email"}


async def test_under_warranty_goes_to_the_warranty_vendor_at_no_cost(
    env, settings, engine, worker
) -> None:
    warranty = add_vendor(engine, [AssetKind.laptop])
    asset = add_asset(engine, AssetKind.laptop, warranty_end=date(2030, 1, 1), vendor=warranty)
    case, handle = await start(
        env, settings, engine, report(property_number=asset.property_number, kind="")
    )

    assess = await open_task(engine, case, ASSESS.key)
    assert assess.context["under_warranty"] is True and assess.context["kind"] == "laptop"
    assert assess.context["warranty_vendor"] == warranty.name
    await decide(handle, assess, {"in_house": True}, LEAD)
    dispatch = await open_task(engine, case, DISPATCH_WARRANTY.key)
    await decide(handle, dispatch, {"dispatched_on": "2026-12-02", "taken_by": "پیک شرکت"}, LEAD)

    work = await open_task(engine, case, VENDOR_JOB.key)
    assert work.scope == vendor_scope(warranty.id or 0)
    await decide(handle, work, {"kind": "repaired"}, vendor_actor(warranty))
    inspect = await open_task(engine, case, INSPECT.key)
    await decide(
        handle, inspect, {"accepted": True, "minutes": 20, "cost_fixed_rials": 5_000_000}, LEAD
    )
    await deliver_and_confirm(engine, case, handle)
    assert await handle.result() == RepairOutcome.repaired_by_vendor

    record = job(engine, case)
    assert record.under_warranty and record.path == "warranty"
    assert (record.cost_fixed_rials, record.cost_time_rials, record.cost_material_rials) == (
        0,
        0,
        0,
    )
    with Session(engine) as session:
        steps = {t.step for t in session.exec(select(Task).where(Task.case_id == case.id))}
    assert CHOOSE_VENDOR.key not in steps and REPAIR_IN_HOUSE.key not in steps


async def test_quote_above_the_limit_waits_for_approval(env, settings, engine, worker) -> None:
    vendor = add_vendor(engine, [AssetKind.printer])
    case, handle = await start(env, settings, engine, report())
    await decide(handle, await open_task(engine, case, ASSESS.key), {"in_house": False}, LEAD)
    await send_to_vendor(engine, case, handle, vendor)
    first = await open_task(engine, case, VENDOR_JOB.key)
    assert (
        await refused(handle, first, {"kind": "diagnosed"}, vendor_actor(vendor))
        == TaskRefusal.invalid_decision
    )
    quote = settings.repair_quote_approval_limit_rials + 1
    await decide(handle, first, {"kind": "diagnosed", "quote_rials": quote}, vendor_actor(vendor))

    approve = await open_task(engine, case, APPROVE_QUOTE.key)
    assert approve.context["quote_rials"] == quote
    await decide(handle, approve, {"approved": True}, LEAD)
    await decide(
        handle,
        await open_task(engine, case, VENDOR_JOB.key, 2),
        {"kind": "repaired"},
        vendor_actor(vendor),
    )
    await decide(handle, await open_task(engine, case, INSPECT.key), {"accepted": True}, LEAD)
    await deliver_and_confirm(engine, case, handle)
    assert await handle.result() == RepairOutcome.repaired_by_vendor
    record = job(engine, case)
    assert record.quote_rials == quote and record.quote_approved is True


async def test_a_quote_below_the_limit_needs_no_approval(env, settings, engine, worker) -> None:
    vendor = add_vendor(engine, [AssetKind.printer])
    case, handle = await start(env, settings, engine, report())
    await decide(handle, await open_task(engine, case, ASSESS.key), {"in_house": False}, LEAD)
    await send_to_vendor(engine, case, handle, vendor)
    quote = settings.repair_quote_approval_limit_rials
    await decide(
        handle,
        await open_task(engine, case, VENDOR_JOB.key),
        {"kind": "diagnosed", "quote_rials": quote},
        vendor_actor(vendor),
    )
    await open_task(engine, case, VENDOR_JOB.key, 2)
    with Session(engine) as session:
        steps = {t.step for t in session.exec(select(Task).where(Task.case_id == case.id))}
    assert APPROVE_QUOTE.key not in steps
    await handle.execute_update(
        RepairWorkflow.cancel_case, CancelCaseInput(actor=ADMIN, reason="پایان آزمون")
    )


async def test_refused_quote_means_not_repairable_and_the_asset_is_marked(
    env, settings, engine, worker
) -> None:
    vendor = add_vendor(engine, [AssetKind.monitor])
    asset = add_asset(engine, AssetKind.monitor, vendor=None)
    case, handle = await start(env, settings, engine, report(property_number=asset.property_number))
    await decide(handle, await open_task(engine, case, ASSESS.key), {"in_house": False}, LEAD)
    await send_to_vendor(engine, case, handle, vendor)
    quote = settings.repair_quote_approval_limit_rials * 3
    await decide(
        handle,
        await open_task(engine, case, VENDOR_JOB.key),
        {"kind": "diagnosed", "quote_rials": quote},
        vendor_actor(vendor),
    )
    approve = await open_task(engine, case, APPROVE_QUOTE.key)
    assert await refused(handle, approve, {"approved": False}, LEAD) == TaskRefusal.invalid_decision
    await decide(handle, approve, {"approved": False, "reason": "گران‌تر از نمایشگر نو"}, LEAD)
    await deliver_and_confirm(engine, case, handle)
    assert await handle.result() == RepairOutcome.not_repairable
    assert job(engine, case).quote_approved is False
    assert asset_state(engine, asset) == AssetState.replace_recommended
    refused_notices = [m for m in sent(engine, case) if ":quote_refused:" in m.message_key]
    assert refused_notices and "تایید نشد" in refused_notices[0].body


async def test_vendor_says_not_repairable(env, settings, engine, worker) -> None:
    vendor = add_vendor(engine, [AssetKind.scanner])
    asset = add_asset(engine, AssetKind.scanner, vendor=None)
    case, handle = await start(env, settings, engine, report(property_number=asset.property_number))
    await decide(handle, await open_task(engine, case, ASSESS.key), {"in_house": False}, LEAD)
    await send_to_vendor(engine, case, handle, vendor)
    await decide(
        handle,
        await open_task(engine, case, VENDOR_JOB.key),
        {"kind": "unrepairable", "note": "قطعه موجود نیست"},
        vendor_actor(vendor),
    )
    await deliver_and_confirm(engine, case, handle)
    assert await handle.result() == RepairOutcome.not_repairable
    assert asset_state(engine, asset) == AssetState.replace_recommended
    with Session(engine) as session:
        steps = {t.step for t in session.exec(select(Task).where(Task.case_id == case.id))}
    assert INSPECT.key not in steps


async def test_inspection_sends_the_work_back_twice(env, settings, engine, worker) -> None:
    vendor = add_vendor(engine, [AssetKind.printer])
    case, handle = await start(env, settings, engine, report())
    await decide(handle, await open_task(engine, case, ASSESS.key), {"in_house": False}, LEAD)
    await send_to_vendor(engine, case, handle, vendor)
    for round in (1, 2, 3):
        work = await open_task(engine, case, VENDOR_JOB.key, round)
        assert work.context["send_backs"] == round - 1
        await decide(handle, work, {"kind": "repaired"}, vendor_actor(vendor))
        inspect = await open_task(engine, case, INSPECT.key, round)
        if round < 3:
            await decide(
                handle, inspect, {"accepted": False, "reason": f"هنوز خط می‌اندازد {round}"}, LEAD
            )
    await decide(handle, inspect, {"accepted": True}, LEAD)
    await deliver_and_confirm(engine, case, handle)
    assert await handle.result() == RepairOutcome.repaired_by_vendor
    assert job(engine, case).send_backs == 2
    back = [e.text_en for e in timeline(engine, case) if "sent back" in e.text_en]
    assert len(back) == 2 and "round 1" in back[0] and "round 2" in back[1]
    notices = {
        m.message_key.split(":")[-2] for m in sent(engine, case) if ":sent_back:" in m.message_key
    }
    assert notices == {"2", "3"}


async def test_late_vendor_is_reminded_marked_late_and_escalated_then_completes(
    env, settings, engine, worker
) -> None:
    supervisor_email = f"sup-{uuid.uuid4().hex[:6]}@university.ac.ir"
    vendor = add_vendor(engine, [AssetKind.pc])
    with Session(engine) as session:
        session.add(
            User(
                username=f"sup-{uuid.uuid4().hex[:6]}",
                password_hash="x",
                roles=[Role.it_supervisor],
                scopes=["*"],
                email=supervisor_email,
            )
        )
        session.add(
            User(
                username=f"vendor-user-{uuid.uuid4().hex[:6]}",
                password_hash="x",
                roles=[Role.vendor],
                scopes=[vendor_scope(vendor.id or 0)],
                email=f"vu-{uuid.uuid4().hex[:6]}@vendor.example",
            )
        )
        session.commit()
    case, handle = await start(env, settings, engine, report(kind="pc"))
    await decide(handle, await open_task(engine, case, ASSESS.key), {"in_house": False}, LEAD)
    await send_to_vendor(engine, case, handle, vendor)
    now = (await env.get_current_time()).astimezone(TEHRAN)
    promised = (now + timedelta(days=10)).date()
    await decide(
        handle,
        await open_task(engine, case, VENDOR_JOB.key),
        {"kind": "received", "promised_date": promised.isoformat()},
        vendor_actor(vendor),
    )
    waiting = await open_task(engine, case, VENDOR_JOB.key, 2)

    async def kinds_after(delay: timedelta, wanted: EventKind) -> set[EventKind]:
        await env.sleep(delay)
        for _ in range(200):
            found = {e.kind for e in timeline(engine, case)}
            if wanted in found:
                return found
            await asyncio.sleep(0.05)
        return found

    due = waiting.due_at
    # A working day before the promise: a reminder, nothing late yet.
    found = await kinds_after(
        due - timedelta(days=1) - await env.get_current_time() + timedelta(hours=1),
        EventKind.task_reminded,
    )
    assert EventKind.task_reminded in found and EventKind.task_overdue not in found
    # The promise passes: late, but the supervisor is not told yet.
    found = await kinds_after(
        due - await env.get_current_time() + timedelta(hours=1), EventKind.task_overdue
    )
    assert EventKind.task_overdue in found and EventKind.task_escalated not in found
    with Session(engine) as session:
        assert session.get(Task, waiting.id).overdue is True  # type: ignore[union-attr]
    # Two working days later (a weekend may lie between): the supervisor is told.
    found = await kinds_after(timedelta(days=5), EventKind.task_escalated)
    assert EventKind.task_escalated in found
    with Session(engine) as session:
        to_supervisor = session.exec(
            select(OutboundMessage).where(OutboundMessage.recipient == supervisor_email)
        ).all()
    assert [m.message_key for m in to_supervisor] == [
        f"{waiting.id}:escalated:{m.message_key.split(':')[-1]}" for m in to_supervisor
    ]
    assert len(to_supervisor) == 1

    # The case kept waiting: the vendor finishes and the case completes.
    await decide(handle, waiting, {"kind": "repaired"}, vendor_actor(vendor))
    await decide(handle, await open_task(engine, case, INSPECT.key), {"accepted": True}, LEAD)
    await deliver_and_confirm(engine, case, handle)
    assert await handle.result() == RepairOutcome.repaired_by_vendor


async def test_requester_silence_closes_it_as_delivered(env, settings, engine, worker) -> None:
    case, handle = await start(env, settings, engine, report())
    await decide(handle, await open_task(engine, case, ASSESS.key), {"in_house": True}, LEAD)
    await decide(
        handle,
        await open_task(engine, case, REPAIR_IN_HOUSE.key),
        {"fixed": True, "work_done": "درایور نصب شد", "minutes_spent": 15},
        TECHNICIAN,
    )
    await decide(
        handle,
        await open_task(engine, case, HAND_OVER.key),
        {"handed_to": "همکار واحد"},
        TECHNICIAN,
    )
    confirm = await open_task(engine, case, CONFIRM_RECEIPT.key)
    assert confirm.role == Role.requester and confirm.scope == case.tracking_code
    assert await handle.result() == RepairOutcome.repaired_in_house  # time skips past the deadline
    record = job(engine, case)
    assert record.closed_without_answer and record.receipt_confirmed_at is None
    with Session(engine) as session:
        expired = session.get(Task, confirm.id)
    assert expired is not None and expired.status == TaskStatus.expired
    assert EventKind.task_expired in {e.kind for e in timeline(engine, case)}


async def test_requester_says_not_received_so_it_is_handed_over_again(
    env, settings, engine, worker
) -> None:
    case, handle = await start(env, settings, engine, report())
    await decide(handle, await open_task(engine, case, ASSESS.key), {"in_house": True}, LEAD)
    await decide(
        handle,
        await open_task(engine, case, REPAIR_IN_HOUSE.key),
        {"fixed": True, "work_done": "کابل تعویض شد", "minutes_spent": 10},
        TECHNICIAN,
    )
    await decide(
        handle, await open_task(engine, case, HAND_OVER.key), {"handed_to": "نگهبانی"}, TECHNICIAN
    )
    confirm = await open_task(engine, case, CONFIRM_RECEIPT.key)
    someone_else = Actor(username="requester", roles=[Role.requester], scopes=["XXXX"])
    assert (
        await refused(handle, confirm, {"received": True}, someone_else)
        == TaskRefusal.not_authorized
    )
    await decide(
        handle, confirm, {"received": False, "comment": "به دست من نرسیده"}, requester(case)
    )
    await decide(
        handle,
        await open_task(engine, case, HAND_OVER.key, 2),
        {"handed_to": "مریم احمدی"},
        TECHNICIAN,
    )
    await decide(
        handle,
        await open_task(engine, case, CONFIRM_RECEIPT.key, 2),
        {"received": True},
        requester(case),
    )
    assert await handle.result() == RepairOutcome.repaired_in_house
    assert job(engine, case).handed_to == "مریم احمدی"


async def test_cancel_while_at_the_vendor(env, settings, engine, worker) -> None:
    vendor = add_vendor(engine, [AssetKind.printer])
    asset = add_asset(engine, AssetKind.printer, vendor=None)
    case, handle = await start(env, settings, engine, report(property_number=asset.property_number))
    await decide(handle, await open_task(engine, case, ASSESS.key), {"in_house": False}, LEAD)
    await send_to_vendor(engine, case, handle, vendor)
    work = await open_task(engine, case, VENDOR_JOB.key)
    status = await handle.execute_update(
        RepairWorkflow.cancel_case, CancelCaseInput(actor=ADMIN, reason="تجهیز دیگری جایگزین شد")
    )
    assert status == CaseStatus.cancelled
    assert await handle.result() == RepairOutcome.cancelled
    with Session(engine) as session:
        task = session.get(Task, work.id)
    assert task is not None and task.status == TaskStatus.cancelled
    assert job(engine, case).outcome == RepairOutcome.cancelled
    assert asset_state(engine, asset) == AssetState.in_service
    keys = [m.message_key for m in sent(engine, case)]
    assert any(":cancelled:" in k and ":vendor:" in k for k in keys)
    assert any(k.endswith(":notice:cancelled:sms") for k in keys)


async def test_a_decided_task_is_closed_by_the_cases_next_write(
    env, settings, engine, worker
) -> None:
    """One activity per decision, not two: the task closes in the write that follows it (the
    requester's notice stages, the vendor's job line), and each Update answers only once the
    cartable shows its task done."""
    vendor = add_vendor(engine, [AssetKind.printer])
    asset = add_asset(engine, AssetKind.printer, vendor=None)
    case, handle = await start(env, settings, engine, report(property_number=asset.property_number))
    assess = await open_task(engine, case, ASSESS.key)
    await decide(handle, assess, {"in_house": False}, LEAD)
    with Session(engine) as session:
        decided = session.get(Task, assess.id)
    assert decided is not None and decided.status == TaskStatus.done
    assert decided.completed_by == LEAD.username and decided.decision == {
        "in_house": False,
        "note": None,
    }

    choose = await open_task(engine, case, CHOOSE_VENDOR.key)
    await send_to_vendor(engine, case, handle, vendor)
    with Session(engine) as session:
        chosen = session.get(Task, choose.id)
    assert chosen is not None and chosen.status == TaskStatus.done
    texts = [e.text_en for e in timeline(engine, case)]
    done = texts.index(f"Done: {CHOOSE_VENDOR.title_en}")
    assert texts[done + 1].startswith(f"Sent to {vendor.name}")

    await open_task(engine, case, VENDOR_JOB.key)
    await handle.execute_update(
        RepairWorkflow.cancel_case, CancelCaseInput(actor=ADMIN, reason="آزمون")
    )
    await handle.result()
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in (await handle.fetch_history()).events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    assert "close_task" not in scheduled
    assert scheduled[:2] == ["record_stages", "record_job"]
