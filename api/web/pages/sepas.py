"""Process 5's register pages: the error bank (search; the SEPAS expert adds and edits entries,
errors in place), the hospitals and their HIS vendors, and the upload of SRM's export with its
errors in place."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlmodel import Session

from api.errors import ApiError, RowId
from api.routes import sepas_register as api
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
from db.srm_import import SRM_FIELD_FA
from domain.cases import Role
from domain.messages import MESSAGES, Lang, message
from domain.sepas import (
    CATEGORY_EN,
    CATEGORY_FA,
    SOURCE_EN,
    SOURCE_FA,
    BankEntryText,
    BankSource,
    ErrorCategory,
)

router = APIRouter(include_in_schema=False)

add_to_navigation("/admin/sepas/error-bank", "nav.sepas_bank", *api.BANK_READERS)
add_to_navigation("/admin/sepas/hospitals", "nav.sepas_hospitals", *api.REGISTER_KEEPERS)
add_to_navigation("/admin/sepas/srm", "nav.sepas_srm", *api.REGISTER_KEEPERS)

BANK_FIELDS = ("message", "category", "cause_fa", "cause_en", "remedy_fa", "remedy_en", "source")


def _allowed(request: Request, user: User | None, roles: tuple[Role, ...]) -> User:
    me = staff(request, user)
    if not ({Role.admin, *roles} & set(me.roles)):
        raise ApiError(403, "forbidden")
    return me


def _page(
    request: Request, template: str, me: User, status_code: int = 200, **context: Any
) -> HTMLResponse:
    fa = page_lang(request) == Lang.fa
    categories = CATEGORY_FA if fa else CATEGORY_EN
    sources = SOURCE_FA if fa else SOURCE_EN
    return render(
        request,
        template,
        me,
        status_code=status_code,
        categories=list(ErrorCategory),
        sources=list(BankSource),
        category_name=lambda c: categories[ErrorCategory(c)],
        source_name=lambda s: sources[BankSource(s)],
        column_name=lambda field: SRM_FIELD_FA.get(field, field) if fa else field,
        keeps=bool({Role.admin, *api.REGISTER_KEEPERS} & set(me.roles)),
        **context,
    )


def _bank_page(
    request: Request,
    me: User,
    session: Session,
    status_code: int = 200,
    q: str = "",
    category: str = "",
    **context: Any,
) -> HTMLResponse:
    chosen = ErrorCategory(category) if category in ErrorCategory.__members__ else None
    context.setdefault("values", {})
    context.setdefault("errors", {})
    return _page(
        request,
        "sepas/error_bank.html",
        me,
        status_code,
        entries=api.list_error_bank(session, q=q[:100], category=chosen),
        q=q,
        category=chosen.value if chosen else "",
        **context,
    )


@router.get("/admin/sepas/error-bank", response_class=HTMLResponse)
def error_bank_page(
    request: Request,
    user: PageUser,
    session: SessionDep,
    q: str = "",
    category: str = "",
    edit: int | None = None,
    saved: str = "",
) -> HTMLResponse:
    me = _allowed(request, user, api.BANK_READERS)
    values: dict[str, Any] = {}
    keeps = bool({Role.admin, *api.REGISTER_KEEPERS} & set(me.roles))
    if edit is not None and keeps:
        values = api.find_entry(session, edit).model_dump()
    editing = edit if keeps else None
    return _bank_page(
        request, me, session, q=q, category=category, editing=editing, values=values, saved=saved
    )


def _save_entry(
    request: Request,
    user: User | None,
    session: Session,
    posted: dict[str, str],
    entry_id: int | None,
) -> Response:
    me = _allowed(request, user, api.REGISTER_KEEPERS)
    values: dict[str, Any] = {f: posted.get(f, "") for f in (*BANK_FIELDS, "jira_key")}
    values["is_pattern"] = posted.get("is_pattern", "") == "true"
    values["active"] = posted.get("active", "") == "true"
    lang = page_lang(request)
    try:
        if entry_id is None:
            text = BankEntryText.model_validate({k: v for k, v in values.items() if k != "active"})
            api.create_error_bank_entry(text, request, session, me)
        else:
            change = api.BankEntryChange.model_validate(values)
            api.change_error_bank_entry(entry_id, change, request, session, me)
    except ValidationError as error:
        errors = problems_by_field(error, lang)
        return _bank_page(request, me, session, 422, editing=entry_id, values=values, errors=errors)
    except ApiError as error:
        if not error.errors:
            raise
        errors = {
            p.field: message(p.code, lang) if p.code in MESSAGES else p.reason for p in error.errors
        }
        return _bank_page(
            request, me, session, error.status_code, editing=entry_id, values=values, errors=errors
        )
    return RedirectResponse("/admin/sepas/error-bank?saved=1", status_code=303)


@router.post("/admin/sepas/error-bank", response_class=HTMLResponse)
def error_bank_create(
    request: Request, user: PageUser, session: SessionDep, posted: PostedForm
) -> Response:
    return _save_entry(request, user, session, posted, None)


@router.post("/admin/sepas/error-bank/{entry_id}", response_class=HTMLResponse)
def error_bank_change(
    entry_id: RowId,
    request: Request,
    user: PageUser,
    session: SessionDep,
    posted: PostedForm,
) -> Response:
    return _save_entry(request, user, session, posted, entry_id)


@router.get("/admin/sepas/hospitals", response_class=HTMLResponse)
def hospitals_page(request: Request, user: PageUser, session: SessionDep) -> HTMLResponse:
    me = _allowed(request, user, api.REGISTER_KEEPERS)
    return _page(
        request,
        "sepas/hospitals.html",
        me,
        hospitals=api.list_hospitals(session, me),
        vendors=api.list_his_vendors(session),
    )


@router.get("/admin/sepas/srm", response_class=HTMLResponse)
def srm_page(request: Request, user: PageUser) -> HTMLResponse:
    me = _allowed(request, user, api.REGISTER_KEEPERS)
    return _page(request, "sepas/srm.html", me)


@router.post("/admin/sepas/srm/import", response_class=HTMLResponse)
def srm_import(
    request: Request,
    user: PageUser,
    session: SessionDep,
    _posted: PostedForm,
    file: Annotated[UploadFile, File()],
    period_from: Annotated[str, Form(max_length=40)] = "",
    period_until: Annotated[str, Form(max_length=40)] = "",
) -> HTMLResponse:
    me = _allowed(request, user, api.REGISTER_KEEPERS)
    values = {"period_from": period_from, "period_until": period_until}
    try:
        report = api.upload_srm(session, request, me, file, period_from, period_until)
    except ApiError as error:
        problem = error.errors[0] if error.errors else None
        errors = {problem.field: problem.reason} if problem is not None else {}
        return _page(request, "sepas/srm.html", me, error.status_code, errors=errors, values=values)
    status = 422 if report.errors else 200
    return _page(request, "sepas/srm.html", me, status, report=report, values=values)
