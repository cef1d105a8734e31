"""Inputs of the projection activities that write a case into the system of record."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from domain.cases import CaseStatus, Role


class CaseStage(BaseModel):
    case_id: int
    event_key: str
    """Natural key of the timeline event: a retried write adds nothing."""
    step: str
    text_fa: str
    text_en: str
    public: bool = True
    """Shown to the requester on the tracking page."""


class TaskOpening(BaseModel):
    task_id: str
    case_id: int
    step: str
    title_fa: str
    title_en: str
    role: Role
    scope: str | None
    due_at: datetime
    form_schema: dict[str, Any]
    context: dict[str, Any] = Field(default_factory=dict)
    """The case's data shown beside the decision form."""


class TaskOverdue(BaseModel):
    task_id: str
    case_id: int
    escalate_to: Role


class TaskClosing(BaseModel):
    task_id: str
    case_id: int
    decision: dict[str, Any]
    completed_by: str


class TaskReassignment(BaseModel):
    task_id: str
    case_id: int
    assignee: str
    by: str
    reason: str
    event_key: str


class CaseClosing(BaseModel):
    case_id: int
    status: CaseStatus
    outcome: str
    detail: dict[str, Any] = Field(default_factory=dict)
    """What the requester is told (address, refusal reason); shown on the tracking page."""
