"""Process 5 (SEPAS record-sending errors) on the time-skipping server, every route of the chart,
with the real activities on the test database and the local Jira over HTTP."""

from __future__ import annotations

import asyncio
import itertools
import random
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from db.models import Case, OutboundMessage, Task, User
from db.sepas import (
    ErrorBankEntry,
    HisVendor,
    Hospital,
    SepasCase,
    SrmImport,
    his_vendor_scope,
    hospital_scope,
)
from db.srm_import import store_batch
from domain.calendar import TEHRAN
from domain.cases import CaseStatus, EventKind, Role, TaskStatus
from domain.jira import tracking_label
from domain.sepas import SrmBatch, SrmErrorRow, match_key
from domain.sepas_process import JiraNews, SepasReportForm, SrmNews
from domain.tasks import Actor, CancelCaseInput, CompleteTaskInput, TaskRefusal
from processes.sepas import SEPAS
from settings import Settings
from tests.jira_server import Fault, JiraServer
from tests.workflows.cases import open_task, sent, start_case, timeline
from worker import Workers, build_worker
from workflows.sepas import CLASSIFY, HOSPITAL_FIX, LEARN, VENDOR_FIX, SepasWorkflow

TOKEN = "ministry-token"
EXPERT = Actor(username="sepas-expert", roles=[Role.sepas_expert], scopes=[])
ADMIN = Actor(username="admin", roles=[Role.admin], scopes=["*"])
_numbers = itertools.count(1)

Handle = WorkflowHandle[SepasWorkflow, str]


@pytest.fixture(scope="module", autouse=True)
async def after_every_other_tests_srm_data(env: WorkflowEnvironment, engine: Engine) -> None:
    """SRM's data reaches as far as its latest import, any test's (other suites import days,
    even years, ahead): these cases' fixes lie a month past all of it, so only the data these
    tests import after a fix can confirm or refute it."""
    if not env.supports_time_skipping:
        return
    with Session(engine) as session:
        latest = session.exec(select(func.max(SrmImport.period_until))).one()
    now = await env.get_current_time()
    ahead = max(latest or now, now, datetime.now(UTC) + timedelta(days=365)) + timedelta(days=30)
    await env.sleep(ahead - now)


@pytest.fixture
def jira() -> Iterator[JiraServer]:
    with JiraServer(token=TOKEN) as server:
        yield server


@pytest.fixture
def jira_settings(settings: Settings, jira: JiraServer) -> Settings:
    return settings.model_copy(
        update={"jira_base_url": jira.url, "jira_token": TOKEN, "sepas_clean_days": 3}
    )


@pytest.fixture
async def worker(
    env: WorkflowEnvironment, jira_settings: Settings, engine: Engine
) -> AsyncIterator[Workers]:
    async with build_worker(env.client, jira_settings, engine) as running:
        yield running


def add_hospital(engine: Engine, *, with_vendor: bool = True) -> tuple[Hospital, HisVendor | None]:
    n = next(_numbers) + random.randrange(10**6)
    with Session(engine, expire_on_commit=False) as session:
        vendor = None
        if with_vendor:
            vendor = HisVendor(
                name=f"شرکت HIS {uuid.uuid4().hex[:8]}",
                products=["شفا"],
                mobile="09121110000",
                email=f"his{n}@vendor.example",
            )
            session.add(vendor)
            session.flush()
        hospital = Hospital(
            code=f"H{n}",
            name=f"بیمارستان امام {n}",
            his_product="شفا",
            his_vendor_id=vendor.id if vendor is not None else None,
        )
        session.add(hospital)
        session.commit()
        return hospital, vendor


def import_srm(
    engine: Engine,
    rows: list[tuple[str, datetime, str, int]],
    since: datetime,
    until: datetime,
) -> None:
    """Rows of (hospital code, time, message, count), as one SRM export covering the span."""
    with Session(engine) as session:
        report = store_batch(
            session,
            SrmBatch(
                source_key=uuid.uuid4().hex,
                source_name="srm-export.xlsx",
                rows=[
                    SrmErrorRow(
                        hospital_code=code,
                        at=at,
                        record_id=str(random.randrange(10**9)),
                        message=message,
                        count=count,
                    )
                    for code, at, message, count in rows
                ],
                period_from=since,
                period_until=until,
            ),
            actor="test",
        )
    assert not report.errors, report.errors


