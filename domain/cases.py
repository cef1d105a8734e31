"""The vocabulary every process shares: processes, roles, case and task states, timeline events."""

from __future__ import annotations

from enum import StrEnum


class ProcessKind(StrEnum):
    email_account = "email_account"
    equipment_repair = "equipment_repair"
    automation_cartable = "automation_cartable"
    shams_rollout = "shams_rollout"
    sepas_error = "sepas_error"


PROCESS_TITLES: dict[ProcessKind, tuple[str, str]] = {
    ProcessKind.email_account: ("ایجاد ایمیل دانشگاهی", "University e-mail account"),
    ProcessKind.equipment_repair: ("نگهداری و تعمیر تجهیزات رایانه‌ای", "Computer equipment repair"),
    ProcessKind.automation_cartable: ("ایجاد کارتابل اتوماسیون", "Office-automation cartable"),
    ProcessKind.shams_rollout: ("اتصال نقاط به اینترانت شمس", "SHAMS intranet rollout"),
    ProcessKind.sepas_error: ("رفع مشکلات ارسال پرونده به سپاس", "SEPAS record-sending problems"),
}

WORKFLOW_ID_PREFIX: dict[ProcessKind, str] = {
    ProcessKind.email_account: "email",
    ProcessKind.equipment_repair: "repair",
    ProcessKind.automation_cartable: "cartable",
    ProcessKind.shams_rollout: "shams",
    ProcessKind.sepas_error: "sepas",
}


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


class EventKind(StrEnum):
    submitted = "submitted"
    stage = "stage"
    task_opened = "task_opened"
    task_completed = "task_completed"
    task_overdue = "task_overdue"
    task_reassigned = "task_reassigned"
    comment = "comment"
    message_sent = "message_sent"
    closed = "closed"
    cancelled = "cancelled"


ALL_SCOPES = "*"
"""A user scope that covers every unit, county and hospital."""
