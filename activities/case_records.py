"""Projection of every case into the system of record: stages, tasks, timeline, closing.

Each write is idempotent by a natural key (task id, event key), so a retry or a worker crash
never leaves a second row.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select
from temporalio import activity

from activities.notifications import EmailSender
from db.calendar import working_calendar
from db.engine import insert_once
from db.models import Case, CaseEvent, Task, User
from domain.calendar import format_jalali
from domain.cases import CaseStatus, EventKind, Role, TaskStatus
from domain.outgoing import OutgoingMessage
from domain.records import (
    CaseClosing,
    CaseLine,
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
from settings import Settings


def _now() -> datetime:
    return datetime.now(UTC)


def add_event(session: Session, event: CaseEvent) -> bool:
    """Insert a timeline event unless its key is already there; True if it was new.

    One INSERT … ON CONFLICT DO NOTHING rather than a lookup and a savepoint: the worker
    writes several events per case. Runs on the session's connection, in its transaction.
    """
    if event.event_key is None:
        session.add(event)
        return True
    return insert_once(
        session.connection(), "case_events", "event_key", event.model_dump(exclude={"id"})
    )


def _case(session: Session, case_id: int) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise ValueError(f"case {case_id} is not in the database")
    return case


def _enter_stages(session: Session, case_id: int, stages: list[CaseStage]) -> None:
    """Timeline events of the stages (once each, by key); the last new one is the current step."""
    current_step = None
    for stage in stages:
        if add_event(
            session,
            CaseEvent(
                case_id=case_id,
                event_key=stage.event_key,
                kind=EventKind.stage,
                step=stage.step,
                text_fa=stage.text_fa,
                text_en=stage.text_en,
                public=stage.public,
            ),
        ):
            current_step = stage.step
    if current_step is not None:
        session.execute(
            update(Case)
            .where(col(Case.id) == case_id)
            .values(current_step=current_step, updated_at=_now())
            .execution_options(synchronize_session=False)
        )


def close_decided_task(session: Session, closing: TaskClosing) -> None:
    """The decided task leaves the cartable with its decision, once (a retry changes nothing).

    One UPDATE … RETURNING, no task loaded: it runs for every decision."""
    closed = session.execute(
        update(Task)
        .where(col(Task.id) == closing.task_id, col(Task.status) == TaskStatus.open)
        .values(
            status=TaskStatus.done,
            decision=closing.decision,
            completed_by=closing.completed_by,
            completed_at=_now(),
        )
        .returning(col(Task.step), col(Task.title_fa), col(Task.title_en))
        .execution_options(synchronize_session=False)
    ).first()
    if closed is None or not closing.on_case_timeline:
        return
    step, title_fa, title_en = closed
    add_event(
        session,
        CaseEvent(
            case_id=closing.case_id,
            event_key=f"{closing.task_id}:closed",
            kind=EventKind.task_completed,
            step=step,
            actor=closing.completed_by,
            text_fa=f"انجام شد: {title_fa}",
            text_en=f"Done: {title_en}",
        ),
    )


def close_carried_task(session: Session, write: CaseWrite) -> None:
    """First part of every `CaseWrite`: the task decided just before it, if it carries one."""
    if write.closing is not None:
        close_decided_task(session, write.closing)


def write_line(session: Session, change: CaseLine) -> bool:
    """First part of a write to a process's own record: the task decided before it closed, and
    the change's line on the timeline at the case's current step. False: this line was written
    before (a retry), and with it the rest of the change."""
    close_carried_task(session, change)
    step = session.execute(select(Case.current_step).where(Case.id == change.case_id)).first()
    if step is None:
        raise ValueError(f"no case {change.case_id}")
    return add_event(
        session,
        CaseEvent(
            case_id=change.case_id,
            event_key=change.event_key,
            kind=EventKind.stage if change.public else EventKind.comment,
            step=step[0],
            actor=change.actor,
            text_fa=change.text_fa,
            text_en=change.text_en,
            public=change.public,
        ),
    )


def role_holders(session: Session, role: Role, scope: str | None) -> list[tuple[str, str]]:
    """(username, e-mail) of the active users who hold `role` in `scope` and have an address.

    Columns only, no ORM objects: this runs for every task opened."""
    users = session.exec(
        select(User.username, User.email, User.roles, User.scopes).where(
            col(User.is_active).is_(True), col(User.email).is_not(None)
        )
    ).all()
    holders = []
    for username, email, roles, scopes in users:
        address = (email or "").strip()
        # A blank address or a broken row (no roles): nobody to e-mail.
        if not address or not roles or role not in roles:
            continue
        if scope is None or "*" in scopes or scope in scopes:
            holders.append((username, address))
    return holders


class CaseRecordActivities:
    """Activities shared by all processes; they write only the system of record and notices."""

    def __init__(self, engine: Engine, settings: Settings, email: EmailSender) -> None:
        self._engine = engine
        self._settings = settings
        self._email = email

    def _session(self) -> Session:
        return Session(self._engine, expire_on_commit=False)

    @activity.defn
    def record_stages(self, entered: StagesEntered) -> None:
        """The stages a case passed through since its last write (before an outside call)."""
        with self._session() as session:
            close_carried_task(session, entered)
            _enter_stages(session, entered.case_id, entered.stages)
            session.commit()

    @activity.defn
    def open_task(self, opening: TaskOpening) -> TaskOpened:
        """The step's stage and its task in the cartable; the due date by today's calendar."""
        with self._session() as session:
            close_carried_task(session, opening)
            # Columns, not objects: this runs for every task opened.
            case = session.execute(
                select(Case.tracking_code, Case.process).where(Case.id == opening.case_id)
            ).first()
            if case is None:
                raise ValueError(f"case {opening.case_id} is not in the database")
            tracking_code, process = case
            written_due_at = session.execute(
                select(Task.due_at).where(Task.id == opening.task_id)
            ).scalar()
            opened_at = opening.opened_at.astimezone(UTC)
            calendar = working_calendar(session, self._settings, opened_at.date())
            if written_due_at is not None:
                due_at = written_due_at
            else:
                if opening.due_on is not None:
                    due_at = max(calendar.end_of_day(opening.due_on), opened_at)
                else:
                    due_at = calendar.add_working_days(opened_at, opening.sla_working_days)
                _enter_stages(session, opening.case_id, opening.stages)
                # A statement, not a unit of work: one row, nothing to track afterwards.
                insert_once(
                    session.connection(),
                    "tasks",
                    "id",
                    Task(
                        id=opening.task_id,
                        case_id=opening.case_id,
                        process=process,
                        step=opening.step,
                        title_fa=opening.title_fa,
                        title_en=opening.title_en,
                        role=opening.role,
                        scope=opening.scope,
                        due_at=due_at,
                        form_schema=opening.form_schema,
                        context=opening.context,
                    ).model_dump(exclude_none=True),
                )
                if opening.on_case_timeline:
                    add_event(
                        session,
                        CaseEvent(
                            case_id=opening.case_id,
                            event_key=f"{opening.task_id}:opened",
                            kind=EventKind.task_opened,
                            step=opening.step,
                            text_fa=f"ارجاع به کارتابل: {opening.title_fa}",
                            text_en=f"Sent to the cartable: {opening.title_en}",
                        ),
                    )
                session.commit()
            # Read in the same transaction (no second session per task opened).
            holders = role_holders(session, opening.role, opening.scope) if opening.notify else []
        self._email_each(
            holders,
            key=f"{opening.task_id}:opened",
            subject=f"کار جدید در کارتابل: {opening.title_fa} ({tracking_code})",
            body=(
                f"کار «{opening.title_fa}» برای پرونده {tracking_code} در کارتابل شماست.\n"
                f"{self._settings.public_base_url}/tasks/{opening.task_id}"
            ),
        )
        remind_at = escalate_at = None
        if opening.remind_working_days_before is not None:
            remind_at = calendar.subtract_working_days(due_at, opening.remind_working_days_before)
            remind_at = remind_at if remind_at > opened_at else None
        if opening.escalate_after_working_days is not None:
            escalate_at = calendar.add_working_days(due_at, opening.escalate_after_working_days)
        return TaskOpened(due_at=due_at, remind_at=remind_at, escalate_at=escalate_at)

    @activity.defn
    def mark_task_overdue(self, overdue: TaskOverdue) -> None:
        with self._session() as session:
            task = session.get(Task, overdue.task_id)
            assert task is not None
            task.overdue = True
            session.add(task)
            add_event(
                session,
                CaseEvent(
                    case_id=overdue.case_id,
                    event_key=f"{overdue.task_id}:overdue",
                    kind=EventKind.task_overdue,
                    step=task.step,
                    text_fa=f"مهلت «{task.title_fa}» گذشت"
                    + ("؛ به سرپرست اطلاع داده شد" if overdue.escalate_to else ""),
                    text_en=f"“{task.title_en}” is overdue"
                    + ("; the supervisor was told" if overdue.escalate_to else ""),
                ),
            )
            session.commit()
            title = task.title_fa
        if overdue.escalate_to is None:
            return
        self._email_each(
            self._holders_of(overdue.escalate_to, None),
            key=f"{overdue.task_id}:overdue",
            subject=f"تاخیر در انجام کار: {title}",
            body=f"مهلت کار «{title}» گذشته است.\n"
            f"{self._settings.public_base_url}/tasks/{overdue.task_id}",
        )

    @activity.defn
    def remind_task(self, deadline: TaskDeadline) -> None:
        """Before the due date: the task's role (within its scope) is reminded."""
        task = self._deadline_event(
            deadline,
            "reminded",
            EventKind.task_reminded,
            "یادآوری مهلت «{title_fa}» فرستاده شد",
            "A reminder of “{title_en}” was sent",
        )
        if deadline.notify is not None:
            self._email_each(
                self._holders_of(deadline.notify, task.scope),
                key=f"{deadline.task_id}:reminded",
                subject=f"یادآوری: مهلت «{task.title_fa}» نزدیک است",
                body=f"مهلت کار «{task.title_fa}» {format_jalali(task.due_at)} است.\n"
                f"{self._settings.public_base_url}/tasks/{deadline.task_id}",
            )

    @activity.defn
    def escalate_task(self, deadline: TaskDeadline) -> None:
        """Working days after the due date: the supervising role is told; the case waits on."""
        task = self._deadline_event(
            deadline,
            "escalated",
            EventKind.task_escalated,
            "تاخیر در «{title_fa}» به سرپرست گزارش شد",
            "The delay of “{title_en}” was escalated to the supervisor",
        )
        if deadline.notify is not None:
            self._email_each(
                self._holders_of(deadline.notify, None),
                key=f"{deadline.task_id}:escalated",
                subject=f"تاخیر طولانی در انجام کار: {task.title_fa}",
                body=f"مهلت کار «{task.title_fa}» مدتی است گذشته است.\n"
                f"{self._settings.public_base_url}/tasks/{deadline.task_id}",
            )

    @activity.defn
    def expire_task(self, deadline: TaskDeadline) -> None:
        """A task that allows no answer: its deadline passed, it leaves the cartable."""
        with self._session() as session:
            task = session.get(Task, deadline.task_id)
            assert task is not None
            if task.status == TaskStatus.open:
                task.status = TaskStatus.expired
                task.completed_at = _now()
                session.add(task)
            session.commit()
        self._deadline_event(
            deadline,
            "expired",
            EventKind.task_expired,
            "«{title_fa}» بی‌پاسخ ماند و مهلت آن تمام شد",
            "“{title_en}” got no answer before its deadline",
        )

    def _deadline_event(
        self, deadline: TaskDeadline, suffix: str, kind: EventKind, text_fa: str, text_en: str
    ) -> Task:
        with self._session() as session:
            task = session.get(Task, deadline.task_id)
            assert task is not None
            add_event(
                session,
                CaseEvent(
                    case_id=deadline.case_id,
                    event_key=f"{deadline.task_id}:{suffix}",
                    kind=kind,
                    step=task.step,
                    text_fa=text_fa.format(title_fa=task.title_fa),
                    text_en=text_en.format(title_en=task.title_en),
                ),
            )
            session.commit()
            session.refresh(task)
            session.expunge(task)
            return task

    @activity.defn
    def close_task(self, closing: TaskClosing) -> None:
        with self._session() as session:
            close_decided_task(session, closing)
            session.commit()

    @activity.defn
    def reassign_task(self, change: TaskReassignment) -> None:
        with self._session() as session:
            task = session.get(Task, change.task_id)
            assert task is not None
            task.assignee = change.assignee
            session.add(task)
            add_event(
                session,
                CaseEvent(
                    case_id=change.case_id,
                    event_key=change.event_key,
                    kind=EventKind.task_reassigned,
                    step=task.step,
                    actor=change.by,
                    text_fa=f"«{task.title_fa}» به {change.assignee} سپرده شد: {change.reason}",
                    text_en=f"“{task.title_en}” reassigned to {change.assignee}: {change.reason}",
                ),
            )
            session.commit()

    @activity.defn
    def close_case(self, closing: CaseClosing) -> None:
        with self._session() as session:
            close_carried_task(session, closing)
            _enter_stages(session, closing.case_id, closing.stages)
            case = _case(session, closing.case_id)
            for task in session.exec(
                select(Task).where(Task.case_id == closing.case_id, Task.status == TaskStatus.open)
            ):
                task.status = TaskStatus.cancelled
                session.add(task)
            if case.status == CaseStatus.open:
                case.status = closing.status
                case.outcome = closing.outcome
                case.outcome_detail = closing.detail
                case.current_step = None
                case.closed_at = case.updated_at = _now()
                session.add(case)
            kind = (
                EventKind.cancelled if closing.status == CaseStatus.cancelled else EventKind.closed
            )
            add_event(
                session,
                CaseEvent(
                    case_id=closing.case_id,
                    event_key=f"{case.workflow_id}:closed",
                    kind=kind,
                    text_fa="پرونده بسته شد" if kind == EventKind.closed else "پرونده لغو شد",
                    text_en="Case closed" if kind == EventKind.closed else "Case cancelled",
                    public=True,
                ),
            )
            session.commit()

    def _holders_of(self, role: Role, scope: str | None) -> list[tuple[str, str]]:
        with self._session() as session:
            return role_holders(session, role, scope)

    def _email_each(
        self, holders: list[tuple[str, str]], *, key: str, subject: str, body: str
    ) -> None:
        """E-mail each (username, address), once per key and person."""
        for username, email in holders:
            self._email.send(
                OutgoingMessage(
                    message_key=f"{key}:{username}",
                    case_id=None,
                    recipient=email,
                    subject=subject,
                    body=body,
                )
            )
