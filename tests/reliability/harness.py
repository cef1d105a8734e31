"""Shared tools of the reliability tests: cases in bulk, a scripted expert, checks.

The e-mail cases live here; other processes' cases (repair_cases.py) plug into the same expert
through a `Script` per case, and into the same waits.

The child processes (worker, API, dev server) are run by the shared supervisor (supervise.py).
Every wait here is bounded in time and fails with a message that says what was still missing.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    Client,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from api.temporal import start_case_workflow
from db.case_store import open_case
from db.models import (
    Case,
    CaseEvent,
    DirectoryMailbox,
    MailAccount,
    OutboundMessage,
    Person,
    Task,
)
from domain.cases import CaseStatus, EventKind, Role, TaskStatus
from domain.email_account import EmailRequestForm
from domain.tasks import Actor, CompleteTaskInput, TaskRefusal
from processes.declaration import Process
from processes.email_account import EMAIL_ACCOUNT
from settings import Settings
from supervise import Child, child_env, worker_argv
from tests.factories import national_code
from workflows.human_task import CaseWorkflow

EXPERT = Actor(username="reliability_expert", roles=[Role.email_admin], scopes=["*"])

EXPECTED_EVENTS = Counter(
    {
        EventKind.submitted: 1,
        EventKind.stage: 4,  # review_form, verify_identity (registry match), create_mailbox, answer
        EventKind.task_opened: 1,
        EventKind.task_completed: 1,
        EventKind.closed: 1,
    }
)
"""Timeline of a case whose person is in the registry and whose username is free."""


def worker_child(settings: Settings, temporal_address: str, workdir: Path) -> Child:
    """`python worker.py` as the product runs it, configured by the environment only.

    It runs in `workdir`: no .env nor var/secrets.env of the developer there.
    """
    settings = settings.model_copy(update={"temporal_address": temporal_address})
    return Child(
        "worker", worker_argv(), env=child_env(settings), cwd=workdir, log=workdir / "worker.log"
    )


# --- cases ------------------------------------------------------------------------------------


class Script(Protocol):
    """Who decides a case's tasks in a reliability test, and what they answer."""

    def decide(
        self, step: str, number: int, form_schema: dict[str, Any]
    ) -> tuple[Actor, dict[str, Any]]:
        """The actor and decision for the `number`-th task of `step` (1 for the first)."""
        ...


@dataclass(frozen=True)
class StartedCase:
    case_id: int
    tracking_code: str
    workflow_id: str
    form: BaseModel
    row: Case
    """The case as committed (detached), handed to the API's own start function."""
    process: Process[Any]
    script: Script


def registered_form(tag: str, index: int, rng: random.Random) -> dict[str, Any]:
    """A valid form of a person in the registry, with a username nobody else uses."""
    return {
        "first_name": "مریم",
        "last_name": "احمدی",
        "national_code": national_code(rng.randrange(10**12)),
        "mobile": f"0935{rng.randrange(10**7):07d}",
        "affiliation": "staff",
        "member_id": f"7{rng.randrange(10**6):06d}{index:04d}",
        "unit": "معاونت فناوری اطلاعات",
        "requested_username": f"{tag}n{index}",
        "personal_email": f"{tag}n{index}@example.com",
    }


def open_registered_cases(engine: Engine, count: int, rng: random.Random) -> list[StartedCase]:
    """`count` cases opened as the API opens them, each person in the registry."""
    tag = "r" + uuid.UUID(int=rng.getrandbits(128)).hex[:8]
    cases: list[StartedCase] = []
    with Session(engine, expire_on_commit=False) as session:
        for index in range(count):
            data = registered_form(tag, index, rng)
            form = EmailRequestForm.model_validate(data)
            session.add(
                Person(
                    national_code=form.national_code,
                    member_id=form.member_id,
                    first_name=form.first_name,
                    last_name=form.last_name,
                    affiliation=form.affiliation,
                    unit=form.unit,
                )
            )
            case = open_case(
                session,
                EMAIL_ACCOUNT,
                form,
                idempotency_key=None,
                answer_due_at=datetime.now(UTC) + timedelta(days=7),
            )
            assert case.id is not None
            cases.append(
                StartedCase(
                    case.id,
                    case.tracking_code,
                    case.workflow_id,
                    form,
                    case,
                    EMAIL_ACCOUNT,
                    EMAIL_ADMIN,
                )
            )
        session.commit()
    return cases


