"""A SHAMS rollout while the worker dies (kill -9) again and again: during the counties'
fan-out of site workflows and during the carrier's reports to every site.

Two counties send 30 sites each; the IT office accepts them, each county's workflow starts its
sites in batches of 7; the carrier ranges every site (each report an Update to its own site, as
the bulk report sends them), half feasible, half not; the office closes the not feasible ones,
the carrier installs the others' lines, the office enters them in SHAMS with a router that
answers (a local listener), and the connection check connects them. Meanwhile the worker is
killed 10 times. At the end: every site ended exactly once in the read model, as scripted; no
site workflow ran twice; no task was asked twice; each site's history has each change once.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.client import (
    Client,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from api.temporal import start_case_workflow
from db.case_store import open_case
from db.models import Task
from db.shams import County, Site, SiteEvent, county_scope
from db.shams_progress import SiteRun
from domain.calendar import TEHRAN
from domain.cases import ALL_SCOPES, Role, TaskStatus
from domain.shams import LinkType, SiteKind, SiteState
from domain.shams_process import RolloutForm, SiteOutcome
from domain.tasks import Actor, CompleteTaskInput, TaskRefusal, workflow_of_task
from processes.shams import SHAMS
from settings import Settings
from supervise import WORKER_READY, Child, child_env, worker_argv
from tests.conftest import start_dev_server
from workflows.human_task import CaseWorkflow

COUNTIES = 2
SITES_PER_COUNTY = 30
KILLS = 10
UP_SECONDS = (0.5, 2.0)
SETTLE_SECONDS = 300

OFFICE = Actor(username="office", roles=[Role.it_office], scopes=[ALL_SCOPES])
DIRECTOR = Actor(username="director", roles=[Role.it_director], scopes=[ALL_SCOPES])
CARRIER = Actor(username="carrier", roles=[Role.carrier], scopes=[ALL_SCOPES])


@pytest.fixture(scope="module")
def crash_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"temporal_task_queue": "peygir-reliability-shams"})


@pytest.fixture(scope="module")
async def temporal(
    crash_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[WorkflowEnvironment]:
    db = tmp_path_factory.mktemp("temporal-shams-crash") / "temporal.db"
    env = await start_dev_server(crash_settings, db, dev_server_log_level="error")
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
def worker(
    crash_settings: Settings, temporal: WorkflowEnvironment, tmp_path: Path
) -> Iterator[Child]:
    """`python worker.py` configured by its environment, with a rollout's rhythm made quick: a
    batch of 7 sites, progress read every minute, a short connection check."""
    settings = crash_settings.model_copy(
        update={"temporal_address": temporal.client.service_client.config.target_host}
    )
    child = Child(
        "worker",
        worker_argv(),
        env=child_env(
            settings,
            SHAMS_SITE_BATCH="7",
            SHAMS_PROGRESS_CHECK_MINUTES="1",
            SHAMS_PROBE_WINDOW_SECONDS="20",
            SHAMS_PROBE_FIRST_RETRY_SECONDS="0.5",
            SHAMS_PROBE_MAX_RETRY_SECONDS="2",
        ),
        cwd=tmp_path,
        log=tmp_path / "worker.log",
    )
    try:
        yield child
    finally:
        child.stop()


def register(engine: Engine) -> dict[str, list[str]]:
    """The counties and their sites in the register: county code → site codes."""
    tag = uuid.uuid4().hex[:6]
    sites: dict[str, list[str]] = {}
    with Session(engine) as session:
        for c in range(COUNTIES):
            code = f"K{tag}{c}"
            session.add(County(code=code, name=f"شبکه بهداشت {code}", mobile="09121234567"))
            sites[code] = [f"S{tag}{c}x{i:02d}" for i in range(SITES_PER_COUNTY)]
        session.commit()
        for county, codes in sites.items():
            for code in codes:
                session.add(
                    Site(
                        county_code=county,
                        site_code=code,
                        name=f"خانه بهداشت {code}",
                        kind=SiteKind.health_house,
                        address="روستای نمونه",
                        latitude=32.6,
                        longitude=51.7,
                        link_type=LinkType.adsl,
                    )
                )
        session.commit()
    return sites


@dataclass
class Rollout:
    """Who answers each task of the rollout, and what; every answer an Update to the workflow
    that asked the task, sent again (same update id) while no worker is up."""

    client: Client
    engine: Engine
    case_id: int
    sites: dict[str, list[str]]
    router_port: int
    feasible: set[str] = field(default_factory=set)
    accepted: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    _inflight: set[str] = field(default_factory=set)
    _quiet: dict[str, float] = field(default_factory=dict)
    _refusals: Counter[str] = field(default_factory=Counter)

    def answer(self, step: str, scope: str | None, task_id: str) -> tuple[Actor, dict[str, Any]]:
        site = workflow_of_task(task_id).rsplit("-", 1)[1]
        today = datetime.now(TEHRAN).date()
        match step:
            case "draft_letter":
                answer_by = today + timedelta(days=20)
                # Named: by default a letter goes to every county in the register.
                return OFFICE, {
                    "text": "نقاط خود را اعلام کنید.",
                    "counties": list(self.sites),
                    "answer_by": str(answer_by),
                }
            case "approve_letter":
                return DIRECTOR, {"approved": True}
            case "collect_sites":
                county = (scope or "").removeprefix("county:")
                actor = Actor(
                    username=f"county-{county}",
                    roles=[Role.county_network],
                    scopes=[county_scope(county)],
                )
                return actor, {"site_codes": self.sites[county]}
            case "more_sites":
                county = (scope or "").removeprefix("county:")
                actor = Actor(
                    username=f"county-{county}",
                    roles=[Role.county_network],
                    scopes=[county_scope(county)],
                )
                return actor, {"no_sites": True}
            case "check_sites":
                return OFFICE, {"returned": []}
            case "range_site" if site in self.feasible:
                return CARRIER, {"feasible": True, "exchange": "مرکز امام", "link_type": "adsl"}
            case "range_site":
                return CARRIER, {"feasible": False, "reason": "no_free_port"}
            case "decide_not_feasible":
                return OFFICE, {"action": "close"}
            case "install_line":
                return CARRIER, {"circuit_id": f"C-{site}"}
            case "enter_in_shams":
                return OFFICE, {
                    "registration_number": f"R-{site[-6:]}",
                    "router_host": "127.0.0.1",
                    "router_port": self.router_port,
                }
        raise AssertionError(f"no answer for step {step!r}")

    def _open_tasks(self) -> list[tuple[str, str, str | None]]:
        with Session(self.engine) as session:
            rows = session.exec(
                select(Task.id, Task.step, Task.scope).where(
                    Task.status == TaskStatus.open, Task.case_id == self.case_id
                )
            ).all()
        return [(r[0], r[1], r[2]) for r in rows]

    async def run(self, stop: asyncio.Event) -> None:
        gate = asyncio.Semaphore(24)
        attempts: set[asyncio.Task[None]] = set()
        while not stop.is_set():
            now = time.monotonic()
            for task_id, step, scope in await asyncio.to_thread(self._open_tasks):
                if task_id in self._inflight or self._quiet.get(task_id, 0) > now:
                    continue
                self._inflight.add(task_id)
                attempt = asyncio.create_task(self._decide(gate, task_id, step, scope))
                attempts.add(attempt)
                attempt.add_done_callback(attempts.discard)
            await asyncio.sleep(0.3)
        for attempt in attempts:
            attempt.cancel()
        await asyncio.gather(*attempts, return_exceptions=True)

    async def _decide(
        self, gate: asyncio.Semaphore, task_id: str, step: str, scope: str | None
    ) -> None:
        quiet = 1.0
        try:
            actor, decision = self.answer(step, scope, task_id)
            handle = self.client.get_workflow_handle(workflow_of_task(task_id))
            async with gate:
                await asyncio.wait_for(
                    handle.execute_update(
                        CaseWorkflow.complete_task,
                        CompleteTaskInput(task_id=task_id, actor=actor, decision=decision),
                        id=f"script:{task_id}:{self._refusals[task_id]}",
                    ),
                    timeout=15,
                )
            self.accepted.add(task_id)
            quiet = 5.0
        except WorkflowUpdateFailedError as error:
            cause = error.cause
            if isinstance(cause, ApplicationError) and cause.type == TaskRefusal.not_open:
                self._refusals[task_id] += 1
                quiet = 3.0
            else:
                self.errors.append(f"{task_id}: refused: {cause!r}")
        except (TimeoutError, RPCError, WorkflowUpdateRPCTimeoutOrCancelledError):
            pass  # no worker (or server) up: send it again
        finally:
            self._quiet[task_id] = time.monotonic() + quiet
            self._inflight.discard(task_id)


def _runs(engine: Engine, rollout_id: str) -> list[SiteRun]:
    with Session(engine) as session:
        return list(session.exec(select(SiteRun).where(SiteRun.rollout_id == rollout_id)))


async def test_kill9_worker_during_fan_out_and_carrier_reports(
    temporal: WorkflowEnvironment, worker: Child, crash_settings: Settings, engine: Engine
) -> None:
    client = temporal.client
    rng = random.Random()
    sites = register(engine)
    every_site = [code for codes in sites.values() for code in codes]
    feasible = set(rng.sample(every_site, len(every_site) // 2))

    async def answer_probe(_r: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    router = await asyncio.start_server(answer_probe, "127.0.0.1", 0)
    port = router.sockets[0].getsockname()[1]
    worker.start()
    await worker.wait_log(WORKER_READY, 1, timeout=60)
    form = RolloutForm(title="اتصال نقاط، آزمون از کار افتادن")
    with Session(engine, expire_on_commit=False) as session:
        case = open_case(
            session,
            SHAMS,
            form,
            idempotency_key=None,
            answer_due_at=datetime.now(UTC) + timedelta(days=60),
            started_by=OFFICE.username,
        )
        session.commit()
    assert case.id is not None
    await start_case_workflow(client, crash_settings.temporal_task_queue, SHAMS, case, form)
    script = Rollout(client, engine, case.id, sites, port, feasible=feasible)
    stop = asyncio.Event()
    driver = asyncio.create_task(script.run(stop))
    rollout_id = case.tracking_code

    def ended() -> int:
        return sum(run.ended for run in _runs(engine, rollout_id))

    try:
        for kill in range(1, KILLS + 1):
            await worker.wait_log(WORKER_READY, kill, timeout=60)
            # The first half of the kills while sites are being started (the fan-out), the
            # rest while the carrier's reports and the later steps reach them.
            target = (kill - 1) * len(every_site) // KILLS
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                started = await asyncio.to_thread(_runs, engine, rollout_id)
                if len(started) + ended() >= target:
                    break
                await asyncio.sleep(0.3)
            await asyncio.sleep(rng.uniform(*UP_SECONDS))
            worker.kill9()
            worker.start()
        await worker.wait_log(WORKER_READY, KILLS + 1, timeout=60)
        deadline = time.monotonic() + SETTLE_SECONDS
        while time.monotonic() < deadline and await asyncio.to_thread(ended) < len(every_site):
            await asyncio.sleep(1)
    finally:
        stop.set()
        await driver
        router.close()
        worker.stop()

    assert script.errors == []
    runs = _runs(engine, rollout_id)
    assert sorted(r.site_code for r in runs) == sorted(every_site), "each site ran once"
    outcomes = {r.site_code: r.outcome for r in runs}
    assert all(r.ended for r in runs), worker.tail(20)
    assert outcomes == {
        code: SiteOutcome.connected if code in feasible else SiteOutcome.closed_not_feasible
        for code in every_site
    }
    with Session(engine) as session:
        states = dict(
            session.exec(
                select(Site.site_code, Site.state).where(col(Site.site_code).in_(every_site))
            ).all()
        )
        connected_lines = Counter(
            session.exec(
                select(SiteEvent.site_id)
                .join(Site, col(Site.id) == col(SiteEvent.site_id))
                .where(
                    col(SiteEvent.state) == SiteState.connected,
                    col(Site.site_code).in_(every_site),
                )
            ).all()
        )
        tasks = session.exec(select(Task.id, Task.status).where(Task.case_id == case.id)).all()
    assert states == {
        code: SiteState.connected if code in feasible else SiteState.closed_not_feasible
        for code in every_site
    }
    assert sorted(connected_lines.values()) == [1] * len(feasible), "each connection once"
    # Task ids are `{workflow}:{step}:{n}`: a task asked twice would show as n = 2.
    asked = Counter(task_id.rsplit(":", 1)[0] for task_id, _ in tasks)
    assert [k for k, n in asked.items() if n > 1] == []
    assert [t for t, status in tasks if status == TaskStatus.open] == []
    listed = [
        w.id
        async for w in client.list_workflows(
            f"WorkflowType = 'SiteWorkflow' AND RolloutId = '{rollout_id}'"
        )
    ]
    site_workflows = Counter(listed)
    assert sorted(site_workflows) == sorted(
        f"{SHAMS.workflow_id_prefix}-{rollout_id}-{county}-{code}"
        for county, codes in sites.items()
        for code in codes
    )
    assert set(site_workflows.values()) == {1}, "a site workflow started twice"
    print(
        f"\n{len(every_site)} sites, {worker.kills} kills; decisions taken: {len(script.accepted)}"
    )
