"""SEPAS cases following the ministry's Jira while the worker dies (kill -9) again and again:
during the issues' creation (some of whose answers Jira loses) and during the follow-up loop,
as the ministry comments and Jira's webhook wakes each case.

Six hospitals report an unknown error; the expert classifies each; each case opens its issue in
the local Jira and follows it; the ministry writes five comments on every issue, then resolves
it. Meanwhile the worker is killed 8 times. At the end: exactly one issue per case, every comment
mirrored onto its case's timeline exactly once, each resolution seen, each case waiting for SRM's
evidence of the fix.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.client import (
    Client,
)
from temporalio.testing import WorkflowEnvironment

from api.temporal import start_case_workflow
from db.case_store import open_case
from db.models import Case, CaseEvent, Task
from db.sepas import Hospital, SepasCase
from db.srm_import import store_batch
from domain.calendar import TEHRAN
from domain.cases import Role, TaskStatus
from domain.jira import tracking_label
from domain.sepas import SrmBatch, SrmErrorRow
from domain.sepas_process import JiraNews, SepasReportForm
from domain.tasks import Actor, CompleteTaskInput
from processes.sepas import SEPAS
from settings import Settings
from supervise import WORKER_READY, Child, child_env, worker_argv
from tests.conftest import start_dev_server
from tests.jira_server import Fault, JiraServer
from tests.reliability.harness import patiently
from workflows.sepas import SepasWorkflow

CASES = 6
COMMENTS = 5
KILLS = 8
UP_SECONDS = (0.8, 2.5)
SETTLE_SECONDS = 180
TOKEN = "ministry-token"
EXPERT = Actor(username="sepas-expert", roles=[Role.sepas_expert], scopes=[])


@pytest.fixture(scope="module")
def jira() -> Iterator[JiraServer]:
    with JiraServer(token=TOKEN) as server:
        yield server


@pytest.fixture(scope="module")
def crash_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"temporal_task_queue": "peygir-reliability-sepas"})


@pytest.fixture(scope="module")
async def temporal(
    crash_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[WorkflowEnvironment]:
    db = tmp_path_factory.mktemp("temporal-sepas-crash") / "temporal.db"
    env = await start_dev_server(crash_settings, db, dev_server_log_level="error")
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
def worker(
    crash_settings: Settings, temporal: WorkflowEnvironment, tmp_path: Path, jira: JiraServer
) -> Iterator[Child]:
    settings = crash_settings.model_copy(
        update={"temporal_address": temporal.client.service_client.config.target_host}
    )
    child = Child(
        "worker",
        worker_argv(),
        env=child_env(settings, JIRA_BASE_URL=jira.url, JIRA_TOKEN=TOKEN),
        cwd=tmp_path,
        log=tmp_path / "worker.log",
    )
    try:
        yield child
    finally:
        child.stop()


def hospitals_with_errors(engine: Engine) -> list[tuple[str, str]]:
    """(hospital code, its unknown message), each in an SRM export covering the last days."""
    tag = uuid.uuid4().hex[:6].upper()
    now = datetime.now(UTC)
    found = [(f"C{tag}{i}", f"Error at Vocabulary{tag}{i} mapping missing.") for i in range(CASES)]
    with Session(engine) as session:
        for code, _ in found:
            session.add(Hospital(code=code, name=f"بیمارستان {code}"))
        session.commit()
        store_batch(
            session,
            SrmBatch(
                source_key=uuid.uuid4().hex,
                source_name="srm-chaos.csv",
                rows=[
                    SrmErrorRow(
                        hospital_code=code, at=now - timedelta(hours=2), message=message, count=3
                    )
                    for code, message in found
                ],
                period_from=now - timedelta(days=4),
                period_until=now + timedelta(minutes=30),
            ),
            actor="test",
        )
    return found


async def start_cases(
    client: Client, settings: Settings, engine: Engine, hospitals: list[tuple[str, str]]
) -> list[Case]:
    cases = []
    for code, _ in hospitals:
        form = SepasReportForm(
            hospital_code=code,
            reporter_name="گزارش‌دهنده آزمون",
            mobile="09121234567",
            what_fails="پرونده‌ها به سپاس نمی‌رسد",
            since=(datetime.now(TEHRAN) - timedelta(days=1)).date(),
        )
        with Session(engine, expire_on_commit=False) as session:
            case = open_case(
                session,
                SEPAS,
                form,
                idempotency_key=None,
                answer_due_at=datetime.now(UTC) + timedelta(days=10),
            )
            session.commit()
        await start_case_workflow(client, settings.temporal_task_queue, SEPAS, case, form)
        cases.append(case)
    return cases


async def classify_all(client: Client, engine: Engine, cases: list[Case]) -> None:
    """The expert: each case's classification, as it opens: unknown, to the ministry."""
    waiting = {case.workflow_id for case in cases}
    while waiting:
        with Session(engine) as session:
            open_tasks = session.exec(
                select(Task).where(Task.step == "classify", Task.status == TaskStatus.open)
            ).all()
        for task in open_tasks:
            workflow_id = task.id.rsplit(":", 2)[0]
            if workflow_id not in waiting:
                continue
            handle = client.get_workflow_handle_for(SepasWorkflow.run, workflow_id)
            await patiently(
                lambda h=handle, t=task: h.execute_update(
                    SepasWorkflow.complete_task,
                    CompleteTaskInput(task_id=t.id, actor=EXPERT, decision={"verdict": "unknown"}),
                )
            )
            waiting.discard(workflow_id)
        await asyncio.sleep(0.3)


