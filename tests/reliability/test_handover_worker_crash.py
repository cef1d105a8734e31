"""Process 3's hand-overs while the worker dies (kill -9) again and again: six appointments go
through the admin's tasks to their one-time links, some links expire unseen and are issued
again, the rest are seen and confirmed. At the end: every case closed once, each with exactly
one link in force (the latest number), each link's SMS sent once, and no link ever sent twice
under one number.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.client import (
    Client,
)
from temporalio.testing import WorkflowEnvironment

from api.temporal import start_case_workflow
from db.case_store import open_case
from db.handover import HandoverLink
from db.models import Case, OutboundMessage, Task
from db.office_automation import Unit
from db.stored_files import store
from domain.appointment import HandoverEvent, HandoverNews
from domain.cases import CaseStatus, Role, TaskStatus
from domain.office_automation import AppointmentLetter
from domain.tasks import Actor, CompleteTaskInput
from domain.uploads import UploadKind, check
from processes.office_automation import APPOINTMENT
from settings import Settings
from supervise import WORKER_READY, Child, child_env, worker_argv
from tests import samples
from tests.conftest import start_dev_server
from tests.factories import national_code
from tests.reliability.harness import patiently
from workflows.appointment import AppointmentWorkflow

CASES = 6
KILLS = 6
UP_SECONDS = (0.8, 2.0)
SETTLE_SECONDS = 180
ADMIN = Actor(username="automation-admin", roles=[Role.automation_admin], scopes=["*"])
DECISIONS = {
    "create_post": lambda n: {"automation_code": f"C-{n}", "permissions_group": "کارشناسان"},
    "create_cartable": lambda n: {
        "username": f"user.{n}",
        "permissions": ["refer"],
        "initial_password": "sealed",
    },
    "reissue_link": lambda n: {},
}


@pytest.fixture(scope="module")
def crash_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"temporal_task_queue": "peygir-reliability-handover"})


@pytest.fixture(scope="module")
async def temporal(
    crash_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[WorkflowEnvironment]:
    db = tmp_path_factory.mktemp("temporal-handover-crash") / "temporal.db"
    env = await start_dev_server(crash_settings, db, dev_server_log_level="error")
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
def worker(
    crash_settings: Settings, temporal: WorkflowEnvironment, tmp_path: Path
) -> Iterator[Child]:
    settings = crash_settings.model_copy(
        update={"temporal_address": temporal.client.service_client.config.target_host}
    )
    child = Child(
        "worker", worker_argv(), env=child_env(settings), cwd=tmp_path, log=tmp_path / "worker.log"
    )
    try:
        yield child
    finally:
        child.stop()


async def start_cases(client: Client, settings: Settings, engine: Engine) -> list[Case]:
    tag = uuid.uuid4().hex[:5].upper()
    with Session(engine) as session:
        session.add(
            Unit(
                code=f"K-{tag}",
                name="واحد آزمون از کار افتادن",
                head_name="رئیس آزمون",
                head_national_code=national_code(random.randrange(10**6)),
                head_mobile="09121112233",
            )
        )
        session.commit()
    cases = []
    for n in range(CASES):
        with Session(engine, expire_on_commit=False) as session:
            kept = store(
                session,
                settings.file_store_dir,
                check(samples.pdf(), UploadKind.pdf),
                uploaded_by="t",
            )
            form = AppointmentLetter(
                letter_number=f"{n}/ص",
                letter_date=date.today(),
                national_code=national_code(random.randrange(10**6)),
                first_name="مریم",
                last_name="احمدی",
                personnel_number="12345",
                mobile="09351234567",
                post_title=f"کارشناس {tag}-{n}",
                unit_code=f"K-{tag}",
                effective_date=date.today(),
                letter_file_id=kept.id or 0,
            )
            case = open_case(
                session,
                APPOINTMENT,
                form,
                idempotency_key=None,
                answer_due_at=datetime.now(UTC) + timedelta(days=5),
            )
            session.commit()
        await start_case_workflow(client, settings.temporal_task_queue, APPOINTMENT, case, form)
        cases.append(case)
    return cases


async def admin_and_heads(client: Client, engine: Engine, cases: list[Case]) -> None:
    """The admin decides each task as it opens; each head locks the first link of every other
    case (it is issued again), then sees and confirms the link in force."""
    ids = {c.id: c for c in cases}
    acted: set[str] = set()
    locked: set[int] = set()
    done: set[int] = set()
    while len(done) < len(cases):
        with Session(engine) as session:
            tasks = session.exec(
                select(Task).where(col(Task.case_id).in_(list(ids)), Task.status == TaskStatus.open)
            ).all()
            links = session.exec(
                select(HandoverLink).where(col(HandoverLink.case_id).in_(list(ids)))
            ).all()
        for task in tasks:
            if task.id in acted:
                continue
            handle = client.get_workflow_handle_for(
                AppointmentWorkflow.run, ids[task.case_id].workflow_id
            )
            decision = DECISIONS[task.step](task.case_id)
            await patiently(
                lambda h=handle, t=task, d=decision: h.execute_update(
                    AppointmentWorkflow.complete_task,
                    CompleteTaskInput(task_id=t.id, actor=ADMIN, decision=d),
                )
            )
            acted.add(task.id)
        for link in links:
            if link.case_id in done:
                continue
            handle = client.get_workflow_handle_for(
                AppointmentWorkflow.run, ids[link.case_id].workflow_id
            )
            if link.number == 1 and link.case_id % 2 == 0 and link.case_id not in locked:
                locked.add(link.case_id)
                news = [HandoverNews(event=HandoverEvent.locked, number=1)]
            elif link.number == 1 and link.case_id % 2 == 0:
                continue  # the reissue is on its way
            else:
                done.add(link.case_id)
                news = [
                    HandoverNews(event=HandoverEvent.viewed, number=link.number),
                    HandoverNews(event=HandoverEvent.confirmed, number=link.number),
                ]
            for item in news:
                await patiently(lambda h=handle, i=item: h.signal(AppointmentWorkflow.handover, i))
        await asyncio.sleep(0.3)


async def test_kill9_worker_during_hand_overs(
    temporal: WorkflowEnvironment, worker: Child, crash_settings: Settings, engine: Engine
) -> None:
    client = temporal.client
    rng = random.Random()
    worker.start()
    await worker.wait_log(WORKER_READY, 1, timeout=60)
    cases = await start_cases(client, crash_settings, engine)
    script = asyncio.ensure_future(admin_and_heads(client, engine, cases))
    try:
        for kill in range(1, KILLS + 1):
            await worker.wait_log(WORKER_READY, kill, timeout=60)
            await asyncio.sleep(rng.uniform(*UP_SECONDS))
            worker.kill9()
            worker.start()
        await worker.wait_log(WORKER_READY, KILLS + 1, timeout=60)
        await asyncio.wait_for(script, timeout=SETTLE_SECONDS)
        deadline = time.monotonic() + SETTLE_SECONDS

        def closed() -> int:
            with Session(engine) as session:
                return len(
                    session.exec(
                        select(Case.id).where(
                            col(Case.id).in_([c.id for c in cases]),
                            Case.status == CaseStatus.closed,
                        )
                    ).all()
                )

        while time.monotonic() < deadline and closed() < len(cases):
            await asyncio.sleep(0.5)
    finally:
        worker.stop()

    assert closed() == len(cases), worker.tail(30)
    with Session(engine) as session:
        links = {
            link.case_id: link
            for link in session.exec(
                select(HandoverLink).where(col(HandoverLink.case_id).in_([c.id for c in cases]))
            )
        }
        sms = session.exec(
            select(OutboundMessage.message_key).where(
                col(OutboundMessage.case_id).in_([c.id for c in cases]),
                col(OutboundMessage.message_key).contains(":handover-link:"),
                col(OutboundMessage.message_key).endswith(":sms"),
            )
        ).all()
    # One link in force per case: the latest; a case whose first link locked is on its second.
    assert {case_id: link.number for case_id, link in links.items()} == {
        c.id: 2 if (c.id or 0) % 2 == 0 else 1 for c in cases
    }
    # Each link's SMS once: a retried sending, after a kill, sends nothing again.
    assert len(sms) == len(set(sms)) == sum(1 + ((c.id or 0) % 2 == 0) for c in cases)
    print(f"\n{len(cases)} hand-overs, {worker.kills} kills; links sent: {len(sms)}")
