"""Record the workflows' histories replayed by tests/workflows/test_replay.py.

Run after a deliberate change to the workflow (behind `workflow.patched` once cases run anywhere):
    .venv/bin/python -m tests.histories.record [scenario ...]
Name scenarios to record only those (a history made by older code stays, to replay its paths).
Payloads are encrypted with the tests' key (tests/conftest.py TEST_KEYS).
"""

from __future__ import annotations

import asyncio
import socket
import sys
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client, WorkflowHandle

from activities.mail_directory import LocalMailDirectory, MailboxSpec
from api.temporal import start_case_workflow
from db.case_store import open_case as open_case_of
from db.engine import make_engine
from db.migrate import upgrade
from db.models import Case, Task
from db.office_automation import Unit
from db.repair import Vendor, vendor_scope
from db.sepas import Hospital, SepasCase
from db.shams import County, Site, county_scope
from db.srm_import import store_batch
from db.stored_files import store
from domain.appointment import HandoverEvent, HandoverNews
from domain.cases import Role, TaskStatus
from domain.email_account import EmailRequestForm
from domain.office_automation import AppointmentLetter
from domain.repair import AssetKind, RepairForm
from domain.sepas import SrmBatch, SrmErrorRow
from domain.sepas_process import JiraNews, SepasReportForm, SrmNews
from domain.shams import LinkType, SiteKind
from domain.shams_process import RolloutForm
from domain.tasks import Actor, CancelCaseInput, CompleteTaskInput, ReassignTaskInput
from domain.uploads import UploadKind, check
from processes.email_account import EMAIL_ACCOUNT
from processes.office_automation import APPOINTMENT
from processes.repair import REPAIR
from processes.sepas import SEPAS
from processes.shams import SHAMS
from settings import Settings
from tests import samples
from tests.conftest import TEST_KEYS, start_dev_server
from tests.factories import form_data, open_case
from tests.jira_server import JiraServer
from worker import build_worker
from workflows.appointment import AppointmentWorkflow
from workflows.email_account import EmailAccountWorkflow
from workflows.human_task import CaseWorkflow
from workflows.repair import RepairWorkflow
from workflows.sepas import SepasWorkflow
from workflows.shams import RolloutWorkflow

HERE = Path(__file__).parent
EXPERT = Actor(username="email_admin", roles=[Role.email_admin], scopes=["*"])
ADMIN = Actor(username="admin", roles=[Role.admin], scopes=["*"])
JIRA_TOKEN = "record-token"
JIRA: list[JiraServer] = []
"""The local Jira the SEPAS scenario's case talks to, while the recording runs."""


async def _started(
    client: Client, settings: Settings, engine: Engine, data: dict[str, Any]
) -> tuple[Case, WorkflowHandle[EmailAccountWorkflow, str]]:
    """A case opened and started as the API does it: search attributes, summary, details."""
    case = open_case(engine, data)
    assert case.id is not None
    await start_case_workflow(
        client,
        settings.temporal_task_queue,
        EMAIL_ACCOUNT,
        case,
        EmailRequestForm.model_validate(data),
    )
    return case, client.get_workflow_handle_for(EmailAccountWorkflow.run, case.workflow_id)


async def _next_task(engine, case_id: int) -> Task:  # type: ignore[no-untyped-def]
    for _ in range(400):
        with Session(engine) as session:
            task = session.exec(
                select(Task).where(Task.case_id == case_id, Task.status == TaskStatus.open)
            ).first()
        if task:
            return task
        await asyncio.sleep(0.05)
    raise RuntimeError("no task")


async def _record(
    client: Client,
    settings: Settings,
    engine: Engine,
    scenario: str,
    data: dict[str, Any],
    *,
    cancel: bool = False,
) -> None:
    """One case through review and identity, then a username choice or an admin's cancel."""
    case, handle = await _started(client, settings, engine, data)
    decisions = [
        {"form_complete": True},
        {"identity_confirmed": True},
        None,  # choose_username: the first proposed alternative
    ]
    for number, decision in enumerate(decisions):
        task = await _next_task(engine, case.id)
        if cancel and number == 1:
            await handle.execute_update(
                EmailAccountWorkflow.cancel_case, CancelCaseInput(actor=ADMIN, reason="تکراری")
            )
            break
        if decision is None:
            decision = {"username": task.form_schema["properties"]["username"]["enum"][0]}
        await handle.execute_update(
            EmailAccountWorkflow.complete_task,
            CompleteTaskInput(task_id=task.id, actor=EXPERT, decision=decision),
        )
    await _store(handle, scenario)