def issue_of(jira: JiraServer, case: Case) -> str | None:
    label = tracking_label(case.tracking_code)
    keys = [k for k, i in jira.state.issues.items() if label in i.fields.get("labels", [])]
    return keys[0] if keys else None


async def ministry(client: Client, jira: JiraServer, cases: list[Case], rng: random.Random) -> None:
    """The ministry answers in Jira: comments on every issue, then resolves it; each change's
    webhook wakes its case (sent here as a signal, as the API's webhook route does)."""
    async with httpx.AsyncClient(
        base_url=jira.url, headers={"Authorization": f"Bearer {TOKEN}"}
    ) as http:
        keys: dict[str, str] = {}
        while len(keys) < len(cases):
            for case in cases:
                key = issue_of(jira, case)
                if key is not None:
                    keys[case.workflow_id] = key
            await asyncio.sleep(0.3)
        for n in range(COMMENTS + 1):
            for workflow_id, key in keys.items():
                if n < COMMENTS:
                    answer = await http.post(
                        f"/rest/api/2/issue/{key}/comment",
                        json={"body": f"پاسخ {n + 1} وزارت درباره {key}"},
                    )
                    assert answer.status_code == 201, answer.text
                else:
                    answer = await http.post(
                        f"/rest/api/2/issue/{key}/transitions",
                        json={"transition": {"id": "21"}},
                    )
                    assert answer.status_code == 204, answer.text
                handle = client.get_workflow_handle_for(SepasWorkflow.run, workflow_id)
                await patiently(
                    lambda h=handle, k=key: h.signal(
                        SepasWorkflow.jira_changed, JiraNews(issue_key=k)
                    )
                )
                await asyncio.sleep(rng.uniform(0.05, 0.3))


def fixes_seen(engine: Engine, cases: list[Case]) -> int:
    with Session(engine) as session:
        return len(
            session.exec(
                select(SepasCase.case_id).where(
                    col(SepasCase.case_id).in_([c.id for c in cases]),
                    col(SepasCase.fixed_at).is_not(None),
                )
            ).all()
        )


async def test_kill9_worker_during_jira_creates_and_follow_up(
    temporal: WorkflowEnvironment,
    worker: Child,
    crash_settings: Settings,
    engine: Engine,
    jira: JiraServer,
) -> None:
    client = temporal.client
    rng = random.Random()
    hospitals = hospitals_with_errors(engine)
    # Jira carries out some creates and loses their answers.
    jira.state.faults += [Fault("POST", "/rest/api/2/issue", 502, after=True) for _ in range(3)]
    worker.start()
    await worker.wait_log(WORKER_READY, 1, timeout=60)
    cases = await start_cases(client, crash_settings, engine, hospitals)
    script = asyncio.gather(classify_all(client, engine, cases), ministry(client, jira, cases, rng))
    try:
        for kill in range(1, KILLS + 1):
            await worker.wait_log(WORKER_READY, kill, timeout=60)
            await asyncio.sleep(rng.uniform(*UP_SECONDS))
            worker.kill9()
            worker.start()
        await worker.wait_log(WORKER_READY, KILLS + 1, timeout=60)
        await asyncio.wait_for(script, timeout=SETTLE_SECONDS)
        deadline = time.monotonic() + SETTLE_SECONDS
        while time.monotonic() < deadline and fixes_seen(engine, cases) < len(cases):
            await asyncio.sleep(0.5)
    finally:
        worker.stop()

    assert fixes_seen(engine, cases) == len(cases), worker.tail(30)
    for case in cases:
        label = tracking_label(case.tracking_code)
        issues = [k for k, i in jira.state.issues.items() if label in i.fields.get("labels", [])]
        assert len(issues) == 1, f"{case.tracking_code}: {issues}"
        [key] = issues
        with Session(engine) as session:
            events = session.exec(
                select(CaseEvent.text_fa).where(CaseEvent.case_id == case.id)
            ).all()
        mirrored = Counter(
            n
            for n in range(1, COMMENTS + 1)
            for text in events
            if f"پاسخ {n} وزارت درباره {key}" in text
        )
        assert mirrored == Counter({n: 1 for n in range(1, COMMENTS + 1)}), (key, mirrored)
        assert sum("Resolved" in text for text in events) == 1
    print(f"\n{len(cases)} cases, {worker.kills} kills; issues in Jira: {len(jira.state.issues)}")
