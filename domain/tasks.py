"""Contracts of the human-task engine, shared by the API, the workflows and the activities."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo
from pydantic_core import PydanticCustomError

from domain.cases import ALL_SCOPES, CaseStatus, Role


class Actor(BaseModel):
    """The authenticated person acting on a case (the API fills it from the login)."""

    username: str
    roles: list[Role]
    scopes: list[str] = Field(default_factory=list)
    """Units, counties or hospitals; `*` covers all."""

    def covers(self, role: Role, scope: str | None) -> bool:
        """True if this actor holds `role` within `scope`."""
        if role not in self.roles:
            return False
        return scope is None or ALL_SCOPES in self.scopes or scope in self.scopes


REQUESTER_PREFIX = "requester:"
"""Start of the username of a requester acting from the tracking page; logins match
`^[a-z][a-z0-9._-]{1,63}$`, so no login can ever be named like that."""


def requester_actor(tracking_code: str) -> Actor:
    """The person a case is for, acting on it from its tracking page (after the second factor
    or the signed link): the requester role, scoped to this one case."""
    return Actor(
        username=f"{REQUESTER_PREFIX}{tracking_code}",
        roles=[Role.requester],
        scopes=[tracking_code],
    )


def task_id_of(workflow_id: str, step: str, number: int) -> str:
    """A task's id: the workflow that asks it, the step, and which time it is asked there."""
    return f"{workflow_id}:{step}:{number}"


def workflow_of_task(task_id: str) -> str:
    """The workflow that asked the task, which its decision goes to: the case's own, or one of
    the case's child workflows (a SHAMS site asks its tasks under its rollout's case)."""
    return task_id.rsplit(":", 2)[0]


class Decision(BaseModel):
    """Base of every decision model: unknown fields are refused, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


def needed_when(flag: str, value: object, code: str, text: str) -> Any:
    """A validator for a field a decision needs when `flag` holds `value`. It belongs to that
    field (declared with `validate_default=True`, so it runs when the field is left out), so the
    error names the field and the form shows it beside it, the rest kept as typed."""

    def check(cls: type, given: object, info: ValidationInfo) -> object:
        if flag in info.data and info.data[flag] == value and given in (None, []):
            raise PydanticCustomError(code, text)
        return given

    return classmethod(check)


class TaskRefusal(StrEnum):
    """Why a task completion or reassignment was refused (the ApplicationError type)."""

    not_open = "TaskNotOpen"
    not_authorized = "TaskNotAuthorized"
    invalid_decision = "InvalidDecision"
    case_closed = "CaseClosed"


class FieldError(BaseModel):
    field: str
    """Dotted path of the offending field."""
    reason: str
    """What is wrong with it (English, from the validator)."""
    kind: str = ""
    """Machine-readable error type, e.g. `missing`, `enum`."""


class CompleteTaskInput(BaseModel):
    task_id: str
    actor: Actor
    decision: dict[str, Any]
    """The decision form as filled in; validated against the step's decision model."""


class ReassignTaskInput(BaseModel):
    task_id: str
    actor: Actor
    assignee: str
    """Username who will hold the task from now on."""
    reason: str = Field(min_length=3, max_length=500)


class CancelCaseInput(BaseModel):
    actor: Actor
    reason: str = Field(min_length=3, max_length=500)


class TaskCompletion(BaseModel):
    """What the expert sees after deciding: the task is closed, and where the case is now."""

    task_id: str
    case_status: CaseStatus
    current_step: str | None


class OpenTaskView(BaseModel):
    task_id: str
    step: str
    role: Role
    scope: str | None
    assignee: str | None
    due_at: datetime
    overdue: bool


class CaseLive(BaseModel):
    """Live state of a running case, answered by the workflow's query."""

    tracking_code: str
    status: CaseStatus
    current_step: str | None
    current_step_title: str | None
    open_tasks: list[OpenTaskView]
