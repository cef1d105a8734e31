"""Process 4 (the SHAMS rollout) on the time-skipping server: the letter, the counties, the
sites' long waits and the connection check, with the real activities on the test database."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from db.models import Case, OutboundMessage, Task, User
from db.shams import County, Site, SiteEvent, county_scope
from db.shams_progress import CountyRun, SiteRun
from domain.calendar import TEHRAN
from domain.cases import CaseOutcome, CaseStatus, EventKind, Role, TaskStatus
from domain.shams import LinkType, SiteKind, SiteState
from domain.shams_process import CountyStart, RolloutForm, SiteOutcome
from domain.tasks import Actor, CancelCaseInput, CompleteTaskInput, TaskRefusal
from processes.shams import SHAMS
from settings import Settings
from tests.conftest import BIN
from tests.workflows.cases import open_task, start_case, timeline
from worker import build_worker
from workflows.client import data_converter
from workflows.human_task import CaseWorkflow
from workflows.shams import APPROVE_LETTER, DRAFT_LETTER, RolloutWorkflow
from workflows.shams_county import CHECK_SITES, COLLECT_SITES, CORRECT_SITES, MORE_SITES
from workflows.shams_site import (
    DECIDE_NOT_FEASIBLE,
    ENTER_IN_SHAMS,
    INSTALL_LINE,
    RANGE_SITE,
    REPAIR_LINE,
)

OFFICE = Actor(username="office", roles=[Role.it_office], scopes=["*"])
DIRECTOR = Actor(username="director", roles=[Role.it_director], scopes=["*"])
CARRIER = Actor(username="carrier", roles=[Role.carrier], scopes=["*"])
ADMIN = Actor(username="admin", roles=[Role.admin], scopes=["*"])
LETTER = "به پیوست فهرست نقاط شبکه برای اتصال به شبکه ملی سلامت ارسال می‌شود."

Handle = WorkflowHandle[RolloutWorkflow, str]


@pytest.fixture
def shams_settings(settings: Settings) -> Settings:
    """Short probe windows (real seconds); the waits between them are skipped time. Progress
    is read daily: each read of a polling workflow is work for the server while it skips."""
    return settings.model_copy(
        update={
            "shams_probe_window_seconds": 1,
            "shams_probe_first_retry_seconds": 0.2,
            "shams_probe_max_retry_seconds": 0.4,
            "shams_probe_pause_minutes": 12 * 60,
            "shams_probe_give_up_working_days": 3,
            "shams_progress_check_minutes": 24 * 60,
        }
    )


@pytest.fixture
async def env(settings: Settings) -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server per test. After a rollout whose county started sites in several
    rounds was cancelled, the test server (not Temporal) stopped skipping time for good,
    its completed parent still listing the county as a pending child; a fresh server keeps
    the other tests' skipped weeks independent of that."""
    environment = await WorkflowEnvironment.start_time_skipping(
        data_converter=data_converter(settings),
        test_server_existing_path=str(BIN / "temporal-test-server"),
    )
    yield environment
    await environment.shutdown()


@pytest.fixture
async def worker(
    env: WorkflowEnvironment, shams_settings: Settings, engine: Engine
) -> AsyncIterator[Worker]:
    async with build_worker(env.client, shams_settings, engine) as running:
        yield running


def add_county(engine: Engine) -> County:
    code = f"C{uuid.uuid4().hex[:8]}"
    with Session(engine, expire_on_commit=False) as session:
        county = County(
            code=code, name=f"شهرستان {code}", mobile="09121234567", email=f"{code}@x.ir"
        )
        session.add(county)
        session.commit()
        return county


def add_sites(engine: Engine, county: County, count: int) -> list[str]:
    codes = [f"S{uuid.uuid4().hex[:10]}" for _ in range(count)]
    with Session(engine) as session:
        for code in codes:
            session.add(
                Site(
                    county_code=county.code,
                    site_code=code,
                    name=f"خانه بهداشت {code}",
                    kind=SiteKind.health_house,
                    address="روستای نمونه، خیابان اصلی",
                    latitude=35.7,
                    longitude=51.4,
                    link_type=LinkType.adsl,
                )
            )
        session.commit()
    return codes