def evidence_span(engine: Engine, fixed_at: datetime) -> tuple[datetime, datetime]:
    """A span of SRM data reaching past the fix by more than the clean days and past every SRM
    data already imported (SRM's data reaches as far as its latest import, any test's)."""
    with Session(engine) as session:
        latest = session.exec(select(func.max(SrmImport.period_until))).one()
    start = max(fixed_at, latest) if latest is not None else fixed_at
    # From the later of the two only: a span from the fix to years ahead would cover every
    # window in between, other suites' included.
    return start - timedelta(hours=1), start + timedelta(days=10)


def form(hospital: Hospital, **overrides: Any) -> SepasReportForm:
    data: dict[str, Any] = {
        "hospital_code": hospital.code,
        "reporter_name": "علی رضایی",
        "mobile": f"0912{random.randrange(10**7):07d}",
        "what_fails": "پرونده‌های بستری از دیروز به سپاس نمی‌رسد",
        "since": (datetime.now(TEHRAN) - timedelta(days=2)).date().isoformat(),
        "sample_record_ids": "1001 1002",
    }
    data.update(overrides)
    return SepasReportForm.model_validate(data)


async def start(
    env: WorkflowEnvironment, settings: Settings, engine: Engine, report: SepasReportForm
) -> tuple[Case, Handle]:
    return await start_case(env, settings, engine, SEPAS, report)


async def decide(handle: Handle, task: Task, decision: dict[str, Any], actor: Actor) -> None:
    await handle.execute_update(
        SepasWorkflow.complete_task,
        CompleteTaskInput(task_id=task.id, actor=actor, decision=decision),
    )


def record(engine: Engine, case: Case) -> SepasCase:
    with Session(engine) as session:
        found = session.get(SepasCase, case.id)
        assert found is not None
        return found


async def fixed_at(engine: Engine, case: Case) -> datetime:
    for _ in range(400):
        at = record(engine, case).fixed_at
        if at is not None:
            return at
        await asyncio.sleep(0.05)
    raise AssertionError("the fix was not recorded")


def hospital_actor(hospital: Hospital) -> Actor:
    return Actor(
        username=f"it-{hospital.code.lower()}",
        roles=[Role.hospital_it],
        scopes=[hospital_scope(hospital.code)],
    )


def vendor_actor(vendor: HisVendor) -> Actor:
    assert vendor.id is not None
    return Actor(
        username=f"his-{vendor.id}", roles=[Role.his_vendor], scopes=[his_vendor_scope(vendor.id)]
    )


def errors_now(engine: Engine, hospital: Hospital, *messages: tuple[str, int]) -> None:
    """The hospital's errors of the last hours, in an export covering the report's window."""
    now = datetime.now(UTC)
    import_srm(
        engine,
        [(hospital.code, now - timedelta(hours=3), m, c) for m, c in messages],
        now - timedelta(days=5),
        now + timedelta(minutes=30),
    )


async def srm_clean_after_fix(
    engine: Engine, handle: Handle, case: Case, hospital: Hospital, *still: tuple[str, int]
) -> None:
    """SRM's next export: past the fix by more than the clean days, with `still` the case's
    messages seen again near its end (none: the fix held); the case is told of the import."""
    fixed = await fixed_at(engine, case)
    since, until = evidence_span(engine, fixed)
    rows = [("OTHER-HOSPITAL", until - timedelta(days=1), "NationalCode is block.", 1)]
    rows += [(hospital.code, until - timedelta(days=1), m, c) for m, c in still]
    import_srm(engine, rows, since, until)
    await handle.signal(SepasWorkflow.srm_imported, SrmNews(source_name="srm-export.xlsx"))


