"""Process 4's register pages: the counties' health networks, the sites (filter, upload with its
errors in place, the template and the export), and a site with its history."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlmodel import Session, col, select

from api.errors import ApiError
from api.routes import shams_register as api
from api.routes import tasks
from api.routes.tasks import TaskDetail
from api.security import SessionDep
from api.web.pages.shared import (
    PageUser,
    PostedForm,
    add_to_navigation,
    page_lang,
    problems_by_field,
    render,
    staff,
    templates,
)
from api.web.pages.staff import task_page_of
from api.web.schema_form import fields_of
from db.models import User
from db.shams import County
from db.site_register import SITE_FIELD_FA, SITE_HEADERS
from domain.cases import Role, TaskStatus
from domain.messages import MESSAGES, Lang, message
from domain.shams import (
    LINK_TYPE_EN,
    LINK_TYPE_FA,
    SITE_KIND_EN,
    SITE_KIND_FA,
    SITE_STATE_EN,
    SITE_STATE_FA,
    CountyRow,
    LinkType,
    SiteKind,
    SiteState,
)
from domain.shams_process import MAX_SITES_PER_ANSWER
from processes.shams import SHAMS

router = APIRouter(include_in_schema=False)

PER_PAGE = 25

add_to_navigation("/admin/shams/sites", "nav.shams_sites", *api.SITE_READERS)
# The choices of a county's one-site form (shams/county_sites.html, on its task page).
templates.env.globals.update(
    shams_site_kinds=[kind.value for kind in SiteKind],
    shams_link_types=[link.value for link in LinkType],
)
add_to_navigation("/admin/shams/counties", "nav.shams_counties", *api.COUNTY_READERS)


def _allowed(request: Request, user: User | None, roles: tuple[Role, ...]) -> User:
    me = staff(request, user)
    if not ({Role.admin, *roles} & set(me.roles)):
        raise ApiError(403, "forbidden")
    return me


def _holds(user: User, roles: tuple[Role, ...]) -> bool:
    return bool({Role.admin, *roles} & set(user.roles))


def _page(
    request: Request, template: str, me: User, status_code: int = 200, **context: Any
) -> HTMLResponse:
    fa = page_lang(request) == Lang.fa
    kinds = SITE_KIND_FA if fa else SITE_KIND_EN
    links = LINK_TYPE_FA if fa else LINK_TYPE_EN
    states = SITE_STATE_FA if fa else SITE_STATE_EN
    return render(
        request,
        template,
        me,
        status_code=status_code,
        states=list(SiteState),
        kind_name=lambda kind: kinds[SiteKind(kind)],
        link_name=lambda link: links[LinkType(link)],
        state_name=lambda state: states[SiteState(state)],
        column_name=lambda field: SITE_FIELD_FA.get(field, field) if fa else field,
        manages=_holds(me, api.COUNTY_MANAGERS),
        uploads=_holds(me, api.SITE_UPLOADERS),
        **context,
    )


def _counties_for(session: Session, me: User) -> list[County]:
    """The counties `me` may pick in the sites' filter."""
    reach = api.reach_of(me)
    query = select(County).order_by(col(County.code))
    if not reach.everything and reach.counties is not None and reach.exchanges == frozenset():
        query = query.where(col(County.code).in_(sorted(reach.counties)))
    return list(session.exec(query))


def _sites_page(
    request: Request,
    me: User,
    session: Session,
    status_code: int = 200,
    county: str = "",
    state: str = "",
    q: str = "",
    page: int = 1,
    **context: Any,
) -> HTMLResponse:
    chosen = SiteState(state) if state in SiteState.__members__ else None
    listing = api.list_sites(
        session,
        me,
        county=county[:20] or None,
        state=chosen,
        q=q[:100],
        page=max(page, 1),
        per_page=PER_PAGE,
    )
    filters = {k: v for k, v in (("county", county), ("state", state), ("q", q)) if v}
    return _page(
        request,
        "shams/sites.html",
        me,
        status_code,
        listing=listing,
        counties=_counties_for(session, me),
        county=county,
        state=chosen.value if chosen else "",
        q=q,
        base_query=urlencode(filters),
        **context,
    )


@router.get("/admin/shams/sites", response_class=HTMLResponse)
def sites_page(
    request: Request,
    user: PageUser,
    session: SessionDep,
    county: str = "",
    state: str = "",
    q: str = "",
    page: int = 1,
) -> HTMLResponse:
    me = _allowed(request, user, api.SITE_READERS)
    return _sites_page(request, me, session, county=county, state=state, q=q, page=page)


@router.post("/admin/shams/sites/import", response_class=HTMLResponse)
def sites_import(
    request: Request,
    user: PageUser,
    session: SessionDep,
    _posted: PostedForm,
    file: Annotated[UploadFile, File()],
    dry_run: Annotated[str, Form()] = "",
) -> Response:
    me = _allowed(request, user, api.SITE_UPLOADERS)
    try:
        report = api.upload_report(session, request, me, file, dry_run=dry_run == "1")
    except ApiError as error:
        problem = error.errors[0].reason if error.errors else ""
        return _sites_page(request, me, session, error.status_code, file_problem=problem)
    return _sites_page(request, me, session, 422 if report.errors else 200, report=report)