async def start(
    env: WorkflowEnvironment, settings: Settings, engine: Engine
) -> tuple[Case, Handle]:
    form = RolloutForm(title="اتصال نقاط روستایی، مرحله آزمون")
    return await start_case(
        env, settings, engine, SHAMS, form, started_by=OFFICE.username, answer_days=60
    )


async def today(env: WorkflowEnvironment) -> date:
    return (await env.get_current_time()).astimezone(TEHRAN).date()


async def decide(
    env: WorkflowEnvironment, task: Task, decision: dict[str, Any], actor: Actor
) -> None:
    """The task's own workflow (a county's or a site's) takes the decision: its id is the
    task id before the step."""
    workflow_id = task.id.rsplit(":", 2)[0]
    await env.client.get_workflow_handle(workflow_id).execute_update(
        CaseWorkflow.complete_task,
        CompleteTaskInput(task_id=task.id, actor=actor, decision=decision),
    )


def county_actor(county: County) -> Actor:
    return Actor(
        username=f"net-{county.code}",
        roles=[Role.county_network],
        scopes=[county_scope(county.code)],
    )


async def send_letter(
    env: WorkflowEnvironment,
    engine: Engine,
    case: Case,
    counties: list[County],
    answer_by: date,
    round: int = 1,
) -> None:
    draft = await open_task(engine, case.workflow_id, DRAFT_LETTER.key, round)
    letter = {"text": LETTER, "counties": [c.code for c in counties], "answer_by": str(answer_by)}
    await decide(env, draft, letter, OFFICE)
    approve = await open_task(engine, case.workflow_id, APPROVE_LETTER.key, round)
    await decide(env, approve, {"approved": True}, DIRECTOR)


def county_id(case: Case, county: County) -> str:
    return f"{case.workflow_id}-{county.code}"


def site_id(case: Case, county: County, code: str) -> str:
    return f"{county_id(case, county)}-{code}"


async def send_sites(
    env: WorkflowEnvironment,
    engine: Engine,
    case: Case,
    county: County,
    codes: list[str],
    step: str = COLLECT_SITES.key,
    number: int = 1,
) -> None:
    task = await open_task(engine, county_id(case, county), step, number)
    await decide(env, task, {"site_codes": codes}, county_actor(county))


async def accept(
    env: WorkflowEnvironment,
    engine: Engine,
    case: Case,
    county: County,
    number: int = 1,
    returned: list[dict[str, str]] | None = None,
) -> None:
    check = await open_task(engine, county_id(case, county), CHECK_SITES.key, number)
    await decide(env, check, {"returned": returned or []}, OFFICE)


def site(engine: Engine, code: str) -> Site:
    with Session(engine) as session:
        found = session.exec(select(Site).where(Site.site_code == code)).one()
        return found


def site_history(engine: Engine, code: str) -> list[SiteEvent]:
    with Session(engine) as session:
        found = site(engine, code)
        return list(
            session.exec(
                select(SiteEvent).where(SiteEvent.site_id == found.id).order_by(col(SiteEvent.id))
            )
        )


def run_of(engine: Engine, case: Case, code: str) -> SiteRun:
    with Session(engine) as session:
        return session.exec(
            select(SiteRun).where(
                SiteRun.rollout_id == case.tracking_code, SiteRun.site_code == code
            )
        ).one()


async def until(check: Any, what: str, tries: int = 400) -> None:
    for _ in range(tries):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(what)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def listening(port: int) -> Iterator[None]:
    """The site's router: a TCP listener on `port` (accepts, never reads)."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(16)
    try:
        yield
    finally:
        server.close()


def failed_windows(engine: Engine, code: str) -> list[str]:
    return [e.note or "" for e in site_history(engine, code) if "بی‌پاسخ" in (e.note or "")]


async def next_window(env: WorkflowEnvironment, engine: Engine, code: str) -> None:
    """Skip the pause between two attempt windows, then let the next (real-time) one run.

    The windows run in real time while the test waits on the database: the test server
    skips time only within `env.sleep`, so it never skips past a running window's timeouts."""
    done = len(failed_windows(engine, code))
    await env.sleep(timedelta(hours=13))
    await until(lambda: len(failed_windows(engine, code)) > done, "no next window")


