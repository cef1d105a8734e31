"""The vocabulary every process shares: roles, case and task states, timeline events."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel


class CaseStart(BaseModel):
    """What every process workflow starts from; each process adds its accepted `form`."""

    case_id: int
    tracking_code: str
    submitted_at: datetime


class Role(StrEnum):
    """What a user may do; outside parties are roles too, narrowed by their scopes."""

    admin = "admin"
    operator = "operator"
    """Watches the Temporal UI; may decode payloads through /codec."""
    email_admin = "email_admin"
    it_supervisor = "it_supervisor"
    """Receives escalations of overdue tasks."""
    support_lead = "support_lead"
    technician = "technician"
    vendor = "vendor"
    automation_admin = "automation_admin"
    it_office = "it_office"
    it_director = "it_director"
    county_network = "county_network"
    carrier = "carrier"
    sepas_expert = "sepas_expert"
    hospital_it = "hospital_it"
    his_vendor = "his_vendor"
    unit_secretary = "unit_secretary"
    """A unit's secretariat (دبیرخانه واحد): sends its appointment letters; scope: the unit."""
    requester = "requester"
    """The person a case is for, acting from the tracking page; scope: the tracking code."""


class CaseStatus(StrEnum):
    open = "open"
    closed = "closed"
    cancelled = "cancelled"


class CaseOutcome(StrEnum):
    done = "done"
    refused = "refused"
    cancelled = "cancelled"


class TaskStatus(StrEnum):
    open = "open"
    done = "done"
    cancelled = "cancelled"
    expired = "expired"
    """Its step allowed no answer: the deadline passed and the case went on without one."""


class EventKind(StrEnum):
    submitted = "submitted"
    stage = "stage"
    task_opened = "task_opened"
    task_completed = "task_completed"
    task_overdue = "task_overdue"
    task_reassigned = "task_reassigned"
    task_reminded = "task_reminded"
    task_escalated = "task_escalated"
    task_expired = "task_expired"
    comment = "comment"
    message_sent = "message_sent"
    closed = "closed"
    cancelled = "cancelled"


STAFF_ROLES: tuple[Role, ...] = tuple(r for r in Role if r != Role.requester)
"""Roles a login may hold; `requester` is only ever acted as from a case's tracking page."""

ALL_SCOPES = "*"
"""A user scope that covers every unit, county and hospital."""
