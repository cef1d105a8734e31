"""Process 3's register pages: the units and their heads (the automation admins add, edit and
import them, errors in place), and a unit's page with its posts, their holders and the state of
each hand-over of credentials. A unit's secretariat sees its own unit only."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlmodel import Session

from api.errors import ApiError
from api.routes import automation_register as api
from api.security import SessionDep
from api.web.pages.shared import (
    PageUser,
    PostedForm,
    add_to_navigation,
    page_lang,
    problems_by_field,
    render,
    staff,
)
from db.models import User
from db.unit_register import UNIT_FIELD_FA
from domain.cases import Role
from domain.messages import MESSAGES, Lang, message
from domain.office_automation import (
    HANDOVER_STATE_EN,
    HANDOVER_STATE_FA,
    POST_STATE_EN,
    POST_STATE_FA,
    HandoverState,
    PostRow,
    PostState,
    UnitRow,
)

router = APIRouter(include_in_schema=False)

add_to_navigation("/admin/automation/units", "nav.automation_units", *api.READERS)

UNIT_FIELDS = (
    "code",
    "name",
    "parent_code",
    "head_name",
    "head_national_code",
    "head_mobile",
    "head_email",
)


def _allowed(request: Request, user: User | None, roles: tuple[Role, ...]) -> User:
    me = staff(request, user)
    if not ({Role.admin, *roles} & set(me.roles)):
        raise ApiError(403, "forbidden")
    return me


def _keeps(user: User) -> bool:
    return bool({Role.admin, *api.KEEPERS} & set(user.roles))


def _problems(error: ApiError, lang: Lang) -> dict[str, str]:
    """The API's problems by field, in the reader's language."""
    return {
        p.field: message(p.code, lang) if p.code in MESSAGES else p.reason for p in error.errors
    }


def _page(
    request: Request, template: str, me: User, status_code: int = 200, **context: Any
) -> HTMLResponse:
    fa = page_lang(request) == Lang.fa
    post_states = POST_STATE_FA if fa else POST_STATE_EN
    handovers = HANDOVER_STATE_FA if fa else HANDOVER_STATE_EN
    context.setdefault("values", {})
    context.setdefault("errors", {})
    return render(
        request,
        template,
        me,
        status_code=status_code,
        post_state_name=lambda state: post_states[PostState(state)],
        handover_name=lambda state: handovers[HandoverState(state)],
        column_name=lambda field: UNIT_FIELD_FA.get(field, field) if fa else field,
        keeps=_keeps(me),
        **context,
    )


def _units_page(
    request: Request, me: User, session: Session, status_code: int = 200, **context: Any
) -> HTMLResponse:
    return _page(
        request,
        "automation/units.html",
        me,
        status_code,
        units=api.list_units(session, me),
        **context,
    )


@router.get("/admin/automation/units", response_class=HTMLResponse)
def units_page(
    request: Request, user: PageUser, session: SessionDep, edit: str = "", saved: str = ""
) -> HTMLResponse:
    me = _allowed(request, user, api.READERS)
    values: dict[str, Any] = {}
    editing = edit if _keeps(me) else ""
    if editing:
        values = api.find_unit(session, editing).model_dump()
    return _units_page(request, me, session, editing=editing, values=values, saved=saved)


def _save_unit(
    request: Request, user: User | None, session: Session, posted: dict[str, str], code: str | None
) -> Response:
    me = _allowed(request, user, api.KEEPERS)
    values: dict[str, Any] = {f: posted.get(f, "") for f in UNIT_FIELDS}
    if code is not None:
        values["code"] = code  # it stays: scopes and letters name it
    values["active"] = posted.get("active", "") == "true"
    lang = page_lang(request)
    editing = code or ""
    try:
        if code is None:
            api.create_unit(UnitRow.model_validate(values), request, session, me)
        else:
            changes = {k: v for k, v in values.items() if k != "code"}
            api.change_unit(code, api.UnitChange.model_validate(changes), request, session, me)
    except ValidationError as error:
        errors = problems_by_field(error, lang)
        return _units_page(request, me, session, 422, editing=editing, values=values, errors=errors)
    except ApiError as error:
        if not error.errors:
            raise
        errors = _problems(error, lang)
        status = error.status_code
        return _units_page(
            request, me, session, status, editing=editing, values=values, errors=errors
        )
    return RedirectResponse("/admin/automation/units?saved=1", status_code=303)


@router.post("/admin/automation/units", response_class=HTMLResponse)
def units_create(
    request: Request, user: PageUser, session: SessionDep, posted: PostedForm
) -> Response:
    return _save_unit(request, user, session, posted, None)


@router.post("/admin/automation/units/import", response_class=HTMLResponse)
def units_import(
    request: Request,
    user: PageUser,
    session: SessionDep,
    _posted: PostedForm,
    file: Annotated[UploadFile, File()],
    dry_run: Annotated[str, Form()] = "",
) -> Response:
    me = _allowed(request, user, api.KEEPERS)
    try:
        report = api.upload_units(session, request, me, file, dry_run=dry_run == "1")
    except ApiError as error:
        problem = error.errors[0].reason if error.errors else ""
        return _units_page(request, me, session, error.status_code, file_problem=problem)
    return _units_page(request, me, session, 422 if report.errors else 200, report=report)


@router.post("/admin/automation/units/{code}", response_class=HTMLResponse)
def units_change(
    code: str, request: Request, user: PageUser, session: SessionDep, posted: PostedForm
) -> Response:
    return _save_unit(request, user, session, posted, code)


def _unit_page(
    request: Request,
    me: User,
    session: Session,
    code: str,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    unit = api.get_unit(code, session, me)
    return _page(request, "automation/unit.html", me, status_code, unit=unit, **context)


@router.get("/admin/automation/units/{code}", response_class=HTMLResponse)
def unit_page(
    code: str, request: Request, user: PageUser, session: SessionDep, saved: str = ""
) -> HTMLResponse:
    me = _allowed(request, user, api.READERS)
    return _unit_page(request, me, session, code, saved=saved)


@router.post("/admin/automation/units/{code}/posts", response_class=HTMLResponse)
def unit_post_create(
    code: str, request: Request, user: PageUser, session: SessionDep, posted: PostedForm
) -> Response:
    me = _allowed(request, user, api.KEEPERS)
    unit = api.find_unit(session, code)
    values: dict[str, Any] = {
        "unit_code": unit.code,
        "title": posted.get("title", ""),
        "automation_code": posted.get("automation_code", ""),
        "is_manager": posted.get("is_manager", "") == "true",
    }
    lang = page_lang(request)
    try:
        api.create_post(PostRow.model_validate(values), request, session, me)
    except ValidationError as error:
        errors = problems_by_field(error, lang)
        return _unit_page(request, me, session, unit.code, 422, values=values, errors=errors)
    except ApiError as error:
        if not error.errors:
            raise
        errors = _problems(error, lang)
        status = error.status_code
        return _unit_page(request, me, session, unit.code, status, values=values, errors=errors)
    return RedirectResponse(f"/admin/automation/units/{unit.code}?saved=1", status_code=303)