async def to_shams(
    env: WorkflowEnvironment, engine: Engine, case: Case, county: County, code: str, port: int
) -> None:
    """Ranged feasible, the line installed, the site entered in SHAMS with its router."""
    wid = site_id(case, county, code)
    ranging = await open_task(engine, wid, RANGE_SITE.key)
    report = {"feasible": True, "exchange": "EX-1", "link_type": "adsl"}
    await decide(env, ranging, report, CARRIER)
    install = await open_task(engine, wid, INSTALL_LINE.key)
    assert install.scope == "exchange:EX-1"
    await decide(env, install, {"circuit_id": "123"}, CARRIER)
    entry = await open_task(engine, wid, ENTER_IN_SHAMS.key)
    shams_entry = {"registration_number": "۴۵۶۷", "router_host": "127.0.0.1", "router_port": port}
    await decide(env, entry, shams_entry, OFFICE)


async def cancel(handle: Handle, reason: str = "پایان آزمون") -> None:
    await handle.execute_update(
        RolloutWorkflow.cancel_case, CancelCaseInput(actor=ADMIN, reason=reason)
    )


async def test_letter_rejected_twice_then_approved(env, shams_settings, engine, worker) -> None:
    county = add_county(engine)
    case, handle = await start(env, shams_settings, engine)
    answer_by = await today(env) + timedelta(days=14)
    for round in (1, 2):
        draft = await open_task(engine, case.workflow_id, DRAFT_LETTER.key, round)
        if round == 2:
            assert draft.context["comments"] == "مهلت کوتاه است"
        letter = {"text": LETTER, "counties": [county.code], "answer_by": str(answer_by)}
        await decide(env, draft, letter, OFFICE)
        approve = await open_task(engine, case.workflow_id, APPROVE_LETTER.key, round)
        assert approve.context["text"] == LETTER
        comments = "مهلت کوتاه است" if round == 1 else "پیوست را اضافه کنید"
        await decide(env, approve, {"approved": False, "comments": comments}, DIRECTOR)
    await send_letter(env, engine, case, [county], answer_by, round=3)

    collect = await open_task(engine, county_id(case, county), COLLECT_SITES.key)
    with Session(engine) as session:
        waiting = session.get(Case, case.id)
    assert waiting is not None and waiting.current_step == "counties"
    assert collect.scope == county_scope(county.code) and collect.role == Role.county_network
    assert collect.due_at.astimezone(TEHRAN).date() == answer_by + timedelta(days=1)
    await decide(env, collect, {"no_sites": True}, county_actor(county))
    assert await handle.result() == CaseOutcome.done

    returned = [e.text_en for e in timeline(engine, case) if e.step == "letter_returned"]
    assert len(returned) == 2
    assert "round 1" in returned[0] and "مهلت کوتاه است" in returned[0]
    assert "round 2" in returned[1] and "پیوست را اضافه کنید" in returned[1]
    with Session(engine) as session:
        sent = session.exec(select(OutboundMessage).where(OutboundMessage.case_id == case.id)).all()
        row = session.exec(
            select(CountyRun).where(CountyRun.rollout_id == case.tracking_code)
        ).one()
        closed = session.get(Case, case.id)
    assert {m.channel for m in sent} == {"sms", "email"}
    assert row.ended and row.phase == "wait"
    assert closed is not None and closed.status == CaseStatus.closed


