"""Inputs of the projection activities that write a case into the system of record."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from domain.cases import CaseStatus, Role


class TaskClosing(BaseModel):
    task_id: str
    case_id: int
    decision: dict[str, Any]
    completed_by: str
    on_case_timeline: bool = True
    """Its "done" line goes on the case's timeline (see `Step.on_case_timeline`)."""


class CaseWrite(BaseModel):
    """A write of one case into the read model that also closes the task decided just before
    it, if any: the decision and the case's next write are then one transaction (one activity),
    not two."""

    closing: TaskClosing | None = None
    """The task decided just before this write: closed first, in the same transaction."""


class CaseLine(CaseWrite):
    """A change to a process's own record of a case, with its line on the case's timeline:
    written once, by the line's key."""

    case_id: int
    event_key: str
    text_fa: str
    text_en: str
    public: bool = True
    """Shown to the requester on the tracking page."""
    actor: str | None = None


class CaseStage(BaseModel):
    """A stage the case entered; written together with the next write of its case."""

    event_key: str
    """Natural key of the timeline event: a retried write adds nothing."""
    step: str
    text_fa: str
    text_en: str
    public: bool = True
    """Shown to the requester on the tracking page."""


class StagesEntered(CaseWrite):
    case_id: int
    stages: list[CaseStage]
    """In the order the case entered them; the last is the case's current step."""


class TaskOpening(CaseWrite):
    task_id: str
    case_id: int
    step: str
    title_fa: str
    title_en: str
    role: Role
    scope: str | None
    opened_at: datetime
    sla_working_days: int
    """The task is due this many working days (university calendar) after `opened_at`."""
    due_on: date | None = None
    """A promised date (e.g. a vendor's) instead of the SLA: due at the end of that day."""
    remind_working_days_before: int | None = None
    escalate_after_working_days: int | None = None
    form_schema: dict[str, Any]
    context: dict[str, Any] = Field(default_factory=dict)
    """The case's data shown beside the decision form."""
    stages: list[CaseStage] = Field(default_factory=list)
    """Stages entered since the last write (the step's own stage last), written first."""
    notify: bool = True
    """E-mail the role's holders (see `Step.notify`)."""
    on_case_timeline: bool = True
    """Its "sent to the cartable" line goes on the case's timeline."""


class TaskOpened(BaseModel):
    due_at: datetime
    """When the SLA passes, counted with the holidays known when the task was opened."""
    remind_at: datetime | None = None
    """When its role is reminded (working days before `due_at`); None: no reminder."""
    escalate_at: datetime | None = None
    """When the supervisor is told (working days after `due_at`); None: at `due_at`."""


class TaskOverdue(BaseModel):
    task_id: str
    case_id: int
    escalate_to: Role | None
    """Told at once; None: only marked late, the escalation comes later (`TaskDeadline`)."""


class TaskDeadline(BaseModel):
    """A reminder before the due date, an escalation after it, or the end of a task that
    allows no answer."""

    task_id: str
    case_id: int
    notify: Role | None = None
    """Who is told: the task's own role for a reminder, the supervisor for an escalation."""


class TaskReassignment(BaseModel):
    task_id: str
    case_id: int
    assignee: str
    by: str
    reason: str
    event_key: str


class CaseClosing(CaseWrite):
    case_id: int
    status: CaseStatus
    outcome: str
    detail: dict[str, Any] = Field(default_factory=dict)
    """What the requester is told (address, refusal reason); shown on the tracking page."""
    stages: list[CaseStage] = Field(default_factory=list)
    """Stages entered since the last write, written before the case is closed."""
