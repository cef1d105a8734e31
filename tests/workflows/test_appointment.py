"""Process 3 (office-automation cartable) on the time-skipping server: a post, a manager's
signature, the cartable, and the one-time hand-over to the unit's head, with its expiry,
reminders and escalation; the one-time page is played by the signals it sends."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from db.handover import HandoverLink
from db.models import Case, OutboundMessage, Task, User
from db.office_automation import AppointmentCase, Post, Signature, Unit
from db.stored_files import store
from domain.appointment import HandoverEvent, HandoverNews
from domain.calendar import TEHRAN
from domain.cases import CaseStatus, Role, TaskStatus
from domain.office_automation import (
    AppointmentLetter,
    EndOfAppointment,
    HandoverState,
    PostState,
)
from domain.tasks import Actor, CancelCaseInput, CompleteTaskInput
from domain.uploads import UploadKind, check
from processes.office_automation import APPOINTMENT, END_OF_APPOINTMENT
from settings import OfficeAutomationKind, Settings
from tests import samples
from tests.factories import national_code
from tests.office_automation_server import OfficeAutomationServer
from tests.workflows.cases import open_task, sent, start_case, timeline
from worker import Workers, build_worker
from workflows.appointment import (
    CREATE_CARTABLE,
    CREATE_POST,
    DISABLE_CARTABLE,
    FREE_POST,
    MANAGER_ACCESS,
    REISSUE_LINK,
    REVOKE_PERMISSIONS,
    WITHDRAW_SIGNATURE,
    AppointmentWorkflow,
)

ADMIN = Actor(username="automation-admin", roles=[Role.automation_admin], scopes=["*"])
CANCELLER = Actor(username="admin", roles=[Role.admin], scopes=["*"])
Handle = WorkflowHandle[AppointmentWorkflow, str]


@pytest.fixture
async def worker(
    env: WorkflowEnvironment, settings: Settings, engine: Engine
) -> AsyncIterator[Workers]:
    async with build_worker(env.client, settings, engine) as running:
        yield running


def add_unit(engine: Engine) -> Unit:
    code = f"U-{uuid.uuid4().hex[:6].upper()}"
    with Session(engine, expire_on_commit=False) as session:
        unit = Unit(
            code=code,
            name=f"معاونت آزمون {code}",
            head_name="دکتر رضا کریمی",
            head_national_code=national_code(random.randrange(10**6)),
            head_mobile="09121112233",
            head_email=f"head-{code.lower()}@university.ac.ir",
        )
        session.add(unit)
        session.commit()
        return unit


def stored(engine: Engine, settings: Settings, data: bytes, kind: UploadKind) -> int:
    with Session(engine) as session:
        row = store(session, settings.file_store_dir, check(data, kind), uploaded_by="test")
        assert row.id is not None
        return row.id


def letter(
    engine: Engine, settings: Settings, unit: Unit, *, manager: bool = False, **overrides: Any
) -> AppointmentLetter:
    today = datetime.now(TEHRAN).date()
    data: dict[str, Any] = {
        "letter_number": f"{random.randrange(1000, 9999)}/ص",
        "letter_date": today.isoformat(),
        "national_code": national_code(random.randrange(10**6)),
        "first_name": "مریم",
        "last_name": "احمدی",
        "personnel_number": str(random.randrange(10000, 99999)),
        "mobile": "09351234567",
        "post_title": "کارشناس امور اداری",
        "unit_code": unit.code,
        "effective_date": today.isoformat(),
        "is_manager": manager,
        "letter_file_id": stored(engine, settings, samples.pdf(), UploadKind.pdf),
    }
    data.update(overrides)
    return AppointmentLetter.model_validate(data)


async def decide(handle: Handle, task_id: str, decision: dict[str, Any]) -> None:
    await handle.execute_update(
        AppointmentWorkflow.complete_task,
        CompleteTaskInput(task_id=task_id, actor=ADMIN, decision=decision),
    )


async def the_link(engine: Engine, case: Case, number: int) -> HandoverLink:
    for _ in range(400):
        with Session(engine) as session:
            link = session.get(HandoverLink, case.id)
        if link is not None and link.number == number:
            return link
        await asyncio.sleep(0.05)
    raise AssertionError(f"link {number} of {case.tracking_code} was never issued")


async def until_closed(handle: Handle) -> str:
    return await handle.result()


def record(engine: Engine, case: Case) -> tuple[AppointmentCase, Post]:
    with Session(engine) as session:
        found = session.get(AppointmentCase, case.id)
        assert found is not None and found.post_id is not None
        post = session.get(Post, found.post_id)
        assert post is not None
        return found, post


CARTABLE = {
    "username": "m.ahmadi",
    "permissions": ["receive_letters", "compose_internal", "refer"],
    "initial_password": "sealed",
}


async def through_the_cartable(engine: Engine, case: Case, handle: Handle, code: str) -> None:
    post = await open_task(engine, case, CREATE_POST.key)
    await decide(handle, post.id, {"automation_code": code, "permissions_group": "کارشناسان"})
    cartable = await open_task(engine, case, CREATE_CARTABLE.key)
    await decide(handle, cartable.id, CARTABLE)


async def test_a_post_and_cartable_handed_to_the_unit_head(
    env: WorkflowEnvironment, settings: Settings, engine: Engine, worker: Workers
) -> None:
    unit = add_unit(engine)
    form = letter(engine, settings, unit)
    case, handle = await start_case(env, settings, engine, APPOINTMENT, form)
    code = f"P-{uuid.uuid4().hex[:8]}"
    await through_the_cartable(engine, case, handle, code)

    link = await the_link(engine, case, 1)
    messages = [m for m in sent(engine, case) if m.recipient == unit.head_mobile]
    assert len(messages) == 1 and "/handover/" in messages[0].body
    assert link.expires_at > datetime.now(UTC) + timedelta(hours=23)
    await handle.signal(
        AppointmentWorkflow.handover, HandoverNews(event=HandoverEvent.viewed, number=1)
    )
    await handle.signal(
        AppointmentWorkflow.handover, HandoverNews(event=HandoverEvent.confirmed, number=1)
    )
    assert await handle.result() == "done"

    letter_row, post = record(engine, case)
    assert letter_row.handover_state == HandoverState.confirmed
    assert letter_row.automation_username == "m.ahmadi"
    assert post.automation_code == code and post.state == PostState.held
    assert post.holder_national_code == form.national_code
    with Session(engine) as session:
        closed = session.get(Case, case.id)
        assert closed is not None and closed.outcome_detail == {"username": "m.ahmadi"}
        assert closed.scope == f"unit:{unit.code}"
    texts = " ".join(e.text_en for e in timeline(engine, case))
    assert f"Post {code} created" in texts and "its initial password is sealed" in texts
    assert "One-time link 1 sent" in texts and "Receipt of the username" in texts


async def test_a_manager_gets_a_signature_and_a_freed_post_is_reused(
    env: WorkflowEnvironment, settings: Settings, engine: Engine, worker: Workers
) -> None:
    unit = add_unit(engine)
    code = f"P-{uuid.uuid4().hex[:8]}"
    with Session(engine) as session:
        session.add(
            Post(
                unit_code=unit.code,
                title="مدیر امور اداری",
                automation_code=code,
                is_manager=True,
                state=PostState.vacant,
            )
        )
        session.commit()
    form = letter(engine, settings, unit, manager=True, post_title="مدیر امور اداری")
    case, handle = await start_case(env, settings, engine, APPOINTMENT, form)
    # The freed post exists in the system: no post to create, the manager's access first.
    access = await open_task(engine, case, MANAGER_ACCESS.key)
    assert access.context["automation_code"] == code
    signature = stored(engine, settings, samples.png(600, 200), UploadKind.image)
    await decide(
        handle,
        access.id,
        {"signature_file_id": signature, "permissions": ["sign_letters", "approve_outgoing"]},
    )
    await decide(handle, (await open_task(engine, case, CREATE_CARTABLE.key)).id, CARTABLE)
    await the_link(engine, case, 1)
    for event in (HandoverEvent.viewed, HandoverEvent.confirmed):
        await handle.signal(AppointmentWorkflow.handover, HandoverNews(event=event, number=1))
    assert await handle.result() == "done"
    _, post = record(engine, case)
    assert post.automation_code == code and post.state == PostState.held
    with Session(engine) as session:
        kept = session.exec(select(Signature).where(Signature.post_id == post.id)).one()
        assert kept.file_id == signature and kept.withdrawn_at is None
        assert not session.exec(
            select(Post).where(Post.automation_code == code, Post.id != post.id)
        ).first()


async def test_an_expired_link_is_issued_again_and_the_old_one_counts_no_more(
    env: WorkflowEnvironment, settings: Settings, engine: Engine, worker: Workers
) -> None:
    unit = add_unit(engine)
    case, handle = await start_case(
        env, settings, engine, APPOINTMENT, letter(engine, settings, unit)
    )
    await through_the_cartable(engine, case, handle, f"P-{uuid.uuid4().hex[:8]}")
    await the_link(engine, case, 1)
    await env.sleep(timedelta(hours=settings.handover_link_hours + 1))
    reissue = await open_task(engine, case, REISSUE_LINK.key)
    assert record(engine, case)[0].handover_state == HandoverState.expired
    await decide(handle, reissue.id, {})
    await the_link(engine, case, 2)
    # News of the voided link changes nothing; the new one's does.
    await handle.signal(
        AppointmentWorkflow.handover, HandoverNews(event=HandoverEvent.viewed, number=1)
    )
    await handle.signal(
        AppointmentWorkflow.handover, HandoverNews(event=HandoverEvent.confirmed, number=1)
    )
    await asyncio.sleep(0.5)
    assert (await handle.describe()).status.name == "RUNNING"
    for event in (HandoverEvent.viewed, HandoverEvent.confirmed):
        await handle.signal(AppointmentWorkflow.handover, HandoverNews(event=event, number=2))
    assert await handle.result() == "done"
    texts = " ".join(e.text_en for e in timeline(engine, case))
    assert "Link 1 expired unseen" in texts and "One-time link 2 sent" in texts


async def test_a_head_who_does_not_confirm_is_reminded_then_the_supervisor_told(
    env: WorkflowEnvironment, settings: Settings, engine: Engine, worker: Workers
) -> None:
    with Session(engine, expire_on_commit=False) as session:
        supervisor = User(
            username=f"sup{uuid.uuid4().hex[:6]}",
            password_hash="!",
            roles=[Role.it_supervisor],
            scopes=["*"],
            email=f"sup-{uuid.uuid4().hex[:6]}@university.ac.ir",
        )
        session.add(supervisor)
        session.commit()
    unit = add_unit(engine)
    case, handle = await start_case(
        env, settings, engine, APPOINTMENT, letter(engine, settings, unit)
    )
    await through_the_cartable(engine, case, handle, f"P-{uuid.uuid4().hex[:8]}")
    await the_link(engine, case, 1)
    await handle.signal(
        AppointmentWorkflow.handover, HandoverNews(event=HandoverEvent.viewed, number=1)
    )
    hours = settings.handover_reminder_hours

    async def reminded(number: int) -> list[OutboundMessage]:
        await env.sleep(timedelta(hours=hours))
        for _ in range(200):
            found = [
                m for m in sent(engine, case) if f":handover-reminder:{number}" in m.message_key
            ]
            if found:
                return found
            await asyncio.sleep(0.05)
        return []

    first = await reminded(1)
    assert [m.recipient for m in first] == [unit.head_mobile]
    second = await reminded(2)
    assert {m.recipient for m in second} >= {unit.head_mobile, supervisor.email}
    await handle.signal(
        AppointmentWorkflow.handover, HandoverNews(event=HandoverEvent.confirmed, number=1)
    )
    assert await handle.result() == "done"


async def test_a_code_another_post_holds_is_asked_again(
    env: WorkflowEnvironment, settings: Settings, engine: Engine, worker: Workers
) -> None:
    unit = add_unit(engine)
    taken = f"P-{uuid.uuid4().hex[:8]}"
    with Session(engine) as session:
        session.add(Post(unit_code=unit.code, title="دیگری", automation_code=taken))
        session.commit()
    case, handle = await start_case(
        env, settings, engine, APPOINTMENT, letter(engine, settings, unit)
    )
    first = await open_task(engine, case, CREATE_POST.key)
    await decide(handle, first.id, {"automation_code": taken, "permissions_group": "کارشناسان"})
    again = await open_task(engine, case, CREATE_POST.key, 2)
    assert again.context["code_taken"] == taken
    await handle.execute_update(
        AppointmentWorkflow.cancel_case,
        CancelCaseInput(actor=CANCELLER, reason="ابلاغ پس گرفته شد"),
    )
    assert await handle.result() == "cancelled"
    _, post = record(engine, case)
    assert post.state == PostState.vacant and post.automation_code is None
    with Session(engine) as session:
        closed = session.get(Case, case.id)
        assert closed is not None and closed.status == CaseStatus.cancelled


async def test_every_decided_task_is_closed_in_the_read_model(
    env: WorkflowEnvironment, settings: Settings, engine: Engine, worker: Workers
) -> None:
    unit = add_unit(engine)
    case, handle = await start_case(
        env, settings, engine, APPOINTMENT, letter(engine, settings, unit)
    )
    await through_the_cartable(engine, case, handle, f"P-{uuid.uuid4().hex[:8]}")
    await the_link(engine, case, 1)
    with Session(engine) as session:
        still_open = session.exec(
            select(Task.step).where(Task.case_id == case.id, Task.status == TaskStatus.open)
        ).all()
    assert still_open == []
    await handle.execute_update(
        AppointmentWorkflow.cancel_case, CancelCaseInput(actor=CANCELLER, reason="آزمون تمام شد")
    )
    assert await handle.result() == "cancelled"


async def test_the_reverse_frees_the_post_and_a_new_holder_gets_it(
    env: WorkflowEnvironment, settings: Settings, engine: Engine, worker: Workers
) -> None:
    unit = add_unit(engine)
    form = letter(engine, settings, unit, manager=True, post_title="مدیر مالی")
    case, handle = await start_case(env, settings, engine, APPOINTMENT, form)
    code = f"P-{uuid.uuid4().hex[:8]}"
    post_task = await open_task(engine, case, CREATE_POST.key)
    await decide(handle, post_task.id, {"automation_code": code, "permissions_group": "مدیران"})
    signature = stored(engine, settings, samples.png(600, 200), UploadKind.image)
    access = await open_task(engine, case, MANAGER_ACCESS.key)
    await decide(handle, access.id, {"signature_file_id": signature, "permissions": ["delegate"]})
    await decide(handle, (await open_task(engine, case, CREATE_CARTABLE.key)).id, CARTABLE)
    await the_link(engine, case, 1)
    for event in (HandoverEvent.viewed, HandoverEvent.confirmed):
        await handle.signal(AppointmentWorkflow.handover, HandoverNews(event=event, number=1))
    assert await handle.result() == "done"

    ending = EndOfAppointment.model_validate(
        {
            "letter_number": "9876/ص",
            "letter_date": datetime.now(TEHRAN).date().isoformat(),
            "national_code": form.national_code,
            "unit_code": unit.code,
            "post_code": code,
            "end_date": datetime.now(TEHRAN).date().isoformat(),
            "letter_file_id": stored(engine, settings, samples.pdf(), UploadKind.pdf),
        }
    )
    revocation, revoke = await start_case(env, settings, engine, END_OF_APPOINTMENT, ending)
    disable = await open_task(engine, revocation, DISABLE_CARTABLE.key)
    assert disable.context["username"] == "m.ahmadi"
    # A departed manager's access must not linger: late after one working day, escalated.
    await env.sleep(disable.due_at - await env.get_current_time() + timedelta(hours=1))
    for _ in range(200):
        with Session(engine) as session:
            late = session.get(Task, disable.id)
        if late is not None and late.overdue:
            break
        await asyncio.sleep(0.05)
    assert late is not None and late.overdue
    await decide(
        revoke,
        disable.id,
        {"done": ["user_disabled", "sessions_ended", "open_letters_referred"]},
    )
    steps = [
        (
            REVOKE_PERMISSIONS.key,
            {
                "done": [
                    "cartable_permissions_revoked",
                    "management_permissions_revoked",
                    "delegations_cancelled",
                ]
            },
        ),
        (
            WITHDRAW_SIGNATURE.key,
            {"done": ["removed_from_system", "signed_drafts_checked"]},
        ),
        (FREE_POST.key, {"done": ["holder_detached", "post_kept"]}),
    ]
    for step, decision in steps:
        await decide(revoke, (await open_task(engine, revocation, step)).id, decision)
    assert await revoke.result() == "done"
    with Session(engine) as session:
        post = session.exec(select(Post).where(Post.automation_code == code)).one()
        assert post.state == PostState.vacant and post.holder_national_code is None
        kept = session.exec(select(Signature).where(Signature.post_id == post.id)).one()
        assert kept.withdrawn_at is not None, "withdrawn, kept for the record"

    # The next appointment to that post re-uses it: no post to create, the manager's step first.
    successor = letter(engine, settings, unit, manager=True, post_title="مدیر مالی")
    nxt, next_handle = await start_case(env, settings, engine, APPOINTMENT, successor)
    access = await open_task(engine, nxt, MANAGER_ACCESS.key)
    assert access.context["automation_code"] == code
    await next_handle.execute_update(
        AppointmentWorkflow.cancel_case, CancelCaseInput(actor=CANCELLER, reason="آزمون تمام شد")
    )
    assert await next_handle.result() == "cancelled"


async def test_with_the_automation_systems_rest_endpoint_the_case_does_it_there_too(
    env: WorkflowEnvironment, settings: Settings, engine: Engine
) -> None:
    """OFFICE_AUTOMATION=rest: the post, its user and grants are made in the system as the
    admin records them, and the reverse disables, revokes and frees them there."""
    with OfficeAutomationServer(token="system-token") as system:
        rest = settings.model_copy(
            update={
                "office_automation": OfficeAutomationKind.rest,
                "office_automation_url": system.url,
                "office_automation_token": "system-token",
            }
        )
        async with build_worker(env.client, rest, engine):
            unit = add_unit(engine)
            form = letter(engine, settings, unit)
            case, handle = await start_case(env, rest, engine, APPOINTMENT, form)
            code = f"P-{uuid.uuid4().hex[:8]}"
            await through_the_cartable(engine, case, handle, code)
            await the_link(engine, case, 1)
            held = system.state.posts[code]
            assert held.unit_code == unit.code and held.user is not None
            assert held.user["username"] == "m.ahmadi" and held.user_enabled
            assert held.permissions == {"receive_letters", "compose_internal", "refer"}
            for event in (HandoverEvent.viewed, HandoverEvent.confirmed):
                await handle.signal(
                    AppointmentWorkflow.handover, HandoverNews(event=event, number=1)
                )
            assert await handle.result() == "done"
            assert "Done in the automation system" in " ".join(
                e.text_en for e in timeline(engine, case)
            )

            ending = EndOfAppointment.model_validate(
                {
                    "letter_number": "55/ص",
                    "letter_date": datetime.now(TEHRAN).date().isoformat(),
                    "national_code": form.national_code,
                    "unit_code": unit.code,
                    "post_code": code,
                    "end_date": datetime.now(TEHRAN).date().isoformat(),
                    "letter_file_id": stored(engine, settings, samples.pdf(), UploadKind.pdf),
                }
            )
            revocation, revoke = await start_case(env, rest, engine, END_OF_APPOINTMENT, ending)
            for step, done in (
                (
                    DISABLE_CARTABLE.key,
                    ["user_disabled", "sessions_ended", "open_letters_referred"],
                ),
                (
                    REVOKE_PERMISSIONS.key,
                    [
                        "cartable_permissions_revoked",
                        "management_permissions_revoked",
                        "delegations_cancelled",
                    ],
                ),
                (FREE_POST.key, ["holder_detached", "post_kept"]),
            ):
                task = await open_task(engine, revocation, step)
                await decide(revoke, task.id, {"done": done})
            assert await revoke.result() == "done"
            freed = system.state.posts[code]
            assert freed.user is None or not freed.user_enabled
            assert freed.permissions == set()
