"""The human-task engine: every human step of every process goes through `CaseWorkflow.ask`.

A step declares its role, decision model and SLA. Asking writes a task row (activity), which also
fixes its due date by the university calendar, and notifies; the workflow then waits for the
`complete_task` Update, whose validator refuses a closed task, an actor without the role or scope,
or a decision the model rejects, so the caller learns at once why. When the SLA (in working days
of the Jalali calendar) passes, the task is marked overdue and the
supervising role is told; the case keeps waiting.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Generic, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError, CancelledError, FailureError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from activities.case_records import CaseRecordActivities
    from domain.cases import CaseStatus, Role
    from domain.records import (
        CaseClosing,
        CaseStage,
        CaseWrite,
        StagesEntered,
        TaskClosing,
        TaskDeadline,
        TaskOpened,
        TaskOpening,
        TaskOverdue,
        TaskReassignment,
    )
    from domain.tasks import (
        Actor,
        CancelCaseInput,
        CaseLive,
        CompleteTaskInput,
        Decision,
        FieldError,
        OpenTaskView,
        ReassignTaskInput,
        TaskCompletion,
        TaskRefusal,
        task_id_of,
    )
    from workflows.search_attributes import CURRENT_STEP, PROCESS_KIND

D = TypeVar("D", bound=Decision)

RECORD_TIMEOUT = timedelta(seconds=30)
RECORD_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1)
)
SERIAL_REASSIGN = "reassign-one-at-a-time"
"""Patch: reassignments run one after another (histories before it ran them interleaved)."""
HANDLERS_BEFORE_END = "finish-after-handlers"
"""Patch: the case ends only once its Update handlers have finished."""
CLOSE_WITH_NEXT_WRITE = "close-task-with-next-write"
"""Patch: a decided task is closed by the case's next write, in one activity (histories
before it closed it in an activity of its own)."""


@dataclass(frozen=True)
class Step(Generic[D]):
    """A human step of a process, declared once next to its workflow."""

    key: str
    title_fa: str
    title_en: str
    role: Role
    decision: type[D]
    sla_working_days: int
    escalate_to: Role = Role.it_supervisor
    remind_working_days_before: int | None = None
    """Remind the task's role this many working days before it is due; None: no reminder."""
    escalate_after_working_days: int | None = None
    """Past the due date, mark the task late at once and tell `escalate_to` only this many
    working days later (an outside party's promise); None: tell it at the due date."""
    expires: bool = False
    """No answer is required: at the due date the task closes unanswered and
    `CaseWorkflow.ask_or_expire` returns None (e.g. a requester's confirmation)."""
    notify: bool = True
    """E-mail the role's holders when a task opens (and its reminders and escalations); False
    for a step asked of thousands of sites at once: the process sends its own digest, the
    cartable lists them, and a late one is still marked late."""
    on_case_timeline: bool = True
    """Its task's opening and closing are lines of the case's timeline; False where the step
    belongs to a part with a history of its own (a SHAMS site's, under its rollout's case)."""


@dataclass
class _OpenTask:
    task_id: str
    step: Step[Any]
    scope: str | None
    due_at: datetime
    options: dict[str, list[str]]
    assignee: str | None = None
    overdue: bool = False
    decision: Decision | None = None
    completed_by: str | None = None
    closed: bool = False
    reassignments: int = 0


@dataclass
class _Progress:
    """Where the case stands, kept by the base class for queries and search attributes."""

    status: CaseStatus = CaseStatus.open
    step_key: str | None = None
    step_title: str | None = None
    cancel: CancelCaseInput | None = None
    task_numbers: dict[str, int] = field(default_factory=dict)


class CaseCancelled(Exception):
    """Raised inside `ask` when an admin cancelled the case; the process workflow winds down."""

    def __init__(self, request: CancelCaseInput) -> None:
        super().__init__(request.reason)
        self.request = request


_SCHEMAS: dict[type[Decision], str] = {}
"""Each decision model's JSON schema, generated once (pydantic's generation costs more than the
rest of opening a task); JSON text, so that every task gets a copy of its own."""


def _decision_schema(decision: type[Decision]) -> str:
    text = _SCHEMAS.get(decision)
    if text is None:
        text = _SCHEMAS[decision] = json.dumps(decision.model_json_schema())
    return text