async def test_late_county_is_reminded_escalated_and_answers_late(
    env, shams_settings, engine, worker
) -> None:
    county = add_county(engine)
    case, handle = await start(env, shams_settings, engine)
    await send_letter(env, engine, case, [county], await today(env) + timedelta(days=10))
    collect = await open_task(engine, county_id(case, county), COLLECT_SITES.key)

    async def kinds_after(delay: timedelta, wanted: EventKind) -> set[EventKind]:
        await env.sleep(delay)
        found: set[EventKind] = set()
        for _ in range(200):
            found = {e.kind for e in timeline(engine, case) if e.step == COLLECT_SITES.key}
            if wanted in found:
                break
            await asyncio.sleep(0.05)
        return found

    now = await env.get_current_time()
    found = await kinds_after(collect.due_at - now - timedelta(hours=12), EventKind.task_reminded)
    assert EventKind.task_reminded in found and EventKind.task_overdue not in found
    found = await kinds_after(timedelta(hours=13), EventKind.task_overdue)
    assert EventKind.task_overdue in found and EventKind.task_escalated not in found
    found = await kinds_after(timedelta(days=5), EventKind.task_escalated)
    assert EventKind.task_escalated in found

    with Session(engine) as session:
        late = session.get(Task, collect.id)
    assert late is not None and late.overdue
    await decide(env, collect, {"no_sites": True, "note": "با پوزش از تاخیر"}, county_actor(county))
    assert await handle.result() == CaseOutcome.done


async def test_sites_returned_for_correction_and_a_second_round(
    env, shams_settings, engine, worker
) -> None:
    county = add_county(engine)
    first, second, third = add_sites(engine, county, 3)
    case, handle = await start(env, shams_settings, engine)
    await send_letter(env, engine, case, [county], await today(env) + timedelta(days=10))

    carrier_email = f"carrier-{uuid.uuid4().hex[:6]}@tci.example"
    with Session(engine) as session:
        session.add(
            User(
                username=f"carrier-{uuid.uuid4().hex[:6]}",
                password_hash="x",
                roles=[Role.carrier],
                scopes=["*"],
                email=carrier_email,
            )
        )
        session.commit()
    await send_sites(env, engine, case, county, [first, second, "NOT-REGISTERED"])
    check = await open_task(engine, county_id(case, county), CHECK_SITES.key)
    assert check.context["sites"] == [first, second]
    returned = [{"site_code": second, "reason": "مختصات نادرست است"}]
    await decide(env, check, {"returned": returned}, OFFICE)
    correct = await open_task(engine, county_id(case, county), CORRECT_SITES.key)
    reasons = {r["site_code"]: r["reason"] for r in correct.context["returned"]}
    assert reasons[second] == "مختصات نادرست است" and "NOT-REGISTERED" in reasons
    assert site(engine, second).state == SiteState.returned_to_county
    await open_task(engine, site_id(case, county, first), RANGE_SITE.key)
    assert site(engine, first).state == SiteState.sent_to_carrier

    await decide(env, correct, {"site_codes": [second]}, county_actor(county))
    await accept(env, engine, case, county, number=2)
    await open_task(engine, site_id(case, county, second), RANGE_SITE.key)

    # A second round: the county sends a site it found later.
    await send_sites(env, engine, case, county, [third], MORE_SITES.key)
    await accept(env, engine, case, county, number=3)
    await open_task(engine, site_id(case, county, third), RANGE_SITE.key)
    assert site(engine, third).rollout_id == case.tracking_code

    history = [e.note for e in site_history(engine, second)]
    assert "مختصات نادرست است" in history

    # Three sites wait for ranging: the carrier gets one digest every few working days.
    def reminders() -> list[OutboundMessage]:
        with Session(engine) as session:
            sent = session.exec(
                select(OutboundMessage).where(OutboundMessage.recipient == carrier_email)
            )
            return [m for m in sent if m.subject.startswith("یادآوری")]

    await env.sleep(timedelta(days=9))
    await until(lambda: len(reminders()) >= 1, "the carrier was never reminded")
    assert all(m.body.startswith("3 نقطه") for m in reminders())
    assert len(reminders()) <= 3
    await cancel(handle)
    assert await handle.result() == CaseOutcome.cancelled