async def test_known_hospital_error_fixed_confirmed_by_srm_and_announced(
    env: WorkflowEnvironment, jira_settings: Settings, engine: Engine, worker: Workers
) -> None:
    hospital, _ = add_hospital(engine)
    errors_now(engine, hospital, ("NationalCode invalid", 40), ("NationalCode invalid.", 2))
    with Session(engine) as session:
        entry = session.exec(
            select(ErrorBankEntry).where(
                ErrorBankEntry.match_key == match_key("NationalCode invalid")
            )
        ).one()
        matched_before = entry.match_count
    case, handle = await start(env, jira_settings, engine, form(hospital))

    classify = await open_task(engine, case, CLASSIFY.key)
    groups = classify.context["groups"]
    assert [(g["message"], g["count"]) for g in groups] == [("NationalCode invalid", 42)]
    assert (groups[0]["match"], groups[0]["score"]) == ("exact", 100)
    assert groups[0]["category"] == "hospital"
    schema = classify.form_schema["properties"]
    assert schema["verdict"]["default"] == "hospital"
    assert schema["bank_entry_id"]["default"] == str(entry.id)
    assert classify.context["best_remedy"] == entry.remedy_fa
    await decide(handle, classify, {"verdict": "hospital", "bank_entry_id": str(entry.id)}, EXPERT)

    fix = await open_task(engine, case, HOSPITAL_FIX.key)
    assert fix.scope == hospital_scope(hospital.code)
    assert fix.context["remedy"] == entry.remedy_fa
    await decide(
        handle,
        fix,
        {"fixed": True, "what_was_done": "کد ملی ۴۲ پرونده در پذیرش اصلاح و دوباره ارسال شد"},
        hospital_actor(hospital),
    )
    await srm_clean_after_fix(engine, handle, case, hospital)
    assert await handle.result() == "resolved"

    with Session(engine) as session:
        closed = session.get(Case, case.id)
        assert closed is not None and closed.status == CaseStatus.closed
        assert closed.outcome == "resolved"
        assert closed.outcome_detail["cause"] == entry.cause_fa
        assert "اصلاح" in closed.outcome_detail["done"]
        assert "evidence" in closed.outcome_detail
        assert session.get(ErrorBankEntry, entry.id).match_count == matched_before + 1  # type: ignore[union-attr]
    saved = record(engine, case)
    assert saved.verdict == "hospital" and saved.evidence is not None
    assert saved.evidence["state"] == "clean"
    texts = " ".join(e.text_en for e in timeline(engine, case))
    assert "SRM read: 1 messages, 42 occurrences" in texts
    assert "The hospital corrected it" in texts
    assert "SRM shows none of the case's messages for 3 days" in texts
    messages = sent(engine, case)
    resolved = [m for m in messages if "رفع شد" in m.body]
    assert resolved and resolved[0].recipient == record(engine, case).mobile


