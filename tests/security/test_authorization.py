"""Who may call what: the authorization matrix, scopes, the tracking lookup's factor and limit.

ACCESS is the one table of the deployed policy (production mode): every route of the app (JSON API,
web pages, mounts), by method, with the roles allowed, PUBLIC, or LOGGED_IN (any role). A route the
table does not list fails `test_every_route_is_in_the_table`, so a new route comes with its policy.

Deny is 401 for an anonymous caller (a page answers with its equivalent, a redirect to /login) and
403 for a logged-in user without the right; allow is any other answer. The API is called with the
user's bearer token, the pages with the session cookie and a valid CSRF token. Each call carries a
body that passes validation, so an allowed caller gets past authorization to the route's own answer;
the task routes are asked about an open `review_form` task of the e-mail process (role email_admin)
with a decision the step refuses: the workflow's validator checks the actor before the decision, so
an allowed actor gets 422 and nothing changes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi import routing as fastapi_routing
from sqlmodel import Session, select
from starlette.routing import BaseRoute, Mount

from api.app import create_app
from api.security import SESSION_COOKIE, issue_token
from api.web.pages import CSRF_COOKIE
from db.error_bank import add_entry
from db.models import Case, Task, User
from db.office_automation import Unit
from db.repair import Asset, Vendor
from db.seed import demo_counties, demo_units
from db.sepas import HisVendor, Hospital
from db.shams import County, Site
from db.site_register import SITE_FIELD_FA
from db.srm_import import SRM_FIELD_FA
from db.stored_files import store
from domain.calendar import jalali_to_gregorian
from domain.cases import STAFF_ROLES, Role, TaskStatus
from domain.passwords import hash_password
from domain.repair import AssetKind
from domain.requester_link import requester_link_token
from domain.sepas import BankEntryText
from domain.shams import LinkType, SiteKind, SiteState
from domain.uploads import UploadKind, check
from tests import samples
from tests.factories import form_data, open_case
from tests.security.conftest import DEMO_PASSWORD, RATE_LIMIT, SecurityStack

PUBLIC = "public"
LOGGED_IN = frozenset(STAFF_ROLES)
ADMIN_ONLY = frozenset({Role.admin})
SUPERVISORS = frozenset({Role.admin, Role.operator, Role.it_supervisor})
CASE_READERS = SUPERVISORS | {Role.email_admin}
"""The case's task is email_admin's: its cartable holders and the supervisors see the case."""
TASK_READERS = frozenset({Role.admin, Role.email_admin})
TASK_DECIDERS = frozenset({Role.email_admin})
"""Deciding takes the step's role: admin is not enough (the workflow's validator checks it)."""
CODEC_USERS = frozenset({Role.admin, Role.operator})
REGISTER_MANAGERS = frozenset({Role.admin, Role.support_lead})
"""Who changes the equipment register and the vendors (process 2)."""
REGISTER_READERS = REGISTER_MANAGERS | {Role.technician, Role.it_supervisor}
COUNTY_MANAGERS = frozenset({Role.admin, Role.it_office})
ROLLOUT_STARTERS = frozenset({Role.admin, Role.it_office})
CARRIERS = frozenset({Role.admin, Role.carrier})
"""The carrier's bulk reports (a row for a site it was not sent is answered rejected)."""
"""Who starts a SHAMS rollout (processes/shams.py's starters, and admins)."""
"""Who keeps the SHAMS counties' list (process 4)."""
COUNTY_READERS = COUNTY_MANAGERS | {Role.it_director}
SITE_UPLOADERS = COUNTY_MANAGERS | {Role.county_network}
SITE_READERS = SITE_UPLOADERS | {Role.it_director, Role.carrier}
SITE_CANCELLERS = COUNTY_MANAGERS
"""Who stops one site of its rollout (the matrix's site is in none: allowed callers get 409)."""
"""The matrix's site is of the demo county login's county and sent to the carrier: every site
reader sees it (scopes are tested in tests/api/test_shams_register.py)."""
BOARD_READERS = COUNTY_READERS | {Role.it_supervisor, Role.county_network, Role.carrier}
"""The SHAMS rollout board; its county pages are asked about the demo county login's county,
which every board reader may open (scopes are tested in tests/api/test_shams_board.py)."""
SEPAS_KEEPERS = frozenset({Role.admin, Role.sepas_expert})
"""Who keeps the SEPAS hospitals, HIS vendors and error bank, and uploads SRM's exports."""
BANK_READERS = SEPAS_KEEPERS | {Role.hospital_it, Role.his_vendor}
SRM_READERS = BANK_READERS
SEPAS_REPORTERS = SEPAS_KEEPERS | {Role.hospital_it}
LETTER_SENDERS = frozenset({Role.admin, Role.automation_admin, Role.unit_secretary})
"""Who sends an appointment letter (processes/office_automation.py's starters): the matrix sends
one of the demo `unit_secretary` login's unit, naming no stored letter (422 past the gate)."""
"""Who reports a SEPAS problem (processes/sepas.py's starters): the matrix reports for the demo
`hospital_it` login's hospital (another hospital's report is tested in tests/api)."""
"""Asked about the demo `hospital_it` login's hospital, whose HIS the demo `his_vendor` login's
company supports (scopes are tested in tests/api/test_sepas_register.py)."""

AUTOMATION_KEEPERS = frozenset({Role.admin, Role.automation_admin})
"""Who keeps the office-automation units and posts (process 3)."""
AUTOMATION_READERS = AUTOMATION_KEEPERS | {Role.unit_secretary}
"""Asked about the demo `unit_secretary` login's unit (scopes are tested in
tests/api/test_automation_register.py)."""