async def _reassigned_at_once(client: Client, settings: Settings, engine: Engine) -> None:
    """Three reassignments of the review at once, then the last assignee refuses the form."""
    data = form_data()
    case, handle = await _started(client, settings, engine, data)
    task = await _next_task(engine, case.id)
    await asyncio.gather(
        *(
            handle.execute_update(
                EmailAccountWorkflow.reassign_task,
                ReassignTaskInput(task_id=task.id, actor=ADMIN, assignee=name, reason="نوبت"),
            )
            for name in ("email_admin", "colleague", "email_admin")
        )
    )
    [live] = (await handle.query(EmailAccountWorkflow.live)).open_tasks
    assignee = Actor(username=live.assignee or "", roles=[Role.email_admin], scopes=["*"])
    await handle.execute_update(
        EmailAccountWorkflow.complete_task,
        CompleteTaskInput(
            task_id=task.id,
            actor=assignee,
            decision={"form_complete": False, "refusal_reason": "ناقص"},
        ),
    )
    await _store(handle, "reassigned_at_once")


async def _store(
    handle: WorkflowHandle[Any, Any], scenario: str, process: str = EMAIL_ACCOUNT.kind
) -> None:
    """Its history once it ended, named `<process>_<scenario>@<workflow id>.json` (`process`
    empty: the scenario names the workflow, as a SHAMS county's or site's does)."""
    await handle.result()
    history = await handle.fetch_history()
    # The workflow id is part of the name: task ids derive from it, so replay needs it.
    name = f"{process}_{scenario}" if process else scenario
    (HERE / f"{name}@{handle.id}.json").write_text(history.to_json())


async def _repair_through_a_vendor(client: Client, settings: Settings, engine: Engine) -> None:
    """A repair the technician cannot do: a vendor quotes above the limit (approved), the
    work is sent back once, then accepted, handed over and confirmed by the requester."""
    with Session(engine, expire_on_commit=False) as session:
        vendor = Vendor(name="رایان سازه", fields=["printer"], mobile="09120000000")
        session.add(vendor)
        session.commit()
    form = RepairForm(
        personnel_number="12345",
        mobile="09351234567",
        full_name="مریم احمدی",
        unit="امور مالی",
        kind=AssetKind.printer,
        location="ستاد، اتاق ۲۰۴",
        problem="کاغذ گیر می‌کند",
    )
    with Session(engine, expire_on_commit=False) as session:
        case = open_case_of(
            session, REPAIR, form, idempotency_key=None, answer_due_at=datetime.now(UTC)
        )
        session.commit()
    await start_case_workflow(client, settings.temporal_task_queue, REPAIR, case, form)
    handle = client.get_workflow_handle_for(RepairWorkflow.run, case.workflow_id)
    lead = Actor(username="support_lead", roles=[Role.support_lead], scopes=["*"])
    technician = Actor(username="technician", roles=[Role.technician], scopes=["*"])
    company = Actor(username="vendor", roles=[Role.vendor], scopes=[vendor_scope(vendor.id or 0)])
    person = Actor(username="requester", roles=[Role.requester], scopes=[case.tracking_code])
    quote = settings.repair_quote_approval_limit_rials + 1
    decisions: list[tuple[Actor, dict[str, Any]]] = [
        (lead, {"in_house": True}),
        (technician, {"fixed": False, "reason": "برد سوخته"}),
        (lead, {"vendor": str(vendor.id), "dispatched_on": "2026-12-01", "taken_by": "پیک"}),
        (company, {"kind": "diagnosed", "quote_rials": quote, "promised_date": "2026-12-10"}),
        (lead, {"approved": True}),
        (company, {"kind": "repaired"}),
        (lead, {"accepted": False, "reason": "هنوز خط می‌اندازد"}),
        (company, {"kind": "repaired"}),
        (lead, {"accepted": True, "minutes": 30, "cost_fixed_rials": 1000}),
        (technician, {"handed_to": "مریم احمدی"}),
        (person, {"received": True, "satisfaction": 4}),
    ]
    for actor, decision in decisions:
        task = await _next_task(engine, case.id or 0)
        await handle.execute_update(
            RepairWorkflow.complete_task,
            CompleteTaskInput(task_id=task.id, actor=actor, decision=decision),
        )
    await _store(handle, "through_a_vendor", REPAIR.kind)