async def test_vendor_late_then_fix_that_srm_refutes_goes_back_to_the_expert(
    env: WorkflowEnvironment, jira_settings: Settings, engine: Engine, worker: Workers
) -> None:
    hospital, vendor = add_hospital(engine)
    assert vendor is not None
    message = "DO_CODED_TEXT Diagnosis is not Complete."
    errors_now(engine, hospital, (message, 17))
    case, handle = await start(env, jira_settings, engine, form(hospital))
    await decide(
        handle,
        await open_task(engine, case, CLASSIFY.key),
        {"verdict": "software", "note": "نسخه ۴.۲ شفا کد تشخیص را ناقص می‌فرستد"},
        EXPERT,
    )
    job = await open_task(engine, case, VENDOR_FIX.key)
    assert job.scope == his_vendor_scope(vendor.id or 0)
    assert job.context["expert_note"].startswith("نسخه")
    # The vendor's SMS: a job of its own, with the cartable's address.
    assert any(m.recipient == vendor.mobile and "/tasks" in m.body for m in sent(engine, case))

    async def kinds_after(delay: timedelta, wanted: EventKind) -> set[EventKind]:
        await env.sleep(delay)
        found: set[EventKind] = set()
        for _ in range(200):
            found = {e.kind for e in timeline(engine, case)}
            if wanted in found:
                break
            await asyncio.sleep(0.05)
        return found

    due = job.due_at
    found = await kinds_after(
        due - timedelta(days=1) - await env.get_current_time() + timedelta(hours=1),
        EventKind.task_reminded,
    )
    assert EventKind.task_reminded in found and EventKind.task_overdue not in found
    found = await kinds_after(
        due - await env.get_current_time() + timedelta(hours=1), EventKind.task_overdue
    )
    assert EventKind.task_overdue in found
    found = await kinds_after(timedelta(days=5), EventKind.task_escalated)
    assert EventKind.task_escalated in found

    await decide(
        handle,
        job,
        {"fixed": True, "fix": "کد تشخیص کامل فرستاده می‌شود", "version": "4.3.1"},
        vendor_actor(vendor),
    )
    assert record(engine, case).fix_version == "4.3.1"
    await srm_clean_after_fix(engine, handle, case, hospital, (message.rstrip("."), 6))

    again = await open_task(engine, case, CLASSIFY.key, 2)
    assert again.context["rounds"] == 1
    assert [g["count"] for g in again.context["evidence_groups"]] == [6]
    assert record(engine, case).rounds == 1
    assert record(engine, case).evidence["state"] == "still_failing"  # type: ignore[index]

    await handle.execute_update(
        SepasWorkflow.cancel_case,
        CancelCaseInput(actor=ADMIN, reason="بیمارستان نرم‌افزار HIS را عوض کرد"),
    )
    assert await handle.result() == "cancelled"
    with Session(engine) as session:
        tasks = session.exec(select(Task).where(Task.case_id == case.id)).all()
        assert all(t.status != TaskStatus.open for t in tasks)
        closed = session.get(Case, case.id)
        assert closed is not None and closed.status == CaseStatus.cancelled


async def resolve_in_jira(jira: JiraServer, key: str) -> None:
    async with httpx.AsyncClient(
        base_url=jira.url, headers={"Authorization": f"Bearer {TOKEN}"}
    ) as client:
        answer = await client.post(
            f"/rest/api/2/issue/{key}/transitions",
            json={"transition": {"id": "21"}, "fields": {"resolution": {"name": "Fixed"}}},
        )
        assert answer.status_code == 204, answer.text


def issues_of(jira: JiraServer, case: Case) -> list[str]:
    label = tracking_label(case.tracking_code)
    return [k for k, i in jira.state.issues.items() if label in i.fields.get("labels", [])]


async def until_mirrored(engine: Engine, case: Case, text: str) -> None:
    # A skipped week is 28 polls to replay and run: a loaded machine takes its time.
    for _ in range(1200):
        if any(text in e.text_en for e in timeline(engine, case)):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{text!r} is not on the timeline")