# (method, path) → who is let in. ("MOUNT", path) is a mounted app (static files).
ACCESS: dict[tuple[str, str], str | frozenset[Role]] = {
    # documentation and ops
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
    ("GET", "/api/health"): PUBLIC,
    ("POST", "/codec/decode"): CODEC_USERS,
    ("POST", "/codec/encode"): CODEC_USERS,
    # JSON API
    ("POST", "/api/auth/token"): PUBLIC,
    ("GET", "/api/auth/me"): LOGGED_IN,
    ("POST", "/api/auth/logout"): LOGGED_IN,
    ("POST", "/api/auth/logout-all"): LOGGED_IN,
    ("POST", "/api/email-requests"): PUBLIC,
    ("GET", "/api/track/{tracking_code}"): PUBLIC,
    ("POST", "/api/track/{tracking_code}/password"): PUBLIC,
    ("POST", "/api/track/{tracking_code}/tasks/{task_id}"): PUBLIC,
    ("GET", "/api/tasks"): LOGGED_IN,
    ("GET", "/api/tasks/{task_id}"): TASK_READERS,
    ("POST", "/api/tasks/{task_id}/complete"): TASK_DECIDERS,
    ("POST", "/api/tasks/{task_id}/reassign"): ADMIN_ONLY,
    ("GET", "/api/cases/{tracking_code}"): CASE_READERS,
    ("POST", "/api/cases/{tracking_code}/comments"): CASE_READERS,
    ("POST", "/api/cases/{tracking_code}/cancel"): ADMIN_ONLY,
    ("GET", "/api/admin/users"): ADMIN_ONLY,
    ("POST", "/api/admin/users"): ADMIN_ONLY,
    ("PATCH", "/api/admin/users/{username}"): ADMIN_ONLY,
    ("POST", "/api/admin/users/{username}/password"): ADMIN_ONLY,
    ("GET", "/api/admin/holidays"): ADMIN_ONLY,
    ("PUT", "/api/admin/holidays/{day}"): ADMIN_ONLY,
    ("DELETE", "/api/admin/holidays/{day}"): ADMIN_ONLY,
    ("POST", "/api/admin/people/import"): ADMIN_ONLY,
    ("GET", "/api/admin/logins"): ADMIN_ONLY,
    ("GET", "/api/admin/audit"): ADMIN_ONLY,
    ("POST", "/api/repair-requests"): PUBLIC,
    ("POST", "/api/sepas-reports"): SEPAS_REPORTERS,
    ("POST", "/api/appointment-letters"): LETTER_SENDERS,
    ("POST", "/api/end-of-appointment-letters"): LETTER_SENDERS,
    # The one-time link and the head's national code let the head in, no login.
    ("POST", "/api/handover/{token}"): PUBLIC,
    ("POST", "/api/handover/{token}/confirm"): PUBLIC,
    ("POST", "/api/sepas/jira-webhook"): PUBLIC,
    ("GET", "/api/repair/vendors"): REGISTER_READERS,
    ("POST", "/api/repair/vendors"): REGISTER_MANAGERS,
    ("PATCH", "/api/repair/vendors/{vendor_id}"): REGISTER_MANAGERS,
    ("GET", "/api/repair/assets"): REGISTER_READERS,
    ("GET", "/api/repair/assets/{property_number:path}"): REGISTER_READERS,
    ("POST", "/api/repair/assets/import"): REGISTER_MANAGERS,
    ("POST", "/api/files"): CASE_READERS,
    ("GET", "/api/files/{file_id}"): CASE_READERS,
    ("POST", "/api/shams-rollouts"): ROLLOUT_STARTERS,
    ("GET", "/api/shams/counties"): COUNTY_READERS,
    ("POST", "/api/shams/counties"): COUNTY_MANAGERS,
    ("PATCH", "/api/shams/counties/{code}"): COUNTY_MANAGERS,
    ("POST", "/api/shams/counties/import"): COUNTY_MANAGERS,
    ("GET", "/api/shams/sites"): SITE_READERS,
    ("GET", "/api/shams/sites/template"): SITE_UPLOADERS,
    ("GET", "/api/shams/sites/export"): SITE_READERS,
    ("POST", "/api/shams/sites/import"): SITE_UPLOADERS,
    ("POST", "/api/shams/sites"): SITE_UPLOADERS,
    ("GET", "/api/shams/sites/{site_code}"): SITE_READERS,
    ("POST", "/api/shams/sites/{site_code}/cancel"): SITE_CANCELLERS,
    ("POST", "/api/shams/carrier/reports"): CARRIERS,
    ("POST", "/api/shams/carrier/reports/upload"): CARRIERS,
    ("GET", "/api/shams/carrier/reports/template"): CARRIERS,
    ("GET", "/api/shams/board"): BOARD_READERS,
    ("GET", "/api/shams/board/export"): BOARD_READERS,
    ("GET", "/api/shams/board/progress"): BOARD_READERS,
    ("GET", "/api/shams/board/progress/export"): BOARD_READERS,
    ("GET", "/api/shams/board/counties/{code}"): BOARD_READERS,
    ("GET", "/api/shams/board/counties/{code}/export"): BOARD_READERS,
    ("GET", "/api/sepas/his-vendors"): SEPAS_KEEPERS,
    ("POST", "/api/sepas/his-vendors"): SEPAS_KEEPERS,
    ("PATCH", "/api/sepas/his-vendors/{vendor_id}"): SEPAS_KEEPERS,
    ("GET", "/api/sepas/hospitals"): SEPAS_KEEPERS,
    ("POST", "/api/sepas/hospitals"): SEPAS_KEEPERS,
    ("PATCH", "/api/sepas/hospitals/{code}"): SEPAS_KEEPERS,
    ("GET", "/api/sepas/error-bank"): BANK_READERS,
    ("GET", "/api/sepas/error-bank/{entry_id}"): BANK_READERS,
    ("POST", "/api/sepas/error-bank"): SEPAS_KEEPERS,
    ("PATCH", "/api/sepas/error-bank/{entry_id}"): SEPAS_KEEPERS,
    ("POST", "/api/sepas/srm/import"): SEPAS_KEEPERS,
    ("GET", "/api/sepas/hospitals/{code}/srm-errors"): SRM_READERS,
    ("GET", "/api/automation/units"): AUTOMATION_READERS,
    ("POST", "/api/automation/units"): AUTOMATION_KEEPERS,
    ("PATCH", "/api/automation/units/{code}"): AUTOMATION_KEEPERS,
    ("POST", "/api/automation/units/import"): AUTOMATION_KEEPERS,
    ("GET", "/api/automation/units/{code}"): AUTOMATION_READERS,
    ("GET", "/api/automation/posts"): AUTOMATION_READERS,
    ("POST", "/api/automation/posts"): AUTOMATION_KEEPERS,
    # web pages
    ("MOUNT", "/static"): PUBLIC,
    ("GET", "/"): PUBLIC,
    ("GET", "/lang/{code}"): PUBLIC,
    ("GET", "/email/new"): PUBLIC,
    ("POST", "/email/new"): PUBLIC,
    ("GET", "/receipt/{code}"): PUBLIC,
    ("GET", "/track"): PUBLIC,
    ("POST", "/track"): PUBLIC,
    ("POST", "/track/password"): PUBLIC,
    ("GET", "/track/{code}"): PUBLIC,
    ("POST", "/track/{code}/tasks/{task_id}"): PUBLIC,
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("POST", "/logout"): PUBLIC,
    ("POST", "/logout-all"): LOGGED_IN,
    ("GET", "/cartable"): LOGGED_IN,
    ("GET", "/tasks/{task_id}"): TASK_READERS,
    ("POST", "/tasks/{task_id}"): TASK_DECIDERS,
    ("POST", "/tasks/{task_id}/reassign"): ADMIN_ONLY,
    ("GET", "/cases/{code}"): CASE_READERS,
    ("POST", "/cases/{code}/comments"): CASE_READERS,
    ("POST", "/cases/{code}/cancel"): ADMIN_ONLY,
    ("GET", "/admin/users"): ADMIN_ONLY,
    ("POST", "/admin/users"): ADMIN_ONLY,
    ("POST", "/admin/users/{username}/active"): ADMIN_ONLY,
    ("POST", "/admin/users/{username}/password"): ADMIN_ONLY,
    ("GET", "/admin/holidays"): ADMIN_ONLY,
    ("POST", "/admin/holidays"): ADMIN_ONLY,
    ("POST", "/admin/holidays/{day}/delete"): ADMIN_ONLY,
    ("GET", "/admin/logins"): ADMIN_ONLY,
    ("GET", "/admin/audit"): ADMIN_ONLY,
    ("GET", "/repair/new"): PUBLIC,
    ("GET", "/sepas/new"): SEPAS_REPORTERS,
    ("GET", "/automation/new"): LETTER_SENDERS,
    ("POST", "/automation/new"): LETTER_SENDERS,
    ("GET", "/automation/end"): LETTER_SENDERS,
    ("POST", "/automation/end"): LETTER_SENDERS,
    ("GET", "/handover/{token}"): PUBLIC,
    ("POST", "/handover/{token}"): PUBLIC,
    ("POST", "/handover/{token}/confirm"): PUBLIC,
    ("POST", "/sepas/new"): SEPAS_REPORTERS,
    ("POST", "/repair/new"): PUBLIC,
    ("GET", "/admin/assets"): REGISTER_READERS,
    ("POST", "/admin/assets/import"): REGISTER_MANAGERS,
    ("GET", "/assets/{property_number:path}"): REGISTER_READERS,
    ("GET", "/admin/vendors"): REGISTER_READERS,
    ("POST", "/admin/vendors"): REGISTER_MANAGERS,
    ("POST", "/admin/vendors/{vendor_id}"): REGISTER_MANAGERS,
    ("POST", "/admin/vendors/{vendor_id}/active"): REGISTER_MANAGERS,
    ("GET", "/shams/new"): ROLLOUT_STARTERS,
    ("GET", "/shams/carrier"): CARRIERS,
    ("POST", "/shams/carrier/reports"): CARRIERS,
    ("GET", "/shams/carrier/template"): CARRIERS,
    ("POST", "/shams/new"): ROLLOUT_STARTERS,
    ("GET", "/admin/shams/sites"): SITE_READERS,
    ("POST", "/admin/shams/sites/import"): SITE_UPLOADERS,
    ("POST", "/shams/tasks/{task_id}/site"): SITE_UPLOADERS,
    ("GET", "/admin/shams/sites/template"): SITE_UPLOADERS,
    ("GET", "/admin/shams/sites/export"): SITE_READERS,
    ("GET", "/shams/sites/{site_code}"): SITE_READERS,
    ("GET", "/admin/shams/counties"): COUNTY_READERS,
    ("POST", "/admin/shams/counties"): COUNTY_MANAGERS,
    ("POST", "/admin/shams/counties/{code}"): COUNTY_MANAGERS,
    ("GET", "/shams/board"): BOARD_READERS,
    ("GET", "/shams/board/export"): BOARD_READERS,
    ("GET", "/shams/board/progress/export"): BOARD_READERS,
    ("GET", "/shams/board/counties/{code}"): BOARD_READERS,
    ("GET", "/shams/board/counties/{code}/export"): BOARD_READERS,
    ("GET", "/admin/sepas/error-bank"): BANK_READERS,
    ("POST", "/admin/sepas/error-bank"): SEPAS_KEEPERS,
    ("POST", "/admin/sepas/error-bank/{entry_id}"): SEPAS_KEEPERS,
    ("GET", "/admin/sepas/hospitals"): SEPAS_KEEPERS,
    ("GET", "/admin/automation/units"): AUTOMATION_READERS,
    ("POST", "/admin/automation/units"): AUTOMATION_KEEPERS,
    ("POST", "/admin/automation/units/import"): AUTOMATION_KEEPERS,
    ("POST", "/admin/automation/units/{code}"): AUTOMATION_KEEPERS,
    ("GET", "/admin/automation/units/{code}"): AUTOMATION_READERS,
    ("POST", "/admin/automation/units/{code}/posts"): AUTOMATION_KEEPERS,
    ("GET", "/admin/sepas/srm"): SEPAS_KEEPERS,
    ("POST", "/admin/sepas/srm/import"): SEPAS_KEEPERS,
}