async def _shams_site_connected(client: Client, settings: Settings, engine: Engine) -> None:
    """A rollout of one county and one site: the letter returned once, then approved; the
    site ranged not feasible and ranged again for another link, installed, entered in SHAMS
    and connected (a local listener as its router). Stores the rollout's, the county's and
    the site's histories."""
    county = County(code="REC1", name="شهرستان نمونه", mobile="09121234567")
    site = Site(
        county_code="REC1",
        site_code="REC1-1",
        name="خانه بهداشت نمونه",
        kind=SiteKind.health_house,
        address="روستای نمونه، خیابان اصلی",
        latitude=35.7,
        longitude=51.4,
        link_type=LinkType.fibre,
    )
    with Session(engine, expire_on_commit=False) as session:
        session.add(county)
        session.commit()
        session.add(site)
        session.commit()
    form = RolloutForm(title="اتصال نقاط، مرحله نمونه")
    with Session(engine, expire_on_commit=False) as session:
        case = open_case_of(
            session, SHAMS, form, idempotency_key=None, answer_due_at=datetime.now(UTC)
        )
        session.commit()
    await start_case_workflow(client, settings.temporal_task_queue, SHAMS, case, form)
    rollout = client.get_workflow_handle_for(RolloutWorkflow.run, case.workflow_id)
    county_id = f"{case.workflow_id}-REC1"
    site_id = f"{county_id}-REC1-1"
    office = Actor(username="office", roles=[Role.it_office], scopes=["*"])
    director = Actor(username="director", roles=[Role.it_director], scopes=["*"])
    network = Actor(username="net", roles=[Role.county_network], scopes=[county_scope("REC1")])
    carrier = Actor(username="carrier", roles=[Role.carrier], scopes=["*"])
    letter = {"text": "نامه دانشگاه درباره اتصال نقاط به شمس", "answer_by": "2099-01-01"}
    with socket.socket() as router:
        router.bind(("127.0.0.1", 0))
        router.listen(4)
        port = router.getsockname()[1]
        decisions: list[tuple[str, Actor, dict[str, Any]]] = [
            (case.workflow_id, office, letter),
            (case.workflow_id, director, {"approved": False, "comments": "مهلت را بیشتر کنید"}),
            (case.workflow_id, office, letter),
            (case.workflow_id, director, {"approved": True}),
            (county_id, network, {"site_codes": ["REC1-1"]}),
            (county_id, office, {"returned": []}),
            (site_id, carrier, {"feasible": False, "reason": "no_coverage"}),
            (site_id, office, {"action": "other_link", "link_type": "wireless"}),
            (site_id, carrier, {"feasible": True, "exchange": "EX", "link_type": "wireless"}),
            (site_id, carrier, {"circuit_id": "77"}),
            (
                site_id,
                office,
                {"registration_number": "5001", "router_host": "127.0.0.1", "router_port": port},
            ),
            (county_id, network, {"no_sites": True}),
        ]
        for workflow_id, actor, decision in decisions:
            task = await _next_task_of(engine, case.id or 0, workflow_id)
            await client.get_workflow_handle(workflow_id).execute_update(
                CaseWorkflow.complete_task,
                CompleteTaskInput(task_id=task.id, actor=actor, decision=decision),
            )
        await client.get_workflow_handle(site_id).result()
    for workflow_id, scenario in (
        (site_id, "shams_site_connected"),
        (county_id, "shams_county_one_site"),
    ):
        await _store(client.get_workflow_handle(workflow_id), scenario, "")
    await _store(rollout, "letter_returned_once", SHAMS.kind)


async def _next_task_of(engine: Engine, case_id: int, workflow_id: str) -> Task:
    """The open task the workflow `workflow_id` opened in the case (a county's, a site's)."""
    for _ in range(1200):
        with Session(engine) as session:
            task = session.exec(
                select(Task).where(
                    Task.case_id == case_id,
                    Task.status == TaskStatus.open,
                    col(Task.id).startswith(workflow_id + ":"),
                )
            ).first()
        if task:
            return task
        await asyncio.sleep(0.05)
    raise RuntimeError(f"no task of {workflow_id}")