async def start_workflows(
    client: Client, settings: Settings, cases: Sequence[StartedCase], concurrency: int = 16
) -> None:
    """Start each case's workflow exactly as the API does (id, search attributes, summary)."""
    gate = asyncio.Semaphore(concurrency)

    async def one(case: StartedCase) -> None:
        async with gate:
            await start_case_workflow(
                client, settings.temporal_task_queue, case.process, case.row, case.form
            )

    await asyncio.wait_for(
        asyncio.gather(*(one(c) for c in cases)),
        timeout=120,
    )


# --- the scripted expert ----------------------------------------------------------------------


class EmailAdmin:
    """What a careful e-mail admin answers at each step: accept, and take the first proposal."""

    def decide(
        self, step: str, number: int, form_schema: dict[str, Any]
    ) -> tuple[Actor, dict[str, Any]]:
        if step == "review_form":
            return EXPERT, {"form_complete": True}
        if step == "verify_identity":
            return EXPERT, {"identity_confirmed": True}
        if step == "choose_username":
            return EXPERT, {"username": form_schema["properties"]["username"]["enum"][0]}
        raise AssertionError(f"the e-mail admin does not know step {step!r}")


EMAIL_ADMIN = EmailAdmin()


@dataclass
class Expert:
    """Completes every open task of its cases through the `complete_task` Update, each as its
    case's `Script` says (any process: the Update is the shared human-task engine's).

    An Update sent while no worker (or no server) is up is retried with the same update id until
    it is accepted; after a refusal because the task is not open, the expert waits and, if the
    database still shows the task open (the workflow may not have caught up after a crash, or the
    close is on its way), sends it again under a new update id.
    """

    client: Client
    engine: Engine
    cases: Sequence[StartedCase]
    attempt_timeout: float = 15.0
    concurrency: int = 24
    accepted: set[str] = field(default_factory=set)
    not_open: int = 0
    retries: int = 0
    listing_failures: int = 0
    errors: list[str] = field(default_factory=list)
    _inflight: set[str] = field(default_factory=set)
    _quiet_until: dict[str, float] = field(default_factory=dict)
    _refusals: Counter[str] = field(default_factory=Counter)
    """Refused sends per task: a send after a refusal gets a new update id, so the server cannot
    take it for the refused one."""

    def __post_init__(self) -> None:
        self._case_of = {c.case_id: c for c in self.cases}
        self._stop = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._attempts: set[asyncio.Task[None]] = set()
        self._gate = asyncio.Semaphore(self.concurrency)

    def _open_tasks(self) -> list[tuple[str, int, str, dict[str, Any]]]:
        with Session(self.engine) as session:
            rows = session.exec(
                select(Task.id, Task.case_id, Task.step, Task.form_schema).where(
                    Task.status == TaskStatus.open,
                    col(Task.case_id).in_(list(self._case_of)),
                )
            ).all()
        return [tuple(r) for r in rows]  # type: ignore[misc]

    def start(self) -> None:
        self._runner = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self._stop.set()
        tasks = [t for t in (self._runner, *self._attempts) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                rows = await asyncio.to_thread(self._open_tasks)
            except Exception:  # a busy database: look again shortly
                self.listing_failures += 1
                rows = []
            now = time.monotonic()
            for task_id, case_id, step, schema in rows:
                if task_id in self._inflight or self._quiet_until.get(task_id, 0) > now:
                    continue
                self._inflight.add(task_id)
                attempt = asyncio.create_task(self._complete(task_id, case_id, step, schema))
                self._attempts.add(attempt)
                attempt.add_done_callback(self._attempts.discard)
            await asyncio.sleep(0.2)

    async def _complete(
        self, task_id: str, case_id: int, step: str, schema: dict[str, Any]
    ) -> None:
        case = self._case_of[case_id]
        handle = self.client.get_workflow_handle(case.workflow_id)
        quiet = 1.0
        try:
            # Task ids end with the step's number in the case (a step may be asked again).
            number = int(task_id.rpartition(":")[2])
            actor, decision = case.script.decide(step, number, schema)
            request = CompleteTaskInput(task_id=task_id, actor=actor, decision=decision)
            async with self._gate:
                await asyncio.wait_for(
                    handle.execute_update(
                        CaseWorkflow.complete_task,
                        request,
                        id=f"expert:{task_id}:{self._refusals[task_id]}",
                    ),
                    timeout=self.attempt_timeout,
                )
            self.accepted.add(task_id)
            quiet = 5.0
        except WorkflowUpdateFailedError as error:
            cause = error.cause
            if isinstance(cause, ApplicationError) and cause.type == TaskRefusal.not_open:
                self.not_open += 1
                self._refusals[task_id] += 1
                quiet = 3.0
            else:
                self.errors.append(f"{task_id}: refused: {cause!r}")
        except (TimeoutError, RPCError, WorkflowUpdateRPCTimeoutOrCancelledError):
            self.retries += 1  # worker or server down: send it again
        except Exception as error:
            self.errors.append(f"{task_id}: {error!r}")
        finally:
            self._quiet_until[task_id] = time.monotonic() + quiet
            self._inflight.discard(task_id)


# --- waiting and checking ---------------------------------------------------------------------


def case_steps(engine: Engine, case_ids: Iterable[int]) -> dict[int, tuple[str, str | None]]:
    with Session(engine) as session:
        rows = session.exec(
            select(Case.id, Case.status, Case.current_step).where(col(Case.id).in_(list(case_ids)))
        ).all()
    return {r[0]: (str(r[1]), r[2]) for r in rows}  # type: ignore[misc]


def after_review(engine: Engine, case_ids: Sequence[int]) -> tuple[int, int]:
    """Open cases past their review: (no mailbox yet, mailbox made but not closed).

    After the decision a case checks, makes its mailbox and sends its answer in one workflow
    task; these counts show a kill that caught cases in that stretch.
    """
    ids = list(case_ids)
    with Session(engine) as session:
        reviewed = set(
            session.exec(
                select(Task.case_id)
                .join(Case, col(Case.id) == col(Task.case_id))
                .where(
                    col(Task.case_id).in_(ids),
                    Task.step == "review_form",
                    Task.status == TaskStatus.done,
                    Case.status == CaseStatus.open,
                )
            ).all()
        )
        with_mailbox = set(
            session.exec(
                select(MailAccount.case_id).where(col(MailAccount.case_id).in_(list(reviewed)))
            ).all()
        )
    return len(reviewed - with_mailbox), len(with_mailbox)


def progress(engine: Engine, case_ids: Sequence[int]) -> int:
    """Writes made so far for these cases: timeline events, answers and mailboxes."""
    ids = list(case_ids)
    with Session(engine) as session:
        return sum(
            session.exec(select(func.count()).where(col(column).in_(ids))).one()
            for column in (CaseEvent.case_id, OutboundMessage.case_id, MailAccount.case_id)
        )


PROGRESS_PER_CASE = EXPECTED_EVENTS.total() + 2 + 1
"""`progress` of a finished case: its timeline, its two answers, its mailbox."""


async def wait_all_closed(
    engine: Engine,
    cases: Sequence[StartedCase],
    timeout: float,
    *,
    diagnostics: Callable[[], str] = lambda: "",
    client: Client | None = None,
) -> None:
    """Wait until every case is closed in the system of record (polls, bounded).

    With `client`, a failure also tells the last events of a few of the waiting cases' histories.
    """
    ids = [c.case_id for c in cases]
    deadline = time.monotonic() + timeout
    while True:
        steps = await asyncio.to_thread(case_steps, engine, ids)
        waiting = {i: s for i, s in steps.items() if s[0] == CaseStatus.open}
        if not waiting:
            return
        if time.monotonic() > deadline:
            where = Counter(step for _, step in waiting.values())
            stories = ""
            if client is not None:
                workflow_of = {c.case_id: c.workflow_id for c in cases}
                for case_id in list(waiting)[:3]:
                    stories += await history_tail(client, workflow_of[case_id])
            raise AssertionError(
                f"{len(waiting)} of {len(ids)} cases still open after {timeout:.0f}s; "
                f"their steps: {dict(where)}\n{diagnostics()}{stories}"
            )
        await asyncio.sleep(1.0)


async def history_tail(client: Client, workflow_id: str, events: int = 25) -> str:
    """The last events of a workflow's history, one line each, for a failure message."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    lines = [f"\n--- {workflow_id}: {len(history.events)} events, the last {events}:"]
    for event in history.events[-events:]:
        kind = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")
        attributes = event.WhichOneof("attributes")
        detail = str(getattr(event, attributes)) if attributes else ""
        lines.append(f"{event.event_id} {kind} {' '.join(detail.split())[:300]}")
    return "\n".join(lines)


async def workflow_results(
    client: Client, cases: Sequence[StartedCase], timeout: float = 60
) -> Counter[str]:
    """Each case's workflow result, counted (every one must have finished by now)."""
    gate = asyncio.Semaphore(32)

    async def one(case: StartedCase) -> str:
        async with gate:
            handle = client.get_workflow_handle(case.workflow_id, result_type=str)
            return await handle.result()

    try:
        results = await asyncio.wait_for(asyncio.gather(*(one(c) for c in cases)), timeout=timeout)
    except TimeoutError:
        raise AssertionError(f"workflow results not all available within {timeout:.0f}s") from None
    return Counter(results)


async def retried_activities(client: Client, cases: Sequence[StartedCase]) -> Counter[str]:
    """Activities that ran more than once (a later attempt completed them), by activity type."""
    gate = asyncio.Semaphore(16)

    async def one(case: StartedCase) -> Counter[str]:
        async with gate:
            history = await client.get_workflow_handle(case.workflow_id).fetch_history()
        kinds: dict[int, str] = {}
        retried: Counter[str] = Counter()
        for event in history.events:
            if event.HasField("activity_task_scheduled_event_attributes"):
                attrs = event.activity_task_scheduled_event_attributes
                kinds[event.event_id] = attrs.activity_type.name
            elif event.HasField("activity_task_started_event_attributes"):
                started = event.activity_task_started_event_attributes
                if started.attempt > 1:
                    retried[kinds[started.scheduled_event_id]] += 1
        return retried

    counts = await asyncio.wait_for(asyncio.gather(*(one(c) for c in cases)), timeout=120)
    return sum(counts, Counter())


def _grouped(session: Session, column: Any, key: Any, ids: list[int]) -> Counter[Any]:
    rows = session.exec(
        select(column, key, func.count()).where(col(column).in_(ids)).group_by(column, key)
    ).all()
    return Counter({(r[0], r[1]): r[2] for r in rows})


def assert_each_effect_once(engine: Engine, cases: Sequence[StartedCase]) -> None:
    """One mailbox, one task row per step, one answer per channel, no repeated timeline event."""
    ids = [c.case_id for c in cases]
    codes = {c.tracking_code: c.case_id for c in cases}
    problems: list[str] = []
    with Session(engine) as session:
        accounts = Counter(
            session.exec(select(MailAccount.case_id).where(col(MailAccount.case_id).in_(ids))).all()
        )
        mailboxes = Counter(
            codes[owner]
            for owner in session.exec(
                select(DirectoryMailbox.owner_ref).where(
                    col(DirectoryMailbox.owner_ref).in_(list(codes))
                )
            ).all()
        )
        tasks = _grouped(session, Task.case_id, Task.step, ids)
        messages = _grouped(session, OutboundMessage.case_id, OutboundMessage.channel, ids)
        events = _grouped(session, CaseEvent.case_id, CaseEvent.kind, ids)
        outcomes = Counter(session.exec(select(Case.outcome).where(col(Case.id).in_(ids))).all())
    for case_id in ids:
        if accounts[case_id] != 1:
            problems.append(f"case {case_id}: {accounts[case_id]} MailAccount rows")
        if mailboxes[case_id] != 1:
            problems.append(f"case {case_id}: {mailboxes[case_id]} DirectoryMailbox rows")
        steps = {step: n for (cid, step), n in tasks.items() if cid == case_id}
        if steps != {"review_form": 1}:
            problems.append(f"case {case_id}: task rows per step {steps}")
        channels = {ch: n for (cid, ch), n in messages.items() if cid == case_id}
        if channels != {"sms": 1, "email": 1}:
            problems.append(f"case {case_id}: answers per channel {channels}")
        kinds = Counter({EventKind(k): n for (cid, k), n in events.items() if cid == case_id})
        if kinds != EXPECTED_EVENTS:
            problems.append(f"case {case_id}: timeline events per kind {dict(kinds)}")
    if outcomes != Counter({"done": len(ids)}):
        problems.append(f"outcomes in the database: {dict(outcomes)}")
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:40])


async def patiently(call: Callable[[], Awaitable[object]]) -> None:
    """An Update or a signal, tried again while the worker is down or restarting."""
    for _ in range(120):
        try:
            await asyncio.wait_for(call(), timeout=15)
            return
        except WorkflowUpdateFailedError as failed:
            # An attempt cut off by a kill went through after all: its task is closed.
            if isinstance(failed.cause, ApplicationError) and (
                failed.cause.type == TaskRefusal.not_open
            ):
                return
            raise
        except (WorkflowUpdateRPCTimeoutOrCancelledError, RPCError, TimeoutError):
            await asyncio.sleep(0.5)
    raise AssertionError("the workflow never answered")