@router.post("/shams/tasks/{task_id}/site", response_class=HTMLResponse)
def task_site(
    task_id: str, request: Request, user: PageUser, session: SessionDep, posted: PostedForm
) -> HTMLResponse:
    """One site entered from its county's open task: registered as a file's row is, and its
    code added to the answer's; with a bad field nothing is written and the form stays as
    typed, each error beside its field."""
    me = _allowed(request, user, api.SITE_UPLOADERS)
    detail = tasks.task_detail(task_id, me, session)
    county = detail.context.get("county_code")
    if detail.process != SHAMS.kind or detail.step not in SHAMS.task_panels:
        raise ApiError(404, "not_found")
    if detail.status != TaskStatus.open or not isinstance(county, str):
        raise ApiError(409, "task_not_open")
    values = {f: posted.get(f, "") for f in SITE_HEADERS if f != "county_code"}
    entered = posted.get("entered", "").split()[:MAX_SITES_PER_ANSWER]
    try:
        site = api.entered_site(session, request, me, {**values, "county_code": county})
    except ApiError as error:
        if not error.errors:
            raise
        return _task_page(
            request,
            me,
            detail,
            entered,
            error.status_code,
            site_values=values,
            site_errors={p.field: p.reason for p in error.errors},
        )
    if site.site_code not in entered:
        entered.append(site.site_code)
    return _task_page(request, me, detail, entered, site_entered=site.site_code)


def _task_page(
    request: Request,
    me: User,
    detail: TaskDetail,
    entered: list[str],
    status_code: int = 200,
    **panel: Any,
) -> HTMLResponse:
    """The county's task page, its answer's codes holding the sites entered on it so far."""
    fields = fields_of(detail.form_schema, detail.context)
    for field in fields:
        if field.name == "site_codes" and entered:
            field.value = entered
    return task_page_of(
        request, me, detail, fields, status_code, site_codes_entered=entered, **panel
    )


@router.get("/admin/shams/sites/template")
def sites_template(request: Request, user: PageUser) -> Response:
    me = _allowed(request, user, api.SITE_UPLOADERS)
    return api.xlsx_answer(api.template_for(me), "shams-sites-template.xlsx")


@router.get("/admin/shams/sites/export")
def sites_export(
    request: Request,
    user: PageUser,
    session: SessionDep,
    county: str = "",
    state: str = "",
    q: str = "",
) -> Response:
    me = _allowed(request, user, api.SITE_READERS)
    chosen = SiteState(state) if state in SiteState.__members__ else None
    content = api.export_for(session, me, county[:20] or None, chosen, q[:100])
    return api.xlsx_answer(content, "shams-sites.xlsx")


@router.get("/shams/sites/{site_code}", response_class=HTMLResponse)
def site_page(
    site_code: str, request: Request, user: PageUser, session: SessionDep
) -> HTMLResponse:
    me = _allowed(request, user, api.SITE_READERS)
    return _page(request, "shams/site.html", me, site=api.site_detail(session, me, site_code))


def _counties_page(
    request: Request, me: User, session: Session, status_code: int = 200, **context: Any
) -> HTMLResponse:
    context.setdefault("values", {})
    context.setdefault("errors", {})
    return _page(
        request,
        "shams/counties.html",
        me,
        status_code,
        counties=api.list_counties(session),
        **context,
    )


@router.get("/admin/shams/counties", response_class=HTMLResponse)
def counties_page(
    request: Request, user: PageUser, session: SessionDep, edit: str = "", saved: str = ""
) -> HTMLResponse:
    me = _allowed(request, user, api.COUNTY_READERS)
    values: dict[str, Any] = {}
    if edit and _holds(me, api.COUNTY_MANAGERS):
        values = api.find_county(session, edit).model_dump()
    return _counties_page(request, me, session, editing=edit, values=values, saved=saved)


def _save_county(
    request: Request,
    user: User | None,
    session: Session,
    posted: dict[str, str],
    code: str | None,
) -> Response:
    me = _allowed(request, user, api.COUNTY_MANAGERS)
    fields = ("code", "name", "contact_name", "phone", "email", "mobile")
    values: dict[str, Any] = {f: posted.get(f, "") for f in fields}
    values["active"] = posted.get("active", "") == "true"
    try:
        if code is None:
            api.create_county(CountyRow.model_validate(values), request, session, me)
        else:
            changes = {k: v for k, v in values.items() if k != "code"}
            api.change_county(code, api.CountyChange.model_validate(changes), request, session, me)
    except ValidationError as error:
        errors = problems_by_field(error, page_lang(request))
        return _counties_page(
            request, me, session, 422, editing=code or "", values=values, errors=errors
        )
    except ApiError as error:
        if not error.errors:
            raise
        lang = page_lang(request)
        errors = {
            p.field: message(p.code, lang) if p.code in MESSAGES else p.reason for p in error.errors
        }
        status, editing = error.status_code, code or ""
        return _counties_page(
            request, me, session, status, editing=editing, values=values, errors=errors
        )
    return RedirectResponse("/admin/shams/counties?saved=1", status_code=303)


@router.post("/admin/shams/counties", response_class=HTMLResponse)
def counties_create(
    request: Request, user: PageUser, session: SessionDep, posted: PostedForm
) -> Response:
    return _save_county(request, user, session, posted, None)


@router.post("/admin/shams/counties/{code}", response_class=HTMLResponse)
def counties_change(
    code: str, request: Request, user: PageUser, session: SessionDep, posted: PostedForm
) -> Response:
    return _save_county(request, user, session, posted, code)