def form_schema(
    step: Step[Any], options: dict[str, list[str]], prefill: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The decision form's JSON schema, with per-task choices (e.g. free usernames) as enums
    and per-task values the form starts from (what the case already knows) as defaults."""
    schema: dict[str, Any] = json.loads(_decision_schema(step.decision))
    for name, choices in options.items():
        schema["properties"][name]["enum"] = list(choices)
    for name, value in (prefill or {}).items():
        schema["properties"][name]["default"] = value
    return schema


def _field_errors(error: ValidationError) -> list[dict[str, str]]:
    return [
        FieldError(
            field=".".join(str(p) for p in e["loc"]) or "decision", reason=e["msg"], kind=e["type"]
        ).model_dump()
        for e in error.errors(include_url=False)
    ]


class CaseWorkflow:
    """Base of every process workflow: the cartable handlers, cancel, and the live query."""

    cancelled_by: frozenset[Role] = frozenset({Role.admin})
    """Who may stop this workflow with `cancel_case` (a part of a case may allow its owner)."""

    def __init__(self) -> None:
        self._tasks: dict[str, _OpenTask] = {}
        self._progress = _Progress()
        self._case_id = 0
        self._tracking_code = ""
        self._stages: list[CaseStage] = []
        self._updates_accepted = 0
        self._updates_saved = 0
        self._closing: tuple[_OpenTask, TaskClosing] | None = None
        """The task decided last, closed in the read model by the case's next write."""
        # Held by a reassignment while its write runs: interleaved at that await, a later
        # reassignment could reach the database first and leave it naming another assignee.
        # complete_task and cancel_case need none: they change state before their one await,
        # which only waits for `run`.
        self._reassigning = asyncio.Lock()

    def begin_case(self, case_id: int, tracking_code: str) -> None:
        """Call first in `run`: remembers which case this is."""
        self._case_id = case_id
        self._tracking_code = tracking_code

    async def record(self, activity: Any, arg: Any) -> Any:
        """Read or write our own database (the system of record) with the common policy.

        A local activity, run inside the current workflow task: idempotent ones only, as it may
        run again after a worker crash. Its write is visible before its workflow task is saved.
        Were that task to carry a new Update (a decision) and be lost with its worker, the
        Update would be lost too but its writes would stay, e.g. a task shown closed whose
        decision the case never got. So after an Update, the first write is a regular
        activity: it is scheduled only once the task that accepted the Update is saved.

        The task decided last is closed by this write when it is a `CaseWrite` (one activity
        for the decision and what follows it), else by a write of its own first.
        """
        if self._closing is not None:
            task, closing = self._closing
            self._closing = None
            if isinstance(arg, CaseWrite):
                result = await self._write(activity, arg.model_copy(update={"closing": closing}))
                task.closed = True
                return result
            await self._write(CaseRecordActivities.close_task, closing)
            task.closed = True
        return await self._write(activity, arg)

    async def _write(self, activity: Any, arg: Any) -> Any:
        if self._updates_saved == self._updates_accepted:
            return await workflow.execute_local_activity_method(
                activity, arg, start_to_close_timeout=RECORD_TIMEOUT, retry_policy=RECORD_RETRY
            )
        return await self._regular(activity, arg, RECORD_TIMEOUT, RECORD_RETRY)

    async def _regular(
        self, activity: Any, arg: Any, timeout: timedelta, retry_policy: RetryPolicy
    ) -> Any:
        """A regular activity; once it is scheduled, the Updates accepted before are saved."""
        accepted = self._updates_accepted
        result = await workflow.execute_activity_method(
            activity, arg, start_to_close_timeout=timeout, retry_policy=retry_policy
        )
        self._updates_saved = max(self._updates_saved, accepted)
        return result

    def enter_stage(self, key: str, title_fa: str, title_en: str, *, public: bool = True) -> None:
        """Move the case to a named stage: Temporal UI now, timeline and read model with the
        case's next write (a task, an outside call, the closing), so a stage costs no write."""
        self._progress.step_key = key
        self._progress.step_title = title_fa
        self._show_step(key)
        workflow.set_current_details(f"**{title_fa}**\n\n{title_en}")
        seq = self._progress.task_numbers.get(f"stage:{key}", 0) + 1
        self._progress.task_numbers[f"stage:{key}"] = seq
        self._stages.append(
            CaseStage(
                event_key=f"{workflow.info().workflow_id}:stage:{key}:{seq}",
                step=key,
                text_fa=title_fa,
                text_en=title_en,
                public=public,
            )
        )

    def _take_stages(self) -> list[CaseStage]:
        stages, self._stages = self._stages, []
        return stages

    async def call_outside(
        self,
        activity: Any,
        arg: Any,
        *,
        start_to_close_timeout: timedelta,
        retry_policy: RetryPolicy,
    ) -> Any:
        """Call an outside system (directory, SMS, mail): once as a local activity, since most
        calls succeed within milliseconds; if that attempt fails for any reason, as a regular
        activity with the full retry policy, which decides whether to try again (a username
        taken meanwhile fails there too, as the process expects).

        Before the regular activity the stages entered so far are written, so while it retries
        (for hours, if that system is down) the case shows where it stands. A task decided just
        before is closed first, with those stages: the caller's Update answers at once, and
        the call may go local again.
        """
        if self._closing is not None:
            await self.record(
                CaseRecordActivities.record_stages,
                StagesEntered(case_id=self._case_id, stages=self._take_stages()),
            )
        if self._updates_saved == self._updates_accepted:
            try:
                return await workflow.execute_local_activity_method(
                    activity,
                    arg,
                    start_to_close_timeout=start_to_close_timeout,
                    retry_policy=RetryPolicy(maximum_attempts=1),
                )
            except FailureError as failure:
                if isinstance(failure, CancelledError):
                    raise
                workflow.logger.info("outside call failed once; going on as a regular activity")
        if self._stages:
            await self.record(
                CaseRecordActivities.record_stages,
                StagesEntered(case_id=self._case_id, stages=self._take_stages()),
            )
        return await self._regular(activity, arg, start_to_close_timeout, retry_policy)

    async def ask(
        self,
        step: Step[D],
        *,
        context: dict[str, Any],
        scope: str | None = None,
        options: dict[str, list[str]] | None = None,
        due_on: date | None = None,
        prefill: dict[str, Any] | None = None,
    ) -> tuple[D, str]:
        """Open a task for `step` and wait for its decision; returns (decision, who decided).

        `due_on` replaces the step's SLA with a promised date (the task is late after it);
        `prefill` gives fields of the form the values it starts from."""
        if step.expires:
            raise ValueError(f"{step.key} expires: ask it with ask_or_expire")
        answer = await self._ask(step, context, scope, options, due_on, prefill=prefill)
        assert answer is not None
        return answer

    async def ask_or_expire(
        self,
        step: Step[D],
        *,
        context: dict[str, Any],
        scope: str | None = None,
        options: dict[str, list[str]] | None = None,
        working_days: int | None = None,
    ) -> tuple[D, str] | None:
        """Like `ask` for a step that needs no answer: None once its SLA (or `working_days`,
        a configured one) passed unanswered."""
        if not step.expires:
            raise ValueError(f"{step.key} does not expire: ask it with ask")
        return await self._ask(step, context, scope, options, None, working_days)

    async def _ask(
        self,
        step: Step[D],
        context: dict[str, Any],
        scope: str | None,
        options: dict[str, list[str]] | None,
        due_on: date | None,
        working_days: int | None = None,
        *,
        prefill: dict[str, Any] | None = None,
    ) -> tuple[D, str] | None:
        self._raise_if_cancelled()
        number = self._progress.task_numbers.get(step.key, 0) + 1
        self._progress.task_numbers[step.key] = number
        task_id = task_id_of(workflow.info().workflow_id, step.key, number)
        self.enter_stage(step.key, step.title_fa, step.title_en)
        opened: TaskOpened = await self.record(
            CaseRecordActivities.open_task,
            TaskOpening(
                task_id=task_id,
                case_id=self._case_id,
                step=step.key,
                title_fa=step.title_fa,
                title_en=step.title_en,
                role=step.role,
                scope=scope,
                opened_at=workflow.now(),
                sla_working_days=working_days or step.sla_working_days,
                due_on=due_on,
                remind_working_days_before=step.remind_working_days_before,
                escalate_after_working_days=step.escalate_after_working_days,
                form_schema=form_schema(step, options or {}, prefill),
                context=context,
                stages=self._take_stages(),
                notify=step.notify,
                on_case_timeline=step.on_case_timeline,
            ),
        )
        due_at = opened.due_at
        task = _OpenTask(task_id, step, scope, due_at, options or {})
        self._tasks[task_id] = task
        ready = lambda: task.decision is not None or self._progress.cancel is not None  # noqa: E731
        if step.remind_working_days_before is None and step.escalate_after_working_days is None:
            expired = await self._wait_until_due(task, ready)
        else:
            expired = await self._wait_with_deadlines(task, opened, ready)
        if expired:
            self._tasks.pop(task_id)
            return None
        if task.decision is None:
            self._tasks.pop(task_id)
            self._raise_if_cancelled()
        assert task.decision is not None and task.completed_by is not None
        closing = TaskClosing(
            task_id=task_id,
            case_id=self._case_id,
            decision=task.decision.model_dump(mode="json"),
            completed_by=task.completed_by,
            on_case_timeline=step.on_case_timeline,
        )
        if workflow.patched(CLOSE_WITH_NEXT_WRITE):
            self._closing = (task, closing)
        else:
            await self.record(CaseRecordActivities.close_task, closing)
            task.closed = True
        self._tasks.pop(task_id)
        return task.decision, task.completed_by  # type: ignore[return-value]

    async def _wait_until_due(self, task: _OpenTask, ready: Callable[[], bool]) -> bool:
        """Wait for the decision; at the due date mark the task overdue (and tell the
        supervisor), or end it if its step expires. True: it expired."""
        try:
            await workflow.wait_condition(
                ready,
                timeout=max(task.due_at - workflow.now(), timedelta(seconds=1)),
                timeout_summary=f"SLA {task.step.key}",
            )
            return False
        except TimeoutError:
            pass
        if task.step.expires:
            await self.record(
                CaseRecordActivities.expire_task,
                TaskDeadline(task_id=task.task_id, case_id=self._case_id),
            )
            return True
        task.overdue = True
        await self.record(
            CaseRecordActivities.mark_task_overdue,
            TaskOverdue(
                task_id=task.task_id,
                case_id=self._case_id,
                escalate_to=task.step.escalate_to if task.step.notify else None,
            ),
        )
        await workflow.wait_condition(ready)
        return False

    async def _wait_with_deadlines(
        self, task: _OpenTask, opened: TaskOpened, ready: Callable[[], bool]
    ) -> bool:
        """An outside party's promise: a reminder before it, the late mark at it, and the
        supervisor told working days after it; the case keeps waiting throughout."""
        step = task.step
        deadline = TaskDeadline(task_id=task.task_id, case_id=self._case_id)
        if opened.remind_at is not None and not await self._wait_until(
            ready, opened.remind_at, f"reminder {step.key}"
        ):
            await self.record(
                CaseRecordActivities.remind_task,
                deadline.model_copy(update={"notify": step.role if step.notify else None}),
            )
        if await self._wait_until(ready, task.due_at, f"SLA {step.key}"):
            return False
        if step.expires:
            await self.record(CaseRecordActivities.expire_task, deadline)
            return True
        task.overdue = True
        escalate_now = opened.escalate_at is None
        await self.record(
            CaseRecordActivities.mark_task_overdue,
            TaskOverdue(
                task_id=task.task_id,
                case_id=self._case_id,
                escalate_to=step.escalate_to if escalate_now and step.notify else None,
            ),
        )
        if opened.escalate_at is not None and not await self._wait_until(
            ready, opened.escalate_at, f"escalation {step.key}"
        ):
            await self.record(
                CaseRecordActivities.escalate_task,
                deadline.model_copy(update={"notify": step.escalate_to if step.notify else None}),
            )
        await workflow.wait_condition(ready)
        return False

    @staticmethod
    async def _wait_until(ready: Callable[[], bool], at: datetime, summary: str) -> bool:
        """True if `ready` came before `at`."""
        try:
            await workflow.wait_condition(
                ready,
                timeout=max(at - workflow.now(), timedelta(seconds=1)),
                timeout_summary=summary,
            )
        except TimeoutError:
            return False
        return True

    async def finish(self, status: CaseStatus, outcome: str, detail: dict[str, Any]) -> None:
        """Close the case in the read model, show the end in the Temporal UI, and wait for the
        Update handlers still running (a reassignment's write), which a returning `run` would
        cut off: their callers would get no answer, their writes would go on unawaited."""
        await self.record(
            CaseRecordActivities.close_case,
            CaseClosing(
                case_id=self._case_id,
                status=status,
                outcome=outcome,
                detail=detail,
                stages=self._take_stages(),
            ),
        )
        # Only now: a cancel_case caller waits for this, and then reads the database.
        self._progress.status = status
        self._progress.step_key = None
        self._progress.step_title = None
        self._show_step(f"end:{outcome}")
        workflow.set_current_details(f"**پایان: {outcome}**")
        if workflow.patched(HANDLERS_BEFORE_END):
            await workflow.wait_condition(workflow.all_handlers_finished)

    @staticmethod
    def _show_step(key: str) -> None:
        # Cases started by the API carry ProcessKind, so the server knows our search attributes;
        # the time-skipping test server cannot register them, and its starts carry none.
        if workflow.info().typed_search_attributes.get(PROCESS_KIND) is not None:
            workflow.upsert_search_attributes([CURRENT_STEP.value_set(key)])

    def _raise_if_cancelled(self) -> None:
        if self._progress.cancel is not None:
            raise CaseCancelled(self._progress.cancel)

    def _task_for(self, task_id: str) -> _OpenTask:
        task = self._tasks.get(task_id)
        if task is None or task.decision is not None:
            raise ApplicationError(
                "the task is no longer open", type=TaskRefusal.not_open, non_retryable=True
            )
        return task

    def _check_actor(self, task: _OpenTask, actor: Actor) -> None:
        allowed = actor.covers(task.step.role, task.scope) and (
            task.assignee is None or task.assignee == actor.username
        )
        if not allowed:
            raise ApplicationError(
                "this task is not in your cartable",
                type=TaskRefusal.not_authorized,
                non_retryable=True,
            )

    def _parse_decision(self, task: _OpenTask, data: dict[str, Any]) -> Decision:
        try:
            decision: Decision = task.step.decision.model_validate(
                data, context={"options": task.options, "now": workflow.now()}
            )
        except ValidationError as error:
            raise ApplicationError(
                "the decision is not valid for this step",
                _field_errors(error),
                type=TaskRefusal.invalid_decision,
                non_retryable=True,
            ) from None
        return decision

    @workflow.update
    async def complete_task(self, request: CompleteTaskInput) -> TaskCompletion:
        """Deliver a human decision; answers once the task is closed in the cartable."""
        self._updates_accepted += 1
        task = self._task_for(request.task_id)
        task.decision = self._parse_decision(task, request.decision)
        task.completed_by = request.actor.username
        await workflow.wait_condition(lambda: task.closed)
        return TaskCompletion(
            task_id=task.task_id,
            case_status=self._progress.status,
            current_step=self._progress.step_key,
        )

    @complete_task.validator
    def _validate_complete_task(self, request: CompleteTaskInput) -> None:
        task = self._task_for(request.task_id)
        self._check_actor(task, request.actor)
        self._parse_decision(task, request.decision)

    @workflow.update
    async def reassign_task(self, request: ReassignTaskInput) -> OpenTaskView:
        """An admin gives an open task to a named person (who must hold the step's role)."""
        self._updates_accepted += 1
        if not workflow.patched(SERIAL_REASSIGN):
            return await self._reassign(request)
        async with self._reassigning:
            return await self._reassign(request)

    async def _reassign(self, request: ReassignTaskInput) -> OpenTaskView:
        task = self._task_for(request.task_id)
        task.assignee = request.assignee
        task.reassignments += 1
        await self.record(
            CaseRecordActivities.reassign_task,
            TaskReassignment(
                task_id=task.task_id,
                case_id=self._case_id,
                assignee=request.assignee,
                by=request.actor.username,
                reason=request.reason,
                event_key=f"{task.task_id}:reassignment:{task.reassignments}",
            ),
        )
        return self._view(task)

    @reassign_task.validator
    def _validate_reassign_task(self, request: ReassignTaskInput) -> None:
        self._task_for(request.task_id)
        if Role.admin not in request.actor.roles:
            raise ApplicationError(
                "only an admin may reassign", type=TaskRefusal.not_authorized, non_retryable=True
            )

    @workflow.update
    async def cancel_case(self, request: CancelCaseInput) -> CaseStatus:
        """An admin stops the case with a reason; the process workflow winds it down."""
        self._updates_accepted += 1
        self._progress.cancel = request
        await workflow.wait_condition(lambda: self._progress.status != CaseStatus.open)
        return self._progress.status

    @cancel_case.validator
    def _validate_cancel_case(self, request: CancelCaseInput) -> None:
        if not self.cancelled_by & set(request.actor.roles):
            raise ApplicationError(
                "you may not cancel this case",
                type=TaskRefusal.not_authorized,
                non_retryable=True,
            )
        if self._progress.status != CaseStatus.open or self._progress.cancel is not None:
            raise ApplicationError(
                "the case is already closed", type=TaskRefusal.case_closed, non_retryable=True
            )

    @workflow.query
    def live(self) -> CaseLive:
        """Where the case stands now and which tasks wait, for the case page."""
        return CaseLive(
            tracking_code=self._tracking_code,
            status=self._progress.status,
            current_step=self._progress.step_key,
            current_step_title=self._progress.step_title,
            open_tasks=[self._view(t) for t in self._tasks.values() if t.decision is None],
        )

    @staticmethod
    def _view(task: _OpenTask) -> OpenTaskView:
        return OpenTaskView(
            task_id=task.task_id,
            step=task.step.key,
            role=task.step.role,
            scope=task.scope,
            assignee=task.assignee,
            due_at=task.due_at,
            overdue=task.overdue,
        )