async def test_not_feasible_then_re_ranged_and_connected(
    env, shams_settings, engine, worker
) -> None:
    county = add_county(engine)
    [code] = add_sites(engine, county, 1)
    case, handle = await start(env, shams_settings, engine)
    await send_letter(env, engine, case, [county], await today(env) + timedelta(days=10))
    await send_sites(env, engine, case, county, [code])
    await accept(env, engine, case, county)
    wid = site_id(case, county, code)

    ranging = await open_task(engine, wid, RANGE_SITE.key)
    assert ranging.role == Role.carrier and ranging.scope == "*"
    await decide(env, ranging, {"feasible": False, "reason": "no_free_port"}, CARRIER)
    choice = await open_task(engine, wid, DECIDE_NOT_FEASIBLE.key)
    assert site(engine, code).state == SiteState.not_feasible
    again_on = await today(env) + timedelta(days=20)
    await decide(env, choice, {"action": "re_range", "re_range_on": str(again_on)}, OFFICE)
    # The carrier is asked again only on that day.
    await env.sleep(timedelta(days=19))
    with Session(engine) as session:
        assert session.get(Task, f"{wid}:{RANGE_SITE.key}:2") is None
    await env.sleep(timedelta(days=2))

    port = free_port()
    with listening(port):
        ranging = await open_task(engine, wid, RANGE_SITE.key, 2)
        report = {"feasible": True, "exchange": "EX-1", "link_type": "fibre"}
        await decide(env, ranging, report, CARRIER)
        install = await open_task(engine, wid, INSTALL_LINE.key)
        await decide(env, install, {}, CARRIER)
        entry = await open_task(engine, wid, ENTER_IN_SHAMS.key)
        shams_entry = {
            "registration_number": "9001",
            "router_host": "127.0.0.1",
            "router_port": port,
        }
        await decide(env, entry, shams_entry, OFFICE)
        result = await env.client.get_workflow_handle(wid).result()
    assert result == SiteOutcome.connected
    found = site(engine, code)
    assert found.state == SiteState.connected and found.link_type == LinkType.fibre
    assert found.router_port == port and found.exchange == "EX-1"
    states = [e.state for e in site_history(engine, code)]
    assert states.count(SiteState.sent_to_carrier) == 2 and SiteState.not_feasible in states
    assert run_of(engine, case, code).outcome == SiteOutcome.connected
    assert run_of(engine, case, code).registration_number == "9001"
    assert await handle.result() == CaseOutcome.done


async def test_probe_fails_for_days_then_connects(env, shams_settings, engine, worker) -> None:
    county = add_county(engine)
    [code] = add_sites(engine, county, 1)
    case, handle = await start(env, shams_settings, engine)
    await send_letter(env, engine, case, [county], await today(env) + timedelta(days=10))
    await send_sites(env, engine, case, county, [code])
    await accept(env, engine, case, county)
    port = free_port()
    await to_shams(env, engine, case, county, code, port)

    await until(lambda: len(failed_windows(engine, code)) == 1, "no failed window")
    await next_window(env, engine, code)
    with listening(port):
        await env.sleep(timedelta(hours=13))
        await until(lambda: site(engine, code).state == SiteState.connected, "not connected")
    result = await env.client.get_workflow_handle(site_id(case, county, code)).result()
    assert result == SiteOutcome.connected
    notes = [e.note or "" for e in site_history(engine, code)]
    assert notes[-1] == "متصل" and "نوبت 3" in notes[-2] and "وصل شد" in notes[-2]
    # One line per attempt window, however many probes each made.
    windows = failed_windows(engine, code)
    assert len(windows) == 2 and all("بار بی‌پاسخ" in n for n in windows)
    with Session(engine) as session:
        repairs = session.get(Task, f"{site_id(case, county, code)}:{REPAIR_LINE.key}:1")
    assert repairs is None
    assert await handle.result() == CaseOutcome.done