async def _sepas_unknown_through_jira(client: Client, settings: Settings, engine: Engine) -> None:
    """An error the bank does not know: classified unknown, its issue opened in the local Jira,
    a comment mirrored, the issue resolved, SRM clean after the fix, the bank taught."""
    jira = JIRA[0]
    now = datetime.now(UTC)
    message = "Error at TerminologyService mapping missing."
    with Session(engine) as session:
        session.add(Hospital(code="REC5", name="بیمارستان نمونه"))
        session.commit()
        store_batch(
            session,
            SrmBatch(
                source_key="record-srm-1",
                source_name="srm.csv",
                rows=[SrmErrorRow(hospital_code="REC5", at=now, message=message, count=4)],
                period_from=now - timedelta(days=3),
                period_until=now + timedelta(minutes=30),
            ),
            actor="record",
        )
    form = SepasReportForm(
        hospital_code="REC5",
        reporter_name="سارا محمدی",
        mobile="09127654321",
        what_fails="پرونده‌ها به سپاس نمی‌رسد",
        since=(now - timedelta(days=1)).date(),
    )
    with Session(engine, expire_on_commit=False) as session:
        case = open_case_of(
            session, SEPAS, form, idempotency_key=None, answer_due_at=datetime.now(UTC)
        )
        session.commit()
    await start_case_workflow(client, settings.temporal_task_queue, SEPAS, case, form)
    handle = client.get_workflow_handle_for(SepasWorkflow.run, case.workflow_id)
    expert = Actor(username="sepas_expert", roles=[Role.sepas_expert], scopes=[])
    task = await _next_task(engine, case.id or 0)
    await handle.execute_update(
        SepasWorkflow.complete_task,
        CompleteTaskInput(task_id=task.id, actor=expert, decision={"verdict": "unknown"}),
    )
    while not jira.state.issues:
        await asyncio.sleep(0.05)
    [key] = jira.state.issues
    jira.comment_as(key, "کارشناس وزارت", "نگاشت افزوده شد")
    async with httpx.AsyncClient(
        base_url=jira.url, headers={"Authorization": f"Bearer {JIRA_TOKEN}"}
    ) as http:
        await http.post(f"/rest/api/2/issue/{key}/transitions", json={"transition": {"id": "21"}})
    await handle.signal(SepasWorkflow.jira_changed, JiraNews(issue_key=key))
    fixed = None
    while fixed is None:
        await asyncio.sleep(0.05)
        with Session(engine) as session:
            fixed = session.exec(
                select(SepasCase.fixed_at).where(SepasCase.case_id == case.id)
            ).first()
    with Session(engine) as session:
        store_batch(
            session,
            SrmBatch(
                source_key="record-srm-2",
                source_name="srm.csv",
                period_from=fixed - timedelta(hours=1),
                period_until=fixed + timedelta(days=5),
            ),
            actor="record",
        )
    await handle.signal(SepasWorkflow.srm_imported, SrmNews(source_name="srm.csv"))
    task = await _next_task(engine, case.id or 0)
    lesson = {
        "message": message,
        "category": "structural",
        "cause_fa": "نگاشت نبود",
        "cause_en": "No mapping",
        "remedy_fa": "وزارت نگاشت را افزود",
        "remedy_en": "The ministry added the mapping",
        "source": "jira",
        "jira_key": key,
    }
    await handle.execute_update(
        SepasWorkflow.complete_task,
        CompleteTaskInput(task_id=task.id, actor=expert, decision=lesson),
    )
    await _store(handle, "unknown_through_jira", SEPAS.kind)