async def test_unknown_error_goes_to_jira_is_followed_for_weeks_and_teaches_the_bank(
    env: WorkflowEnvironment,
    jira_settings: Settings,
    engine: Engine,
    worker: Workers,
    jira: JiraServer,
) -> None:
    hospital, _ = add_hospital(engine)
    message = f"Terminology lookup refused: {uuid.uuid4().hex}{uuid.uuid4().hex}"
    errors_now(engine, hospital, (message, 9))
    case, handle = await start(env, jira_settings, engine, form(hospital))
    classify = await open_task(engine, case, CLASSIFY.key)
    assert classify.context["groups"][0]["match"] is None
    assert classify.form_schema["properties"]["verdict"]["default"] == "unknown"
    await decide(handle, classify, {"verdict": "unknown"}, EXPERT)

    for _ in range(400):
        if issues_of(jira, case):
            break
        await asyncio.sleep(0.05)
    [key] = issues_of(jira, case)
    issue = jira.state.issues[key]
    assert message in issue.fields["description"]
    assert [a["filename"] for a in issue.attachments] == [f"srm-{case.tracking_code}.csv"]
    assert record(engine, case).jira_key == key

    # Weeks at the ministry: comments come, each mirrored once, and the case keeps polling.
    jira.comment_as(key, "کارشناس وزارت", "در حال بررسی سرویس واژگان")
    await env.sleep(timedelta(hours=7))
    await until_mirrored(engine, case, "در حال بررسی سرویس واژگان")
    await env.sleep(timedelta(days=14))
    jira.comment_as(key, "کارشناس وزارت", "نگاشت کد اصلاح شد؛ دوباره ارسال کنید")
    await resolve_in_jira(jira, key)
    await handle.signal(SepasWorkflow.jira_changed, JiraNews(issue_key=key, event="updated"))
    # Taught only once SRM confirms the fix.
    await srm_clean_after_fix(engine, handle, case, hospital)
    lesson = await open_task(engine, case, LEARN.key)
    prefilled = lesson.form_schema["properties"]
    assert prefilled["message"]["default"] == message
    assert prefilled["remedy_fa"]["default"] == "نگاشت کد اصلاح شد؛ دوباره ارسال کنید"
    assert prefilled["jira_key"]["default"] == key
    await decide(
        handle,
        lesson,
        {
            "message": message,
            "category": "structural",
            "cause_fa": "نگاشت کد در سرویس واژگان سپاس ناقص بود",
            "cause_en": "SEPAS's terminology service lacked the code's mapping",
            "remedy_fa": "وزارت نگاشت را اصلاح کرد؛ پرونده‌ها را دوباره ارسال کنید",
            "remedy_en": "The ministry fixed the mapping; send the records again",
            "source": "jira",
            "jira_key": key,
        },
        EXPERT,
    )
    assert await handle.result() == "resolved"

    mirrored = [e for e in timeline(engine, case) if "کارشناس وزارت" in e.text_fa]
    assert len(mirrored) == 2
    assert len(issues_of(jira, case)) == 1
    # The evidence went back to the ministry as a comment.
    assert any("SRM shows none" in c["body"] for c in issue.comments)
    with Session(engine) as session:
        learned = session.exec(
            select(ErrorBankEntry).where(ErrorBankEntry.match_key == match_key(message))
        ).one()
    assert learned.source == "jira" and learned.jira_key == key

    # The next report of that message is explained by the bank at once.
    errors_now(engine, hospital, (message, 3))
    second, second_handle = await start(env, jira_settings, engine, form(hospital))
    classify = await open_task(engine, second, CLASSIFY.key)
    assert classify.context["groups"][0]["match"] == "exact"
    assert classify.form_schema["properties"]["bank_entry_id"]["default"] == str(learned.id)
    assert classify.form_schema["properties"]["verdict"]["default"] == "structural"
    await second_handle.execute_update(
        SepasWorkflow.cancel_case, CancelCaseInput(actor=ADMIN, reason="آزمون تمام شد")
    )
    assert await second_handle.result() == "cancelled"


async def test_a_jira_create_whose_answer_is_lost_opens_exactly_one_issue(
    env: WorkflowEnvironment,
    jira_settings: Settings,
    engine: Engine,
    worker: Workers,
    jira: JiraServer,
) -> None:
    hospital, _ = add_hospital(engine)
    errors_now(engine, hospital, ("Destination SepasNode is Down", 120))
    case, handle = await start(env, jira_settings, engine, form(hospital))
    # The create is done, then its answer lost: twice (the local attempt, then the first
    # regular one); the retry finds the issue by the case's label.
    jira.state.faults += [
        Fault("POST", "/rest/api/2/issue", 502, after=True),
        Fault("POST", "/rest/api/2/issue", 502, after=True),
    ]
    await decide(
        handle, await open_task(engine, case, CLASSIFY.key), {"verdict": "structural"}, EXPERT
    )
    for _ in range(400):
        if record(engine, case).jira_key is not None:
            break
        await asyncio.sleep(0.05)
    assert len(issues_of(jira, case)) == 1
    assert record(engine, case).jira_key == issues_of(jira, case)[0]
    await handle.execute_update(
        SepasWorkflow.cancel_case, CancelCaseInput(actor=ADMIN, reason="آزمون تمام شد")
    )
    assert await handle.result() == "cancelled"