async def test_probe_gives_up_and_the_carrier_repairs_the_fault(
    env, shams_settings, engine, worker
) -> None:
    county = add_county(engine)
    [code] = add_sites(engine, county, 1)
    case, handle = await start(env, shams_settings, engine)
    await send_letter(env, engine, case, [county], await today(env) + timedelta(days=10))
    await send_sites(env, engine, case, county, [code])
    await accept(env, engine, case, county)
    port = free_port()
    await to_shams(env, engine, case, county, code, port)
    wid = site_id(case, county, code)

    await until(lambda: len(failed_windows(engine, code)) == 1, "no failed window")
    for _ in range(20):
        if "خرابی" in failed_windows(engine, code)[-1]:
            break
        await next_window(env, engine, code)
    else:
        raise AssertionError("the fault never reached the carrier")
    fault = await open_task(engine, wid, REPAIR_LINE.key)
    assert fault.role == Role.carrier and fault.scope == "exchange:EX-1"
    with listening(port):
        await decide(env, fault, {"note": "کابل تعویض شد"}, CARRIER)
        await until(lambda: site(engine, code).state == SiteState.connected, "not connected")
    assert await env.client.get_workflow_handle(wid).result() == SiteOutcome.connected
    assert await handle.result() == CaseOutcome.done


async def test_cancel_winds_every_open_site_down(env, shams_settings, engine, worker) -> None:
    north, south = add_county(engine), add_county(engine)
    ranged, waiting = add_sites(engine, north, 2)
    case, handle = await start(env, shams_settings, engine)
    await send_letter(env, engine, case, [north, south], await today(env) + timedelta(days=10))
    await send_sites(env, engine, case, north, [ranged, waiting])
    await accept(env, engine, case, north)
    ranging = await open_task(engine, site_id(case, north, ranged), RANGE_SITE.key)
    await decide(env, ranging, {"feasible": True, "exchange": "EX-2", "link_type": "adsl"}, CARRIER)
    await open_task(engine, site_id(case, north, ranged), INSTALL_LINE.key)
    await open_task(engine, site_id(case, north, waiting), RANGE_SITE.key)

    status = await handle.execute_update(
        RolloutWorkflow.cancel_case, CancelCaseInput(actor=ADMIN, reason="تغییر طرح وزارتخانه")
    )
    assert status == CaseStatus.cancelled
    assert await handle.result() == CaseOutcome.cancelled
    ids = [
        county_id(case, north),
        county_id(case, south),
        site_id(case, north, ranged),
        site_id(case, north, waiting),
    ]
    for wid in ids:
        assert await env.client.get_workflow_handle(wid).result() in ("cancelled", "withdrawn")
        described = await env.client.get_workflow_handle(wid).describe()
        assert described.status == WorkflowExecutionStatus.COMPLETED, wid
    for code in (ranged, waiting):
        assert run_of(engine, case, code).outcome == SiteOutcome.withdrawn
        assert "تغییر طرح وزارتخانه" in (site_history(engine, code)[-1].note or "")
    assert site(engine, ranged).state == SiteState.feasible  # where it stood
    with Session(engine) as session:
        still_open = session.exec(
            select(Task).where(Task.case_id == case.id, Task.status == TaskStatus.open)
        ).all()
        counties = session.exec(
            select(CountyRun).where(CountyRun.rollout_id == case.tracking_code)
        ).all()
    assert still_open == []
    assert all(c.ended and c.cancelled for c in counties)