ANONYMOUS = "anonymous"
PRINCIPALS: list[str] = [ANONYMOUS, *(r.value for r in STAFF_ROLES)]
"""Anonymous, then the seeded demo user of each role a login may hold (username = role, every
scope); the requester role is no login's, and acts only through the tracking routes."""


@dataclass
class Fixtures:
    """Real objects the matrix calls are about, made through the API on the running stack."""

    case_code: str
    case_national_code: str
    case_link_token: str
    """The `k` of the link sent to the case's requester."""
    task_id: str
    cancel_code: str
    page_cancel_code: str
    reassign_task_id: str
    page_reassign_task_id: str
    target_user: str
    vendor_id: int
    property_number: str
    file_id: int
    """A letter kept for the case `case_code`."""
    county_code: str
    """A SHAMS county made for the matrix (its edits touch no demo county)."""
    site_code: str
    his_vendor_id: int
    hospital_code: str
    """A SEPAS hospital made for the matrix (its edits touch no demo hospital)."""
    bank_entry_id: int
    """An error bank entry made for the matrix."""
    unit_code: str
    """An office-automation unit made for the matrix (its page's edits touch no demo unit)."""


Call = Callable[[Fixtures, str], dict[str, Any]]
"""How to call a route: (fixtures, principal) → httpx.request arguments, path filled in.

`page: True` sends the session cookie and a CSRF token instead of the bearer token;
`method` overrides the table's (for a mount)."""

HOLIDAY = "2031-03-05"
PAGE_HOLIDAY = (1415, 6, 10)
CSRF = "matrix-csrf-token"
REGISTRY_HEADER = "national_code,member_id,first_name,last_name,affiliation,unit\n"
ASSET_HEADER = "property_number,kind\n"
"""A register with no rows: the import checks it and writes nothing."""
SITE_HEADER = ",".join(SITE_FIELD_FA).encode() + b"\n"
COUNTY_HEADER = b"code,name\n"
DEMO_COUNTY = demo_counties()[0].code
"""The demo `county_network` login's county."""
DEMO_HOSPITAL = "H1001"
"""The demo `hospital_it` login's hospital (db/seed.py)."""
SRM_HEADER = ",".join(SRM_FIELD_FA).encode() + b"\n"
DEMO_UNIT = demo_units()[0].code
"""The demo `unit_secretary` login's unit."""
UNIT_HEADER = b"code,name,head_name,head_national_code,head_mobile\n"
"""An SRM export with no rows: every allowed upload is the same file, imported once."""


def bank_entry(principal: str) -> dict[str, Any]:
    return {
        "message": f"Matrix error {principal} {uuid.uuid4().hex[:8]}",
        "category": "other",
        "cause_fa": "علت",
        "cause_en": "cause",
        "remedy_fa": "راه",
        "remedy_en": "fix",
    }


def automation_unit(code: str, principal: str) -> dict[str, Any]:
    """A unit as the units' page posts it (every field: the form is sent whole)."""
    return {
        "code": code,
        "name": f"واحد {principal}",
        "head_name": "مدیر ماتریس",
        "head_national_code": "0024173861",
        "head_mobile": "09121234567",
        "active": "true",
    }


def repair_report() -> dict[str, Any]:
    return {
        "personnel_number": "12345",
        "mobile": "09351234567",
        "full_name": "مریم احمدی",
        "unit": "امور مالی",
        "kind": "printer",
        "location": "ستاد، اتاق ۲۰۴",
        "problem": "آزمون دسترسی",
    }


def sepas_report() -> dict[str, Any]:
    return {
        "hospital_code": DEMO_HOSPITAL,
        "reporter_name": "علی رضایی",
        "mobile": "09121234567",
        "what_fails": "آزمون دسترسی",
        "since": "2026-11-30",
    }


def appointment_letter() -> dict[str, Any]:
    return {
        "letter_number": "1234/ص",
        "letter_date": "2026-11-30",
        "national_code": "0012345679",
        "first_name": "مریم",
        "last_name": "احمدی",
        "personnel_number": "12345",
        "mobile": "09351234567",
        "post_title": "کارشناس ماتریس",
        "unit_code": DEMO_UNIT,
        "effective_date": "2026-12-01",
        "letter_file_id": 999_999_999,
    }


def end_of_appointment() -> dict[str, Any]:
    return {
        "letter_number": "9876/ص",
        "letter_date": "2026-11-30",
        "national_code": "0012345679",
        "unit_code": DEMO_UNIT,
        "post_code": "NO-SUCH-POST",
        "end_date": "2026-12-01",
        "letter_file_id": 999_999_999,
    }


def _login_name(principal: str) -> str:
    return Role.admin.value if principal == ANONYMOUS else principal


def _page(url: str, method: str | None = None, **form: Any) -> dict[str, Any]:
    call: dict[str, Any] = {"url": url, "page": True, "data": {"csrf_token": CSRF, **form}}
    if method:
        call["method"] = method
    return call