async def test_jira_429_is_waited_out_as_told(
    env: WorkflowEnvironment,
    jira_settings: Settings,
    engine: Engine,
    worker: Workers,
    jira: JiraServer,
) -> None:
    hospital, _ = add_hospital(engine)
    errors_now(engine, hospital, ("Error at CTS validation.", 5))
    case, handle = await start(env, jira_settings, engine, form(hospital))
    await decide(
        handle, await open_task(engine, case, CLASSIFY.key), {"verdict": "structural"}, EXPERT
    )
    for _ in range(400):
        if record(engine, case).jira_key is not None:
            break
        await asyncio.sleep(0.05)
    key = record(engine, case).jira_key
    assert key is not None
    for _ in range(2):  # the local attempt and the regular activity's first
        jira.state.faults.append(Fault("GET", f"/rest/api/2/issue/{key}", 429, retry_after="600"))
    jira.comment_as(key, "کارشناس وزارت", "سرویس دوباره بالا آمد")
    before = await env.get_current_time()
    await handle.signal(SepasWorkflow.jira_changed, JiraNews(issue_key=key))
    for _ in range(400):  # both attempts met the 429
        if not jira.state.faults:
            break
        await asyncio.sleep(0.05)
    assert not any("سرویس دوباره بالا آمد" in e.text_fa for e in timeline(engine, case)), (
        "read before Jira's Retry-After passed"
    )
    await env.sleep(timedelta(seconds=610))
    await until_mirrored(engine, case, "سرویس دوباره بالا آمد")
    waited = await env.get_current_time() - before
    assert waited >= timedelta(seconds=600)
    failed = [
        e
        async for e in handle.fetch_history_events()
        if e.HasField("activity_task_started_event_attributes")
        and e.activity_task_started_event_attributes.attempt > 1
    ]
    assert failed, "the read was retried by Temporal after Jira's Retry-After"
    await handle.execute_update(
        SepasWorkflow.cancel_case, CancelCaseInput(actor=ADMIN, reason="آزمون تمام شد")
    )
    assert await handle.result() == "cancelled"


async def test_without_srm_data_the_case_waits_reminds_and_wakes_at_the_import(
    env: WorkflowEnvironment, jira_settings: Settings, engine: Engine, worker: Workers
) -> None:
    hospital, _ = add_hospital(engine)
    with Session(engine) as session:
        session.add(
            User(
                username=f"expert{uuid.uuid4().hex[:6]}",
                full_name="کارشناس سپاس",
                password_hash="!",
                roles=[Role.sepas_expert],
                scopes=[],
                email=f"expert{uuid.uuid4().hex[:6]}@univ.example",
            )
        )
        session.commit()
    # A window no export covers yet: from 80 days ago.
    since = (datetime.now(TEHRAN) - timedelta(days=80)).date()
    case, handle = await start(env, jira_settings, engine, form(hospital, since=since.isoformat()))
    for _ in range(400):
        with Session(engine) as session:
            current = session.get(Case, case.id)
        if current is not None and current.current_step == "srm_wait":
            break
        await asyncio.sleep(0.05)
    assert current is not None and current.current_step == "srm_wait"
    with Session(engine) as session:
        reminders = session.exec(
            select(OutboundMessage).where(
                col(OutboundMessage.message_key).startswith(f"{case.workflow_id}:srm-reminder:1")
            )
        ).all()
    assert reminders and "/admin/sepas/srm" in reminders[0].body
    now = datetime.now(UTC)
    import_srm(
        engine,
        [(hospital.code, now - timedelta(days=30), "MedicalRecordNumber is mandatory.", 4)],
        now - timedelta(days=85),
        now + timedelta(minutes=30),
    )
    await handle.signal(SepasWorkflow.srm_imported, SrmNews(source_name="srm-export.xlsx"))
    classify = await open_task(engine, case, CLASSIFY.key)
    assert classify.context["groups"][0]["message"] == "MedicalRecordNumber is mandatory."
    await decide(
        handle,
        classify,
        {"verdict": "no_error", "note": "پرونده‌ها پس از ورود شماره پرونده ارسال شده‌اند"},
        EXPERT,
    )
    assert await handle.result() == "no_error"
    with Session(engine) as session:
        closed = session.get(Case, case.id)
        assert closed is not None and closed.outcome == "no_error"


