"""Admin pages: users and their roles, the holiday calendar, the login history, the audit log."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from api.audit import ACTIONS
from api.errors import ApiError
from api.routes import admin, admin_logs
from api.security import SessionDep
from api.web.i18n import Translator
from api.web.pages.shared import (
    PageUser,
    PostedForm,
    admin_only,
    page_lang,
    problems_by_field,
    render,
)
from db.models import LoginOutcome, User
from domain.calendar import jalali_to_gregorian
from domain.cases import STAFF_ROLES
from domain.text import normalize_digits, normalize_text

router = APIRouter(include_in_schema=False)


def _users_page(
    request: Request, me: User, session: SessionDep, status_code: int = 200, **context: Any
) -> HTMLResponse:
    return render(
        request,
        "admin/users.html",
        me,
        status_code=status_code,
        users=admin.list_users(session),
        roles=list(STAFF_ROLES),
        **context,
    )


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(
    request: Request, user: PageUser, session: SessionDep, saved: str = ""
) -> HTMLResponse:
    me = admin_only(request, user)
    return _users_page(request, me, session, saved=saved, values={}, errors={})


@router.post("/admin/users", response_class=HTMLResponse)
def users_create(
    request: Request,
    user: PageUser,
    session: SessionDep,
    posted: PostedForm,
    roles: Annotated[list[str] | None, Form()] = None,
) -> Response:
    me = admin_only(request, user)
    scopes = [s.strip() for s in normalize_text(posted.get("scopes", "")).split(",") if s.strip()]
    try:
        body = admin.NewUser(
            username=posted.get("username", "").strip(),
            full_name=posted.get("full_name", ""),
            password=posted.get("password", ""),
            roles=roles or [],
            scopes=scopes,
            email=posted.get("email") or None,
        )
        admin.create_user(body, request, session, me)
    except ValidationError as error:
        return _users_page(
            request,
            me,
            session,
            422,
            values=posted,
            errors=problems_by_field(error, page_lang(request)),
        )
    except ApiError as error:
        errors = {p.field: p.reason for p in error.errors}
        return _users_page(request, me, session, error.status_code, values=posted, errors=errors)
    return RedirectResponse("/admin/users?saved=1", status_code=303)


@router.post("/admin/users/{username}/active", response_class=HTMLResponse)
def users_active(
    username: str, request: Request, user: PageUser, session: SessionDep, posted: PostedForm
) -> Response:
    me = admin_only(request, user)
    change = admin.UserChange(is_active=posted.get("active") == "true")
    admin.change_user(username, change, request, session, me)
    return RedirectResponse("/admin/users?saved=1", status_code=303)


@router.post("/admin/users/{username}/password", response_class=HTMLResponse)
def users_password(
    username: str, request: Request, user: PageUser, session: SessionDep, posted: PostedForm
) -> Response:
    me = admin_only(request, user)
    try:
        body = admin.PasswordReset(password=posted.get("password", ""))
        admin.reset_password(username, body, request, session, me)
    except ValidationError as error:
        problems = problems_by_field(error, page_lang(request))
        return _users_page(
            request,
            me,
            session,
            422,
            values={},
            errors={},
            password_errors={username: problems.get("password", "")},
        )
    return RedirectResponse("/admin/users?saved=1", status_code=303)


def _holidays_page(
    request: Request, me: User, session: SessionDep, status_code: int = 200, **context: Any
) -> HTMLResponse:
    return render(
        request,
        "admin/holidays.html",
        me,
        status_code=status_code,
        holidays=admin.list_holidays(session),
        **context,
    )


@router.get("/admin/holidays", response_class=HTMLResponse)
def holidays_page(request: Request, user: PageUser, session: SessionDep) -> HTMLResponse:
    return _holidays_page(request, admin_only(request, user), session, values={}, errors={})


def _jalali_day(text: str) -> date:
    parts = normalize_digits(text).replace("-", "/").strip().split("/")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ValueError(text)
    return jalali_to_gregorian(*(int(p) for p in parts))


@router.post("/admin/holidays", response_class=HTMLResponse)
def holidays_add(
    request: Request, user: PageUser, session: SessionDep, posted: PostedForm
) -> Response:
    me = admin_only(request, user)
    t = Translator(page_lang(request))
    errors: dict[str, str] = {}
    try:
        day = _jalali_day(posted.get("day", ""))
    except ValueError:
        errors["day"] = t("error.invalid_date")
    try:
        title = admin.HolidayTitle(title=posted.get("title", ""))
    except ValidationError as error:
        errors.update(problems_by_field(error, page_lang(request)))
    if errors:
        return _holidays_page(request, me, session, 422, values=posted, errors=errors)
    admin.put_holiday(day, title, request, session, me)
    return RedirectResponse("/admin/holidays", status_code=303)


@router.post("/admin/holidays/{day}/delete", response_class=HTMLResponse)
def holidays_delete(
    day: date, request: Request, user: PageUser, session: SessionDep, _posted: PostedForm
) -> Response:
    me = admin_only(request, user)
    admin.delete_holiday(day, request, session, me)
    return RedirectResponse("/admin/holidays", status_code=303)


@router.get("/admin/logins", response_class=HTMLResponse)
def logins_page(
    request: Request,
    user: PageUser,
    session: SessionDep,
    username: str = "",
    outcome: str = "",
    page: int = 1,
) -> HTMLResponse:
    me = admin_only(request, user)
    chosen = LoginOutcome(outcome) if outcome in LoginOutcome.__members__ else None
    page = max(1, min(page, 100_000))
    listing = admin_logs.login_records(session, username[:64], chosen, page)
    query = {k: v for k, v in (("username", username[:64]), ("outcome", outcome)) if v}
    return render(
        request,
        "admin/logins.html",
        me,
        listing=listing,
        username=username[:64],
        outcome=chosen.value if chosen else "",
        outcomes=list(LoginOutcome),
        page=page,
        base_query=urlencode(query),
    )


@router.get("/admin/audit", response_class=HTMLResponse)
def audit_page(
    request: Request, user: PageUser, session: SessionDep, action: str = "", page: int = 1
) -> HTMLResponse:
    me = admin_only(request, user)
    action = action if action in ACTIONS else ""
    page = max(1, min(page, 100_000))
    return render(
        request,
        "admin/audit.html",
        me,
        listing=admin_logs.audit_entries(session, action, page),
        action=action,
        actions=ACTIONS,
        page=page,
        base_query=urlencode({"action": action} if action else {}),
    )