async def test_the_office_cancels_one_site_and_the_rollout_goes_on(
    env, shams_settings, engine, worker
) -> None:
    county = add_county(engine)
    dropped, kept = add_sites(engine, county, 2)
    case, handle = await start(env, shams_settings, engine)
    await send_letter(env, engine, case, [county], await today(env) + timedelta(days=10))
    await send_sites(env, engine, case, county, [dropped, kept])
    await accept(env, engine, case, county)
    dropped_id = site_id(case, county, dropped)
    ranging = await open_task(engine, dropped_id, RANGE_SITE.key)
    await open_task(engine, site_id(case, county, kept), RANGE_SITE.key)
    site_handle = env.client.get_workflow_handle(dropped_id)
    reason = "نقطه در طرح دیگری متصل شد"

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await site_handle.execute_update(
            CaseWorkflow.cancel_case, CancelCaseInput(actor=CARRIER, reason=reason)
        )
    assert isinstance(refused.value.cause, ApplicationError)
    assert refused.value.cause.type == TaskRefusal.not_authorized
    status = await site_handle.execute_update(
        CaseWorkflow.cancel_case, CancelCaseInput(actor=OFFICE, reason=reason)
    )
    assert status == CaseStatus.cancelled
    assert await site_handle.result() == SiteOutcome.withdrawn
    with Session(engine) as session:
        closed = session.get(Task, ranging.id)
        assert closed is not None and closed.status == TaskStatus.cancelled
    last = site_history(engine, dropped)[-1]
    assert last.actor == OFFICE.username and reason in (last.note or "")
    assert run_of(engine, case, dropped).outcome == SiteOutcome.withdrawn
    with pytest.raises(RPCError):  # its workflow has ended: the API answers 409
        await site_handle.execute_update(
            CaseWorkflow.cancel_case, CancelCaseInput(actor=OFFICE, reason=reason)
        )

    # The rest of the rollout goes on: the other site is ranged, its county still waits.
    other = await open_task(engine, site_id(case, county, kept), RANGE_SITE.key)
    await decide(env, other, {"feasible": True, "exchange": "EX-3", "link_type": "adsl"}, CARRIER)
    await open_task(engine, site_id(case, county, kept), INSTALL_LINE.key)
    described = await env.client.get_workflow_handle(county_id(case, county)).describe()
    assert described.status == WorkflowExecutionStatus.RUNNING
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    await cancel(handle)
    assert await handle.result() == CaseOutcome.cancelled


async def test_a_county_continues_as_new_and_keeps_every_site(env, settings, engine) -> None:
    small = settings.model_copy(
        update={"shams_site_batch": 5, "shams_continue_as_new_after_events": 100}
    )
    county = add_county(engine)
    codes = add_sites(engine, county, 60)
    async with build_worker(env.client, small, engine):
        case, handle = await start(env, small, engine)
        await send_letter(env, engine, case, [county], await today(env) + timedelta(days=10))
        await send_sites(env, engine, case, county, codes)
        check = await open_task(engine, county_id(case, county), CHECK_SITES.key)
        await decide(env, check, {"returned": []}, OFFICE)

        def started() -> int:
            with Session(engine) as session:
                return len(
                    session.exec(
                        select(Task).where(Task.case_id == case.id, Task.step == RANGE_SITE.key)
                    ).all()
                )

        await until(lambda: started() == len(codes), "not every site started", tries=1200)
        # The county's next task, opened by a later run, still takes its Update.
        more = await open_task(engine, county_id(case, county), MORE_SITES.key)
        history = await env.client.get_workflow_handle(county_id(case, county)).fetch_history()
        started_by = history.events[0].workflow_execution_started_event_attributes
        assert started_by.continued_execution_run_id, "the county never continued-as-new"
        assert len(history.events) < 250  # the threshold (100) plus one batch and a task
        await decide(env, more, {"no_sites": True}, county_actor(county))
        assert {run_of(engine, case, c).step for c in codes} == {RANGE_SITE.key}
        await cancel(handle)
        assert await handle.result() == CaseOutcome.cancelled
        await until(
            lambda: all(run_of(engine, case, c).outcome == SiteOutcome.withdrawn for c in codes),
            "not every site wound down",
        )
        # Sixty sites told one by one outgrow the bound: the wind-down itself continued as new
        # (its last run started cancelled, with the sites told so far), and told each site once.
        county_handle = env.client.get_workflow_handle(county_id(case, county))
        await county_handle.result()
        history = await county_handle.fetch_history()
        started_as = history.events[0].workflow_execution_started_event_attributes
        [resumed] = await env.client.data_converter.decode(started_as.input.payloads, [CountyStart])
        assert resumed.cancel is not None and resumed.told_until is not None
        assert len(history.events) < 250