CALLS: dict[tuple[str, str], Call] = {
    ("GET", "/openapi.json"): lambda f, p: {"url": "/openapi.json"},
    ("GET", "/docs"): lambda f, p: {"url": "/docs"},
    ("GET", "/docs/oauth2-redirect"): lambda f, p: {"url": "/docs/oauth2-redirect"},
    ("GET", "/redoc"): lambda f, p: {"url": "/redoc"},
    ("GET", "/api/health"): lambda f, p: {"url": "/api/health"},
    ("POST", "/codec/decode"): lambda f, p: {"url": "/codec/decode", "json": {"payloads": []}},
    ("POST", "/codec/encode"): lambda f, p: {"url": "/codec/encode", "json": {"payloads": []}},
    ("POST", "/api/auth/token"): lambda f, p: {
        "url": "/api/auth/token",
        "data": {"username": _login_name(p), "password": DEMO_PASSWORD},
    },
    ("GET", "/api/auth/me"): lambda f, p: {"url": "/api/auth/me"},
    # Each call carries a token of its own, issued for it: voiding it harms no other call.
    ("POST", "/api/auth/logout"): lambda f, p: {"url": "/api/auth/logout"},
    ("POST", "/api/auth/logout-all"): lambda f, p: {"url": "/api/auth/logout-all"},
    ("POST", "/api/email-requests"): lambda f, p: {
        "url": "/api/email-requests",
        "json": form_data(),
    },
    ("GET", "/api/track/{tracking_code}"): lambda f, p: {
        "url": f"/api/track/{f.case_code}",
        "params": {"national_code": f.case_national_code},
    },
    ("POST", "/api/track/{tracking_code}/password"): lambda f, p: {
        # The right second factor on an open case: 410 password_gone, nothing is consumed.
        "url": f"/api/track/{f.case_code}/password",
        "json": {"national_code": f.case_national_code},
    },
    ("POST", "/api/track/{tracking_code}/tasks/{task_id}"): lambda f, p: {
        # The e-mail process asks nothing of its requester: the case opens, the task is not
        # found (a staff task of the case would be 403 task_not_yours, to anyone).
        "url": f"/api/track/{f.case_code}/tasks/{f.case_code}:no-such-step:1",
        "json": {"identity": f.case_national_code, "decision": {"received": True}},
    },
    ("GET", "/api/tasks"): lambda f, p: {"url": "/api/tasks"},
    ("GET", "/api/tasks/{task_id}"): lambda f, p: {"url": f"/api/tasks/{f.task_id}"},
    ("POST", "/api/tasks/{task_id}/complete"): lambda f, p: {
        "url": f"/api/tasks/{f.task_id}/complete",
        "json": {"form_complete": "not a boolean"},
    },
    ("POST", "/api/tasks/{task_id}/reassign"): lambda f, p: {
        "url": f"/api/tasks/{f.reassign_task_id}/reassign",
        "json": {"assignee": Role.email_admin.value, "reason": "authorization matrix"},
    },
    ("GET", "/api/cases/{tracking_code}"): lambda f, p: {"url": f"/api/cases/{f.case_code}"},
    ("POST", "/api/cases/{tracking_code}/comments"): lambda f, p: {
        "url": f"/api/cases/{f.case_code}/comments",
        "json": {"text": f"یادداشت {p}"},
    },
    ("POST", "/api/cases/{tracking_code}/cancel"): lambda f, p: {
        "url": f"/api/cases/{f.cancel_code}/cancel",
        "json": {"reason": "authorization matrix"},
    },
    ("GET", "/api/admin/users"): lambda f, p: {"url": "/api/admin/users"},
    ("POST", "/api/admin/users"): lambda f, p: {
        "url": "/api/admin/users",
        "json": {
            "username": f"m{uuid.uuid4().hex[:12]}",
            "password": "matrix-pass-1",
            "roles": [Role.technician.value],
        },
    },
    ("PATCH", "/api/admin/users/{username}"): lambda f, p: {
        "url": f"/api/admin/users/{f.target_user}",
        "json": {"full_name": "کاربر آزمون"},
    },
    ("POST", "/api/admin/users/{username}/password"): lambda f, p: {
        "url": f"/api/admin/users/{f.target_user}/password",
        "json": {"password": "matrix-pass-2"},
    },
    ("GET", "/api/admin/holidays"): lambda f, p: {"url": "/api/admin/holidays"},
    ("PUT", "/api/admin/holidays/{day}"): lambda f, p: {
        "url": f"/api/admin/holidays/{HOLIDAY}",
        "json": {"title": "روز آزمون"},
    },
    ("DELETE", "/api/admin/holidays/{day}"): lambda f, p: {
        "url": f"/api/admin/holidays/{HOLIDAY}",
    },
    ("POST", "/api/admin/people/import"): lambda f, p: {
        "url": "/api/admin/people/import",
        "files": {"file": ("people.csv", REGISTRY_HEADER.encode(), "text/csv")},
    },
    ("GET", "/api/admin/logins"): lambda f, p: {
        "url": "/api/admin/logins",
        "params": {"outcome": "ok"},
    },
    ("GET", "/api/admin/audit"): lambda f, p: {
        "url": "/api/admin/audit",
        "params": {"action": "user.create"},
    },
    ("POST", "/api/repair-requests"): lambda f, p: {
        "url": "/api/repair-requests",
        "json": repair_report(),
    },
    ("POST", "/api/sepas-reports"): lambda f, p: {
        "url": "/api/sepas-reports",
        "json": sepas_report(),
    },
    ("POST", "/api/appointment-letters"): lambda f, p: {
        "url": "/api/appointment-letters",
        "json": appointment_letter(),
    },
    ("POST", "/api/end-of-appointment-letters"): lambda f, p: {
        "url": "/api/end-of-appointment-letters",
        "json": end_of_appointment(),
    },
    ("POST", "/api/handover/{token}"): lambda f, p: {
        "url": "/api/handover/no-such-link",
        "json": {"national_code": "0012345679"},
    },
    ("POST", "/api/handover/{token}/confirm"): lambda f, p: {
        "url": "/api/handover/no-such-link/confirm",
        "json": {"confirm_key": "x"},
    },
    # Its secret, not a login, lets Jira in: without it the hook is not found.
    ("POST", "/api/sepas/jira-webhook"): lambda f, p: {
        "url": "/api/sepas/jira-webhook",
        "json": {"webhookEvent": "jira:issue_updated", "issue": {"key": "SEPAS-1"}},
    },
    ("GET", "/api/repair/vendors"): lambda f, p: {"url": "/api/repair/vendors"},
    ("POST", "/api/repair/vendors"): lambda f, p: {
        "url": "/api/repair/vendors",
        "json": {"name": f"شرکت {uuid.uuid4().hex[:8]}", "fields": ["pc"]},
    },
    ("PATCH", "/api/repair/vendors/{vendor_id}"): lambda f, p: {
        "url": f"/api/repair/vendors/{f.vendor_id}",
        "json": {"contact_name": f"رابط {p}"},
    },
    ("GET", "/api/repair/assets"): lambda f, p: {"url": "/api/repair/assets"},
    ("GET", "/api/repair/assets/{property_number:path}"): lambda f, p: {
        "url": f"/api/repair/assets/{f.property_number}"
    },
    ("POST", "/api/repair/assets/import"): lambda f, p: {
        "url": "/api/repair/assets/import",
        "params": {"dry_run": "true"},
        "files": {"file": ("assets.csv", ASSET_HEADER.encode(), "text/csv")},
    },
    ("POST", "/api/files"): lambda f, p: {
        "url": "/api/files",
        "data": {"kind": "pdf", "case": f.case_code},
        "files": {"file": ("letter.pdf", samples.pdf(), "application/pdf")},
    },
    ("GET", "/api/files/{file_id}"): lambda f, p: {"url": f"/api/files/{f.file_id}"},
    ("POST", "/api/shams-rollouts"): lambda f, p: {
        "url": "/api/shams-rollouts",
        "json": {"title": "مرحله آزمون دسترسی"},
    },
    ("GET", "/api/shams/counties"): lambda f, p: {"url": "/api/shams/counties"},
    ("POST", "/api/shams/counties"): lambda f, p: {
        "url": "/api/shams/counties",
        "json": {"code": f"M{uuid.uuid4().hex[:10]}", "name": f"شبکه {p}"},
    },
    ("PATCH", "/api/shams/counties/{code}"): lambda f, p: {
        "url": f"/api/shams/counties/{f.county_code}",
        "json": {"contact_name": f"رابط {p}"},
    },
    ("POST", "/api/shams/counties/import"): lambda f, p: {
        "url": "/api/shams/counties/import",
        "params": {"dry_run": "true"},
        "files": {"file": ("counties.csv", COUNTY_HEADER, "text/csv")},
    },
    ("GET", "/api/shams/sites"): lambda f, p: {"url": "/api/shams/sites"},
    ("GET", "/api/shams/sites/template"): lambda f, p: {"url": "/api/shams/sites/template"},
    ("GET", "/api/shams/sites/export"): lambda f, p: {"url": "/api/shams/sites/export"},
    ("POST", "/api/shams/sites/import"): lambda f, p: {
        "url": "/api/shams/sites/import",
        "params": {"dry_run": "true"},
        "files": {"file": ("sites.csv", SITE_HEADER, "text/csv")},
    },
    ("GET", "/api/shams/sites/{site_code}"): lambda f, p: {
        "url": f"/api/shams/sites/{f.site_code}"
    },
    ("POST", "/api/shams/sites"): lambda f, p: {
        "url": "/api/shams/sites",
        "json": {"county_code": DEMO_COUNTY, "site_code": ""},
    },
    ("POST", "/api/shams/sites/{site_code}/cancel"): lambda f, p: {
        "url": f"/api/shams/sites/{f.site_code}/cancel",
        "json": {"reason": "آزمون دسترسی"},
    },
    ("POST", "/api/shams/carrier/reports"): lambda f, p: {
        "url": "/api/shams/carrier/reports",
        "json": {"rows": [{"site_code": "no-such-site", "report": "line_installed"}]},
    },
    ("POST", "/api/shams/carrier/reports/upload"): lambda f, p: {
        "url": "/api/shams/carrier/reports/upload",
        "files": {"file": ("c.csv", "site_code,report\r\nno-such-site,line_installed\r\n")},
    },
    ("GET", "/api/shams/carrier/reports/template"): lambda f, p: {
        "url": "/api/shams/carrier/reports/template"
    },
    ("GET", "/api/shams/board"): lambda f, p: {"url": "/api/shams/board"},
    ("GET", "/api/shams/board/export"): lambda f, p: {"url": "/api/shams/board/export"},
    ("GET", "/api/shams/board/progress"): lambda f, p: {"url": "/api/shams/board/progress"},
    ("GET", "/api/shams/board/progress/export"): lambda f, p: {
        "url": "/api/shams/board/progress/export"
    },
    ("GET", "/api/shams/board/counties/{code}"): lambda f, p: {
        "url": f"/api/shams/board/counties/{DEMO_COUNTY}"
    },
    ("GET", "/api/shams/board/counties/{code}/export"): lambda f, p: {
        "url": f"/api/shams/board/counties/{DEMO_COUNTY}/export"
    },
    ("GET", "/api/sepas/his-vendors"): lambda f, p: {"url": "/api/sepas/his-vendors"},
    ("POST", "/api/sepas/his-vendors"): lambda f, p: {
        "url": "/api/sepas/his-vendors",
        "json": {"name": f"شرکت HIS {uuid.uuid4().hex[:8]}"},
    },
    ("PATCH", "/api/sepas/his-vendors/{vendor_id}"): lambda f, p: {
        "url": f"/api/sepas/his-vendors/{f.his_vendor_id}",
        "json": {"contact_name": f"رابط {p}"},
    },
    ("GET", "/api/sepas/hospitals"): lambda f, p: {"url": "/api/sepas/hospitals"},
    ("POST", "/api/sepas/hospitals"): lambda f, p: {
        "url": "/api/sepas/hospitals",
        "json": {"code": f"M{uuid.uuid4().hex[:10]}", "name": f"بیمارستان {p}"},
    },
    ("PATCH", "/api/sepas/hospitals/{code}"): lambda f, p: {
        "url": f"/api/sepas/hospitals/{f.hospital_code}",
        "json": {"his_product": f"HIS {p}"},
    },
    ("GET", "/api/sepas/error-bank"): lambda f, p: {"url": "/api/sepas/error-bank"},
    ("GET", "/api/sepas/error-bank/{entry_id}"): lambda f, p: {
        "url": f"/api/sepas/error-bank/{f.bank_entry_id}"
    },
    ("POST", "/api/sepas/error-bank"): lambda f, p: {
        "url": "/api/sepas/error-bank",
        "json": bank_entry(p),
    },
    ("PATCH", "/api/sepas/error-bank/{entry_id}"): lambda f, p: {
        "url": f"/api/sepas/error-bank/{f.bank_entry_id}",
        "json": {"remedy_en": f"fix {p}"},
    },
    ("POST", "/api/sepas/srm/import"): lambda f, p: {
        "url": "/api/sepas/srm/import",
        "files": {"file": ("srm.csv", SRM_HEADER, "text/csv")},
    },
    ("GET", "/api/sepas/hospitals/{code}/srm-errors"): lambda f, p: {
        "url": f"/api/sepas/hospitals/{DEMO_HOSPITAL}/srm-errors"
    },
    ("GET", "/api/automation/units"): lambda f, p: {"url": "/api/automation/units"},
    ("POST", "/api/automation/units"): lambda f, p: {
        "url": "/api/automation/units",
        "json": {
            "code": f"M{uuid.uuid4().hex[:10]}",
            "name": f"واحد {p}",
            "head_name": "مدیر ماتریس",
            "head_national_code": "0024173861",
            "head_mobile": "09121234567",
        },
    },
    ("PATCH", "/api/automation/units/{code}"): lambda f, p: {
        "url": f"/api/automation/units/{DEMO_UNIT}",
        "json": {"head_email": f"{p}@example.com"},
    },
    ("POST", "/api/automation/units/import"): lambda f, p: {
        "url": "/api/automation/units/import",
        "params": {"dry_run": "true"},
        "files": {"file": ("units.csv", UNIT_HEADER, "text/csv")},
    },
    ("GET", "/api/automation/units/{code}"): lambda f, p: {
        "url": f"/api/automation/units/{DEMO_UNIT}"
    },
    ("GET", "/api/automation/posts"): lambda f, p: {"url": "/api/automation/posts"},
    ("POST", "/api/automation/posts"): lambda f, p: {
        "url": "/api/automation/posts",
        "json": {"unit_code": DEMO_UNIT, "title": f"پست ماتریس {p}"},
    },
    ("MOUNT", "/static"): lambda f, p: {"url": "/static/style.css", "method": "GET"},
    ("GET", "/"): lambda f, p: _page("/"),
    ("GET", "/lang/{code}"): lambda f, p: _page("/lang/en?next=/track"),
    ("GET", "/email/new"): lambda f, p: _page("/email/new"),
    ("POST", "/email/new"): lambda f, p: _page(
        "/email/new", form_token=str(uuid.uuid4()), **form_data()
    ),
    ("GET", "/receipt/{code}"): lambda f, p: _page(f"/receipt/{f.case_code}?sig=0"),
    ("GET", "/track"): lambda f, p: _page("/track"),
    ("POST", "/track"): lambda f, p: _page(
        "/track", tracking_code=f.case_code, national_code=f.case_national_code
    ),
    ("POST", "/track/password"): lambda f, p: _page(
        "/track/password", tracking_code=f.case_code, national_code=f.case_national_code
    ),
    ("GET", "/track/{code}"): lambda f, p: _page(f"/track/{f.case_code}?k={f.case_link_token}"),
    ("POST", "/track/{code}/tasks/{task_id}"): lambda f, p: _page(
        f"/track/{f.case_code}/tasks/{f.case_code}:no-such-step:1", k=f.case_link_token
    ),
    ("GET", "/repair/new"): lambda f, p: _page("/repair/new"),
    ("GET", "/sepas/new"): lambda f, p: _page("/sepas/new"),
    ("GET", "/automation/new"): lambda f, p: _page("/automation/new"),
    ("GET", "/automation/end"): lambda f, p: _page("/automation/end"),
    ("POST", "/automation/end"): lambda f, p: _page(
        "/automation/end", form_token=str(uuid.uuid4()), **end_of_appointment()
    ),
    ("POST", "/automation/new"): lambda f, p: _page(
        "/automation/new", form_token=str(uuid.uuid4()), **appointment_letter()
    ),
    ("GET", "/handover/{token}"): lambda f, p: _page("/handover/no-such-link"),
    ("POST", "/handover/{token}"): lambda f, p: _page(
        "/handover/no-such-link", national_code="0012345679"
    ),
    ("POST", "/handover/{token}/confirm"): lambda f, p: _page(
        "/handover/no-such-link/confirm", confirm_key="x"
    ),
    ("POST", "/sepas/new"): lambda f, p: _page(
        "/sepas/new", form_token=str(uuid.uuid4()), **sepas_report()
    ),
    ("GET", "/shams/new"): lambda f, p: _page("/shams/new"),
    ("GET", "/shams/carrier"): lambda f, p: _page("/shams/carrier"),
    ("POST", "/shams/carrier/reports"): lambda f, p: {
        **_page("/shams/carrier/reports"),
        "files": {"file": ("c.csv", "site_code,report\r\nno-such-site,line_installed\r\n")},
    },
    ("GET", "/shams/carrier/template"): lambda f, p: _page("/shams/carrier/template"),
    ("POST", "/shams/new"): lambda f, p: _page(
        "/shams/new", form_token=str(uuid.uuid4()), title="مرحله آزمون دسترسی"
    ),
    ("POST", "/repair/new"): lambda f, p: _page(
        "/repair/new", form_token=str(uuid.uuid4()), **repair_report()
    ),
    ("GET", "/admin/assets"): lambda f, p: _page("/admin/assets"),
    ("POST", "/admin/assets/import"): lambda f, p: {
        **_page("/admin/assets/import", dry_run="1"),
        "files": {"file": ("assets.csv", ASSET_HEADER.encode(), "text/csv")},
    },
    ("GET", "/assets/{property_number:path}"): lambda f, p: _page(f"/assets/{f.property_number}"),
    ("GET", "/admin/vendors"): lambda f, p: _page("/admin/vendors"),
    ("POST", "/admin/vendors"): lambda f, p: _page(
        "/admin/vendors", name=f"شرکت {uuid.uuid4().hex[:8]}", fields="pc"
    ),
    ("POST", "/admin/vendors/{vendor_id}"): lambda f, p: _page(
        f"/admin/vendors/{f.vendor_id}", name=f"شرکت ثابت {f.vendor_id}", fields="pc"
    ),
    ("POST", "/admin/vendors/{vendor_id}/active"): lambda f, p: _page(
        f"/admin/vendors/{f.vendor_id}/active", active="true"
    ),
    ("GET", "/admin/shams/sites"): lambda f, p: _page("/admin/shams/sites"),
    ("POST", "/admin/shams/sites/import"): lambda f, p: {
        **_page("/admin/shams/sites/import", dry_run="1"),
        "files": {"file": ("sites.csv", SITE_HEADER, "text/csv")},
    },
    ("GET", "/admin/shams/sites/template"): lambda f, p: _page("/admin/shams/sites/template"),
    ("POST", "/shams/tasks/{task_id}/site"): lambda f, p: _page(
        "/shams/tasks/no-such-task/site", name=""
    ),
    ("GET", "/admin/shams/sites/export"): lambda f, p: _page("/admin/shams/sites/export"),
    ("GET", "/shams/sites/{site_code}"): lambda f, p: _page(f"/shams/sites/{f.site_code}"),
    ("GET", "/admin/shams/counties"): lambda f, p: _page("/admin/shams/counties"),
    ("POST", "/admin/shams/counties"): lambda f, p: _page(
        "/admin/shams/counties", code=f"P{uuid.uuid4().hex[:10]}", name=f"شبکه {p}", active="true"
    ),
    ("POST", "/admin/shams/counties/{code}"): lambda f, p: _page(
        f"/admin/shams/counties/{f.county_code}", name=f"شبکه ماتریس {p}", active="true"
    ),
    ("GET", "/shams/board"): lambda f, p: _page("/shams/board"),
    ("GET", "/shams/board/export"): lambda f, p: _page("/shams/board/export"),
    ("GET", "/shams/board/progress/export"): lambda f, p: _page("/shams/board/progress/export"),
    ("GET", "/shams/board/counties/{code}"): lambda f, p: _page(
        f"/shams/board/counties/{DEMO_COUNTY}"
    ),
    ("GET", "/shams/board/counties/{code}/export"): lambda f, p: _page(
        f"/shams/board/counties/{DEMO_COUNTY}/export"
    ),
    ("GET", "/admin/sepas/error-bank"): lambda f, p: _page("/admin/sepas/error-bank"),
    ("POST", "/admin/sepas/error-bank"): lambda f, p: _page(
        "/admin/sepas/error-bank", **bank_entry(p), source="expert"
    ),
    ("POST", "/admin/sepas/error-bank/{entry_id}"): lambda f, p: _page(
        f"/admin/sepas/error-bank/{f.bank_entry_id}",
        **bank_entry(p),
        source="expert",
        active="true",
    ),
    ("GET", "/admin/sepas/hospitals"): lambda f, p: _page("/admin/sepas/hospitals"),
    ("GET", "/admin/automation/units"): lambda f, p: _page("/admin/automation/units"),
    ("POST", "/admin/automation/units"): lambda f, p: _page(
        "/admin/automation/units", **automation_unit(f"P{uuid.uuid4().hex[:10]}", p)
    ),
    ("POST", "/admin/automation/units/import"): lambda f, p: {
        **_page("/admin/automation/units/import", dry_run="1"),
        "files": {"file": ("units.csv", UNIT_HEADER, "text/csv")},
    },
    ("POST", "/admin/automation/units/{code}"): lambda f, p: _page(
        f"/admin/automation/units/{f.unit_code}", **automation_unit(f.unit_code, p)
    ),
    ("GET", "/admin/automation/units/{code}"): lambda f, p: _page(
        f"/admin/automation/units/{DEMO_UNIT}"
    ),
    ("POST", "/admin/automation/units/{code}/posts"): lambda f, p: _page(
        f"/admin/automation/units/{DEMO_UNIT}/posts", title=f"پست صفحه ماتریس {p}"
    ),
    ("GET", "/admin/sepas/srm"): lambda f, p: _page("/admin/sepas/srm"),
    ("POST", "/admin/sepas/srm/import"): lambda f, p: {
        **_page("/admin/sepas/srm/import"),
        "files": {"file": ("srm.csv", SRM_HEADER, "text/csv")},
    },
    ("GET", "/login"): lambda f, p: _page("/login"),
    ("POST", "/login"): lambda f, p: _page(
        "/login", username=_login_name(p), password=DEMO_PASSWORD
    ),
    ("POST", "/logout"): lambda f, p: _page("/logout"),
    ("POST", "/logout-all"): lambda f, p: _page("/logout-all"),
    ("GET", "/cartable"): lambda f, p: _page("/cartable"),
    ("GET", "/tasks/{task_id}"): lambda f, p: _page(f"/tasks/{f.task_id}"),
    # No field posted: form_complete is missing, which the step refuses (after the actor check).
    ("POST", "/tasks/{task_id}"): lambda f, p: _page(f"/tasks/{f.task_id}"),
    ("POST", "/tasks/{task_id}/reassign"): lambda f, p: _page(
        f"/tasks/{f.page_reassign_task_id}/reassign",
        assignee=Role.email_admin.value,
        reason="authorization matrix",
    ),
    ("GET", "/cases/{code}"): lambda f, p: _page(f"/cases/{f.case_code}"),
    ("POST", "/cases/{code}/comments"): lambda f, p: _page(
        f"/cases/{f.case_code}/comments", text=f"یادداشت {p}"
    ),
    ("POST", "/cases/{code}/cancel"): lambda f, p: _page(
        f"/cases/{f.page_cancel_code}/cancel", reason="authorization matrix"
    ),
    ("GET", "/admin/users"): lambda f, p: _page("/admin/users"),
    ("POST", "/admin/users"): lambda f, p: _page(
        "/admin/users",
        username=f"p{uuid.uuid4().hex[:12]}",
        password="matrix-pass-3",
        roles=Role.technician.value,
    ),
    ("POST", "/admin/users/{username}/active"): lambda f, p: _page(
        f"/admin/users/{f.target_user}/active", active="true"
    ),
    ("POST", "/admin/users/{username}/password"): lambda f, p: _page(
        f"/admin/users/{f.target_user}/password", password="matrix-pass-4"
    ),
    ("GET", "/admin/holidays"): lambda f, p: _page("/admin/holidays"),
    ("POST", "/admin/holidays"): lambda f, p: _page(
        "/admin/holidays", day="/".join(map(str, PAGE_HOLIDAY)), title="روز آزمون"
    ),
    ("POST", "/admin/holidays/{day}/delete"): lambda f, p: _page(
        f"/admin/holidays/{jalali_to_gregorian(*PAGE_HOLIDAY).isoformat()}/delete"
    ),
    ("GET", "/admin/logins"): lambda f, p: _page("/admin/logins?outcome=ok&page=2"),
    ("GET", "/admin/audit"): lambda f, p: _page("/admin/audit?action=user.create"),
}


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) the app answers, schema-hidden routes and mounts included."""
    found: set[tuple[str, str]] = set()

    def add(route: BaseRoute, path: str | None, methods: set[str] | None) -> None:
        if isinstance(route, Mount):
            found.add(("MOUNT", route.path))
            return
        methods = methods or {"*"}
        # Starlette answers HEAD wherever it answers GET; GET stands for both.
        found.update((m, str(path)) for m in methods if not (m == "HEAD" and "GET" in methods))

    if hasattr(fastapi_routing, "iter_route_contexts"):  # FastAPI ≥ 0.16x: lazily included routers
        for context in fastapi_routing.iter_route_contexts(app.routes):
            add(context.original_route, context.path, context.methods)
    else:
        for route in app.routes:
            add(route, getattr(route, "path", None), getattr(route, "methods", None))
    return found


def expected(allowed: str | frozenset[Role], principal: str) -> str:
    if allowed == PUBLIC:
        return "allow"
    assert isinstance(allowed, frozenset)
    if principal == ANONYMOUS:
        return "401"
    return "allow" if Role(principal) in allowed else "403"


def verdict(answer: httpx.Response) -> str:
    if answer.status_code == 401:
        return "401"
    if answer.is_redirect and answer.headers.get("location", "").startswith("/login"):
        return "401"  # a page's way of saying "log in first"
    if answer.status_code == 403:
        return "403"
    return "allow"


def request_as(
    stack: SecurityStack, http: httpx.Client, method: str, principal: str, call: dict[str, Any]
) -> httpx.Response:
    call = dict(call)
    method = call.pop("method", method)
    headers: dict[str, str] = {}
    if method == "GET":
        call.pop("data", None)
    if call.pop("page", False):
        cookies = {CSRF_COOKIE: CSRF}
        if principal != ANONYMOUS:
            cookies[SESSION_COOKIE] = issue_token(stack.settings, principal)
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    elif principal != ANONYMOUS:
        headers.update(stack.bearer(principal))
    return http.request(method, headers=headers, **call)


@pytest.fixture(scope="module")
def fixtures(sec_stack: SecurityStack) -> Fixtures:
    with sec_stack.http() as http:
        data = form_data()
        case_code = sec_stack.submit(http, data)
        cancel_code = sec_stack.submit(http)
        page_cancel_code = sec_stack.submit(http)
        reassign_code = sec_stack.submit(http)
        page_reassign_code = sec_stack.submit(http)
    target = f"target{uuid.uuid4().hex[:8]}"
    with Session(sec_stack.engine) as session:
        session.add(
            User(username=target, password_hash=hash_password("target-pass-1"), roles=["vendor"])
        )
        county = County(code=f"M{uuid.uuid4().hex[:8]}", name="شبکه ماتریس")
        site = Site(
            county_code=demo_counties()[0].code,
            site_code=f"M-{uuid.uuid4().hex[:8]}",
            name="خانه بهداشت ماتریس",
            kind=SiteKind.health_house,
            address="روستای آزمون دسترسی",
            latitude=33.98,
            longitude=51.43,
            link_type=LinkType.fibre,
            state=SiteState.sent_to_carrier,
        )
        session.add(county)
        session.add(site)
        vendor = Vendor(name=f"شرکت ماتریس {uuid.uuid4().hex[:6]}", fields=["pc"])
        asset = Asset(property_number=f"M-{uuid.uuid4().hex[:6]}", kind=AssetKind.pc)
        session.add(vendor)
        session.add(asset)
        session.commit()
        unit = Unit(**automation_unit(f"M{uuid.uuid4().hex[:10]}", "fixture") | {"active": True})
        session.add(unit)
        his_vendor = HisVendor(name=f"شرکت HIS ماتریس {uuid.uuid4().hex[:6]}")
        hospital = Hospital(code=f"M{uuid.uuid4().hex[:10]}", name="بیمارستان ماتریس")
        session.add(his_vendor)
        session.add(hospital)
        entry = add_entry(session, BankEntryText.model_validate(bank_entry("fixture")), "matrix")
        session.commit()
        sepas_ids = (his_vendor.id or 0, hospital.code, entry.id or 0)
        unit_code = unit.code
        vendor_id, property_number = vendor.id or 0, asset.property_number
        county_code, site_code = county.code, site.site_code
        case = session.exec(select(Case).where(Case.tracking_code == case_code)).one()
        letter = check(samples.pdf(), UploadKind.pdf)
        kept = store(
            session, sec_stack.settings.file_store_dir, letter, uploaded_by="admin", case_id=case.id
        )
    return Fixtures(
        case_code=case_code,
        case_national_code=data["national_code"],
        case_link_token=requester_link_token(sec_stack.settings.secret_key, case_code),
        task_id=sec_stack.wait_task(case_code, "review_form").id,
        cancel_code=cancel_code,
        page_cancel_code=page_cancel_code,
        reassign_task_id=sec_stack.wait_task(reassign_code, "review_form").id,
        page_reassign_task_id=sec_stack.wait_task(page_reassign_code, "review_form").id,
        target_user=target,
        vendor_id=vendor_id,
        property_number=property_number,
        file_id=kept.id or 0,
        county_code=county_code,
        site_code=site_code,
        his_vendor_id=sepas_ids[0],
        hospital_code=sepas_ids[1],
        bank_entry_id=sepas_ids[2],
        unit_code=unit_code,
    )


def test_every_route_is_in_the_table(sec_stack: SecurityStack) -> None:
    app = create_app(sec_stack.settings, engine=sec_stack.engine, temporal=object())  # type: ignore[arg-type]
    routes = app_routes(app)
    assert routes - ACCESS.keys() == set(), "routes without a policy: add them to ACCESS"
    assert ACCESS.keys() - routes == set(), "ACCESS lists routes the app no longer has"
    assert CALLS.keys() == ACCESS.keys()


@pytest.mark.parametrize(("method", "path"), list(ACCESS), ids=[f"{m} {p}" for m, p in ACCESS])
def test_authorization_matrix(
    sec_stack: SecurityStack, fixtures: Fixtures, method: str, path: str
) -> None:
    allowed = ACCESS[(method, path)]
    wrong: list[str] = []
    with sec_stack.http() as http:
        for principal in PRINCIPALS:
            answer = request_as(
                sec_stack, http, method, principal, CALLS[(method, path)](fixtures, principal)
            )
            assert answer.status_code < 500, f"{principal}: {answer.status_code} {answer.text}"
            if verdict(answer) != expected(allowed, principal):
                wrong.append(
                    f"{principal}: expected {expected(allowed, principal)}, "
                    f"got {answer.status_code} {answer.text[:200]}"
                )
    assert wrong == [], f"{method} {path}:\n" + "\n".join(wrong)


def test_the_api_ignores_the_session_cookie(sec_stack: SecurityStack) -> None:
    """A cookie rides along on cross-site requests: the JSON API listens to bearer tokens only."""
    cookie = {"Cookie": f"{SESSION_COOKIE}={issue_token(sec_stack.settings, Role.admin.value)}"}
    with sec_stack.http() as http:
        assert http.get("/api/auth/me", headers=cookie).status_code == 401
        assert http.get("/api/admin/users", headers=cookie).status_code == 401
        created = http.post(
            "/api/admin/users",
            json={"username": "csrfvictim", "password": "x" * 12, "roles": ["admin"]},
            headers=cookie,
        )
        assert created.status_code == 401


# --- scopes ------------------------------------------------------------------------------------


def _scoped_user(stack: SecurityStack, scope: str) -> tuple[str, dict[str, str]]:
    username = f"scope{uuid.uuid4().hex[:8]}"
    with Session(stack.engine) as session:
        session.add(
            User(
                username=username,
                password_hash=hash_password("scope-pass-1"),
                roles=[Role.email_admin.value],
                scopes=[scope],
            )
        )
        session.commit()
    return username, stack.bearer(username)


def test_another_scopes_task_is_denied(sec_stack: SecurityStack) -> None:
    case = open_case(sec_stack.engine, form_data())
    assert case.id is not None
    task_id = f"scope-test-{uuid.uuid4().hex[:8]}"
    with Session(sec_stack.engine) as session:
        session.add(
            Task(
                id=task_id,
                case_id=case.id,
                process="email_account",
                step="review_form",
                title_fa="بررسی فرم ارسالی",
                title_en="Review the submitted form",
                role=Role.email_admin.value,
                scope="unit-A",
                status=TaskStatus.open,
                due_at=case.created_at,
            )
        )
        session.commit()
    outsider_name, outsider = _scoped_user(sec_stack, "unit-B")
    _, insider = _scoped_user(sec_stack, "unit-A")
    decision = {"form_complete": True}
    with sec_stack.http() as http:
        assert http.get(f"/api/tasks/{task_id}", headers=outsider).status_code == 403
        page = request_as(sec_stack, http, "GET", outsider_name, _page(f"/tasks/{task_id}"))
        assert page.status_code == 403
        page_decision = _page(f"/tasks/{task_id}", form_complete="true")
        assert request_as(sec_stack, http, "POST", outsider_name, page_decision).status_code == 403
        refused = http.post(f"/api/tasks/{task_id}/complete", json=decision, headers=outsider)
        assert refused.status_code == 403, refused.text
        assert http.get(f"/api/cases/{case.tracking_code}", headers=outsider).status_code == 403
        comment = http.post(
            f"/api/cases/{case.tracking_code}/comments", json={"text": "x"}, headers=outsider
        )
        assert comment.status_code == 403
        listed = http.get("/api/tasks", headers=outsider, params={"overdue": False}).json()
        assert task_id not in {t["id"] for t in listed["items"]}

        # The same role within the task's scope is let in (the task has no workflow: 409 after).
        assert http.get(f"/api/tasks/{task_id}", headers=insider).status_code == 200
        let_in = http.post(f"/api/tasks/{task_id}/complete", json=decision, headers=insider)
        assert let_in.status_code not in (401, 403), let_in.text
        listed = http.get("/api/tasks", headers=insider, params={"overdue": False}).json()
        assert task_id in {t["id"] for t in listed["items"]}


# --- the public lookup ---------------------------------------------------------------------------


def _same_answer(
    one: httpx.Response, other: httpx.Response, echoed: tuple[str, str] | None = None
) -> None:
    """Same status, body and headers (but the date); `echoed`: the two typed codes, which a
    page shows back in its form, are blanked first."""
    assert one.status_code == other.status_code
    if echoed is None:
        assert one.content == other.content
    else:
        assert len(echoed[0]) == len(echoed[1])
        blank = b"<typed code>"
        assert one.content.replace(echoed[0].encode(), blank) == other.content.replace(
            echoed[1].encode(), blank
        )
    strip = {"date"}
    assert {k: v for k, v in one.headers.items() if k not in strip} == {
        k: v for k, v in other.headers.items() if k not in strip
    }


def test_wrong_second_factor_is_indistinguishable(
    sec_stack: SecurityStack, fixtures: Fixtures
) -> None:
    right = fixtures.case_national_code
    other = form_data()["national_code"]
    assert other != right
    unknown_code = "1000000009"
    with sec_stack.http() as http:
        assert (
            http.get(f"/api/track/{fixtures.case_code}", params={"national_code": right})
        ).status_code == 200
        for lang in ("fa", "en"):
            headers = {"Accept-Language": lang}
            wrong = http.get(
                f"/api/track/{fixtures.case_code}",
                params={"national_code": other},
                headers=headers,
            )
            unknown = http.get(
                f"/api/track/{unknown_code}", params={"national_code": right}, headers=headers
            )
            assert wrong.status_code == 404
            _same_answer(wrong, unknown)
            wrong_reveal = http.post(
                f"/api/track/{fixtures.case_code}/password",
                json={"national_code": other},
                headers=headers,
            )
            unknown_reveal = http.post(
                f"/api/track/{unknown_code}/password",
                json={"national_code": right},
                headers=headers,
            )
            assert wrong_reveal.status_code == 404
            _same_answer(wrong_reveal, unknown_reveal)
            # The web page's forms: the same page for both.
            page = {**headers, "Cookie": f"{CSRF_COOKIE}={CSRF}"}
            for route in ("/track", "/track/password"):
                wrong_page = http.post(
                    route,
                    data={
                        "csrf_token": CSRF,
                        "tracking_code": fixtures.case_code,
                        "national_code": other,
                    },
                    headers=page,
                )
                unknown_page = http.post(
                    route,
                    data={
                        "csrf_token": CSRF,
                        "tracking_code": unknown_code,
                        "national_code": right,
                    },
                    headers=page,
                )
                assert wrong_page.status_code == 404, route
                _same_answer(wrong_page, unknown_page, echoed=(fixtures.case_code, unknown_code))


def test_lookup_rate_limit_per_client(sec_stack: SecurityStack) -> None:
    def client(address: str) -> httpx.Client:
        transport = httpx.HTTPTransport(local_address=address)
        return httpx.Client(base_url=sec_stack.limited_url, transport=transport, timeout=30)

    lookup = {"params": {"national_code": "0013542419"}}
    with client("127.0.0.2") as first, client("127.0.0.3") as second:
        answers = [
            first.get("/api/track/1000000009", **lookup).status_code for _ in range(RATE_LIMIT)
        ]
        assert answers == [404] * RATE_LIMIT
        limited = first.get("/api/track/1000000009", **lookup)
        assert limited.status_code == 429
        assert limited.json()["code"] == "rate_limited"
        # The password route counts against the same budget.
        reveal = first.post("/api/track/1000000009/password", json={"national_code": "0013542419"})
        assert reveal.status_code == 429
        # A forwarded-for header from an untrusted peer does not buy a fresh budget.
        spoofed = first.get(
            "/api/track/1000000009", headers={"X-Forwarded-For": "203.0.113.7"}, **lookup
        )
        assert spoofed.status_code == 429
        # Another client still has its own budget.
        assert second.get("/api/track/1000000009", **lookup).status_code == 404


def test_codec_loopback_exception_is_development_only(sec_stack: SecurityStack) -> None:
    """Development lets the local Temporal UI decode without a login; nobody else, never in prod."""
    dev_url = sec_stack.dev_url
    body = {"payloads": []}
    with httpx.Client(base_url=dev_url, timeout=30) as local:
        assert local.post("/codec/decode", json=body).status_code == 200
    remote_transport = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(base_url=dev_url, transport=remote_transport, timeout=30) as remote:
        assert remote.post("/codec/decode", json=body).status_code == 401
    with sec_stack.http() as production:
        assert production.post("/codec/decode", json=body).status_code == 401