async def test_weeks_of_jira_polling_continue_as_new_and_lose_nothing(
    env: WorkflowEnvironment,
    settings: Settings,
    engine: Engine,
    jira: JiraServer,
) -> None:
    """A small history bound: the follow-up continues as new many times, each comment is
    mirrored once across the runs, and the case goes on to its evidence."""
    short = settings.model_copy(
        update={
            "jira_base_url": jira.url,
            "jira_token": TOKEN,
            "sepas_continue_as_new_after_events": 100,
        }
    )
    async with build_worker(env.client, short, engine):
        hospital, _ = add_hospital(engine)
        errors_now(engine, hospital, (f"Registry refused: {uuid.uuid4().hex}{uuid.uuid4().hex}", 2))
        case, handle = await start(env, short, engine, form(hospital))
        first_run = (await handle.describe()).run_id
        await decide(
            handle, await open_task(engine, case, CLASSIFY.key), {"verdict": "unknown"}, EXPERT
        )
        for _ in range(400):
            if record(engine, case).jira_key is not None:
                break
            await asyncio.sleep(0.05)
        key = record(engine, case).jira_key
        assert key is not None
        for week in range(1, 4):
            jira.comment_as(key, "کارشناس وزارت", f"هفته {week}: در دست بررسی")
            await env.sleep(timedelta(days=7))
            await until_mirrored(engine, case, f"هفته {week}: در دست بررسی")
        current = (await handle.describe()).run_id
        assert current != first_run, "three weeks of polls, one run"
        history = [
            e async for e in env.client.get_workflow_handle(case.workflow_id).fetch_history_events()
        ]
        assert len(history) <= 200, len(history)
        await resolve_in_jira(jira, key)
        await handle.signal(SepasWorkflow.jira_changed, JiraNews(issue_key=key))
        await fixed_at(engine, case)
        events = [e.text_fa for e in timeline(engine, case)]
        for week in range(1, 4):
            assert sum(f"هفته {week}: در دست بررسی" in t for t in events) == 1
        await handle.execute_update(
            SepasWorkflow.cancel_case, CancelCaseInput(actor=ADMIN, reason="آزمون تمام شد")
        )
        assert await handle.result() == "cancelled"


async def test_the_classification_offers_only_what_the_case_can_do(
    env: WorkflowEnvironment, jira_settings: Settings, engine: Engine, worker: Workers
) -> None:
    """No HIS vendor in the register: no software route; no bank match: no entry to name."""
    hospital, _ = add_hospital(engine, with_vendor=False)
    errors_now(engine, hospital, (f"Unheard of: {uuid.uuid4().hex}{uuid.uuid4().hex}", 1))
    case, handle = await start(env, jira_settings, engine, form(hospital))
    classify = await open_task(engine, case, CLASSIFY.key)
    assert "software" not in classify.form_schema["properties"]["verdict"]["enum"]
    for wrong in ({"verdict": "software"}, {"verdict": "hospital", "bank_entry_id": "1"}):
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await decide(handle, classify, wrong, EXPERT)
        assert isinstance(refused.value.cause, ApplicationError)
        assert refused.value.cause.type == TaskRefusal.invalid_decision
    await handle.execute_update(
        SepasWorkflow.cancel_case, CancelCaseInput(actor=ADMIN, reason="آزمون تمام شد")
    )
    assert await handle.result() == "cancelled"