async def _appointment_handed_over(client: Client, settings: Settings, engine: Engine) -> None:
    """A manager's appointment: the post created, the signature and permissions, the cartable,
    the first link left to expire and a second one seen and confirmed."""
    with Session(engine, expire_on_commit=False) as session:
        session.add(
            Unit(
                code="REC3",
                name="معاونت نمونه",
                head_name="دکتر نمونه",
                head_national_code="0012345679",
                head_mobile="09121112233",
            )
        )
        session.commit()
        letter_file = store(
            session,
            settings.file_store_dir,
            check(samples.pdf(), UploadKind.pdf),
            uploaded_by="record",
        )
        signature = store(
            session,
            settings.file_store_dir,
            check(samples.png(600, 200), UploadKind.image),
            uploaded_by="record",
        )
    form = AppointmentLetter(
        letter_number="1234/ص",
        letter_date=datetime.now(UTC).date(),
        national_code="0012345679",
        first_name="مریم",
        last_name="احمدی",
        personnel_number="12345",
        mobile="09351234567",
        post_title="مدیر امور اداری",
        unit_code="REC3",
        effective_date=datetime.now(UTC).date(),
        is_manager=True,
        letter_file_id=letter_file.id or 0,
    )
    with Session(engine, expire_on_commit=False) as session:
        case = open_case_of(
            session, APPOINTMENT, form, idempotency_key=None, answer_due_at=datetime.now(UTC)
        )
        session.commit()
    await start_case_workflow(client, settings.temporal_task_queue, APPOINTMENT, case, form)
    handle = client.get_workflow_handle_for(AppointmentWorkflow.run, case.workflow_id)
    admin = Actor(username="automation_admin", roles=[Role.automation_admin], scopes=["*"])
    for decision in (
        {"automation_code": "REC3-P1", "permissions_group": "مدیران"},
        {"signature_file_id": signature.id, "permissions": ["sign_letters"]},
        {"username": "m.ahmadi", "permissions": ["refer"], "initial_password": "sealed"},
    ):
        task = await _next_task(engine, case.id or 0)
        await handle.execute_update(
            AppointmentWorkflow.complete_task,
            CompleteTaskInput(task_id=task.id, actor=admin, decision=decision),
        )
    await handle.signal(
        AppointmentWorkflow.handover, HandoverNews(event=HandoverEvent.locked, number=1)
    )
    task = await _next_task(engine, case.id or 0)
    await handle.execute_update(
        AppointmentWorkflow.complete_task,
        CompleteTaskInput(task_id=task.id, actor=admin, decision={}),
    )
    for event in (HandoverEvent.viewed, HandoverEvent.confirmed):
        await handle.signal(AppointmentWorkflow.handover, HandoverNews(event=event, number=2))
    await _store(handle, "handed_over", APPOINTMENT.kind)


async def _identity_and_username(client: Client, settings: Settings, engine: Engine) -> None:
    data = form_data(requested_username="zahra.m")
    LocalMailDirectory(engine).create_mailbox(
        MailboxSpec(
            username="zahra.m",
            address="zahra.m@x",
            first_name="a",
            last_name="b",
            owner_ref="other",
        ),
        "Password123",
    )
    await _record(client, settings, engine, "identity_and_username", data)


async def _cancelled_in_identity(client: Client, settings: Settings, engine: Engine) -> None:
    await _record(client, settings, engine, "cancelled_in_identity", form_data(), cancel=True)


SCENARIOS: dict[str, Callable[[Client, Settings, Engine], Awaitable[None]]] = {
    "identity_and_username": _identity_and_username,
    "cancelled_in_identity": _cancelled_in_identity,
    "reassigned_at_once": _reassigned_at_once,
    "repair_through_a_vendor": _repair_through_a_vendor,
    "shams_site_connected": _shams_site_connected,
    "sepas_unknown_through_jira": _sepas_unknown_through_jira,
    "appointment_handed_over": _appointment_handed_over,
}


async def main(names: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp, JiraServer(token=JIRA_TOKEN) as jira:
        JIRA.append(jira)
        url = f"sqlite:///{tmp}/record.db"
        upgrade(url)
        settings = Settings(
            _env_file=None,
            database_url=url,
            payload_keys=TEST_KEYS,
            secret_key="x",
            temporal_task_queue="record",
            # A SHAMS rollout reads its counties' progress this often: minutes, not an hour.
            shams_progress_check_minutes=1,
            jira_base_url=jira.url,
            file_store_dir=f"{tmp}/files",
            jira_token=JIRA_TOKEN,
        )
        engine = make_engine(url)
        env = await start_dev_server(settings)
        async with build_worker(env.client, settings, engine):
            for name in names:
                await SCENARIOS[name](env.client, settings, engine)
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:] or list(SCENARIOS)))
