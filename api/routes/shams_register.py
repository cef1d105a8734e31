"""Process 4's register: the counties' health networks (شبکه‌های بهداشت شهرستان) and their
sites (نقاط), as the SHAMS rollout's workflows and board will read them.

The IT office (and admins) keep the counties; the IT office and the counties upload sites; the
IT director reads everything. A county network's user sees its own county's sites only (another
county's: 403); the carrier sees only the sites sent to it (of its exchange area, if its scope
names one).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any

from fastapi import (
    APIRouter,
    Body,
    Depends,
    File,
    Query,
    Request,
    Response,
    UploadFile,
    status,
)
from pydantic import BaseModel, field_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import ColumnElement, func, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from api.audit import audit, changed
from api.errors import ApiError, FieldProblem, documented, lang_of
from api.security import CurrentUser, SessionDep, require_role
from api.uploads import receive, refusal
from db.models import User, utcnow
from db.shams import County, Site, SiteEvent, SiteReach, reach_filter, site_reach
from db.site_register import (
    MAX_BYTES,
    ImportReport,
    enter_site,
    export_rows,
    import_counties,
    import_sites,
    site_template,
)
from domain.cases import Role
from domain.messages import Lang, message
from domain.shams import (
    ContactName,
    CountyName,
    CountyRow,
    Email,
    Flag,
    LinkType,
    Phone,
    SiteKind,
    SiteRow,
    SiteState,
    SmsMobile,
)
from domain.spreadsheets import xlsx_bytes
from domain.text import normalize_text
from domain.uploads import CheckedFile, FileRefused, MediaType, UploadKind

COUNTY_MANAGERS = (Role.it_office,)
"""Who keeps the counties' list (admins always may)."""
COUNTY_READERS = (Role.it_office, Role.it_director)
SITE_UPLOADERS = (Role.it_office, Role.county_network)
SITE_READERS = (Role.it_office, Role.it_director, Role.county_network, Role.carrier)
EXAMPLE_COUNTY = "101"
"""The template's example county code when the downloader has no county of its own."""

manage_counties = Depends(require_role(*COUNTY_MANAGERS))
read_counties = Depends(require_role(*COUNTY_READERS))
upload_sites = Depends(require_role(*SITE_UPLOADERS))
read_sites = Depends(require_role(*SITE_READERS))

router = APIRouter(prefix="/api/shams", tags=["shams register"], responses=documented(401, 403))

XLSX_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {MediaType.xlsx.value: {"schema": {"type": "string", "format": "binary"}}},
        "description": "An Excel workbook (cells that could start a formula are escaped)",
    }
}


class CountyView(BaseModel):
    code: str
    name: str
    contact_name: str
    phone: str | None
    email: str | None
    mobile: str | None
    """Where its SMS reminders go."""
    active: bool
    sites: int
    """Sites registered for it."""


class CountyChange(BaseModel):
    """Leave a field out to keep it; `phone`, `email` and `mobile` may be null to clear them.
    The code, which sites and scopes name, stays."""

    name: CountyName | None = None
    contact_name: ContactName | None = None
    phone: Phone = None
    email: Email = None
    mobile: SmsMobile = None
    active: Flag | None = None
    """False: no letter goes to it and it takes no upload; its sites stay."""

    @field_validator("name", "contact_name", "active")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise PydanticCustomError("invalid_value", "may be left out, not null")
        return value


class SiteView(BaseModel):
    site_code: str
    siam_id: str | None
    county_code: str
    name: str
    kind: SiteKind
    address: str
    postal_code: str | None
    phone: str | None
    latitude: float
    longitude: float
    link_type: LinkType
    """The link the county asked for."""
    state: SiteState
    exchange: str | None
    """The carrier's exchange serving it, once ranged."""
    rollout_id: str | None
    updated_at: datetime


class SitePage(BaseModel):
    items: list[SiteView]
    total: int
    page: int
    per_page: int


class SiteEventView(BaseModel):
    at: datetime
    state: SiteState
    """The site's state after the event."""
    actor: str
    note: str | None


class SiteDetail(SiteView):
    county_name: str
    router_host: str | None
    router_port: int | None
    events: list[SiteEventView]
    """Its history, the oldest first."""


def reach_of(user: User) -> SiteReach:
    return site_reach(user.roles, user.scopes)


def _problem(field: str, code: str, lang: Lang) -> FieldProblem:
    return FieldProblem(field=field, reason=message(code, lang), code=code)


def find_county(session: Session, code: str) -> County:
    county = session.exec(select(County).where(County.code == normalize_text(code))).first()
    if county is None:
        raise ApiError(404, "not_found")
    return county


def _county_view(county: County, sites: int) -> CountyView:
    return CountyView(**county.model_dump(exclude={"id", "created_at", "updated_at"}), sites=sites)


@router.get("/counties", response_model=list[CountyView], dependencies=[read_counties])
def list_counties(session: SessionDep) -> list[CountyView]:
    """Every county by code, with the number of its registered sites."""
    counts = dict(
        session.exec(select(Site.county_code, func.count()).group_by(col(Site.county_code))).all()
    )
    return [
        _county_view(c, counts.get(c.code, 0))
        for c in session.exec(select(County).order_by(col(County.code)))
    ]


def _save(session: Session, county: County, lang: Lang) -> CountyView:
    session.add(county)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise ApiError(409, "conflict", [_problem("code", "county_code_taken", lang)]) from None
    session.refresh(county)
    sites = session.exec(select(func.count()).where(Site.county_code == county.code)).one()
    return _county_view(county, sites)


@router.post(
    "/counties",
    response_model=CountyView,
    status_code=status.HTTP_201_CREATED,
    dependencies=[manage_counties],
    responses=documented(409),
)
def create_county(
    body: CountyRow, request: Request, session: SessionDep, user: CurrentUser
) -> CountyView:
    lang = lang_of(request)
    if session.exec(select(County.id).where(County.code == body.code)).first() is not None:
        raise ApiError(409, "conflict", [_problem("code", "county_code_taken", lang)])
    values = body.model_dump(mode="json")
    audit(session, request, user, "county.create", body.code, **values)
    return _save(session, County(**values), lang)


@router.patch(
    "/counties/{code}",
    response_model=CountyView,
    dependencies=[manage_counties],
    responses=documented(404),
)
def change_county(
    code: str, body: CountyChange, request: Request, session: SessionDep, user: CurrentUser
) -> CountyView:
    """Change a county's name, contacts or activity."""
    county = find_county(session, code)
    changes = body.model_dump(mode="json", exclude_unset=True)
    diff = changed(county.model_dump(include=set(changes), mode="json"), changes)
    if diff:
        audit(session, request, user, "county.change", county.code, **diff)
        county.sqlmodel_update({**changes, "updated_at": utcnow()})
    return _save(session, county, lang_of(request))


def read_upload(file: UploadFile, lang: Lang) -> CheckedFile:
    """The upload through the shared facility (api/uploads.py): 413 past the register's size
    limit, 422 when its bytes are no spreadsheet."""
    return receive(file, UploadKind.spreadsheet, lang, limit=MAX_BYTES)


def rows_refused(report: ImportReport, lang: Lang) -> ApiError:
    """422 `rows_invalid`: each error's field is `rows.{row}.{column}` (the header is row 1)."""
    problems = [
        FieldProblem(field=f"rows.{e.row}.{e.field}", reason=e.reason(lang), code=e.code)
        for e in report.errors
    ]
    return ApiError(422, "rows_invalid", problems)


def audited(
    session: Session, request: Request, user: User, action: str, file: UploadFile
) -> Callable[[ImportReport], None]:
    """The audit log's row of an import, added inside the import's transaction."""

    def write(report: ImportReport) -> None:
        audit(
            session,
            request,
            user,
            action,
            file.filename or "",
            created=report.created,
            updated=report.updated,
            unchanged=report.unchanged,
        )

    return write


def run_import(session: Session, lang: Lang, run: Callable[[], ImportReport]) -> ImportReport:
    """An import; a file that is no register is 422 on `file`, a race on a new code 409
    (nothing written either way)."""
    try:
        return run()
    except FileRefused as error:
        raise refusal(error, lang) from None
    except IntegrityError:
        session.rollback()
        raise ApiError(409, "conflict", [_problem("file", "conflict", lang)]) from None


@router.post(
    "/counties/import",
    response_model=ImportReport,
    dependencies=[manage_counties],
    responses=documented(409, 413),
)
def import_county_list(
    file: Annotated[UploadFile, File()],
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    dry_run: bool = False,
) -> ImportReport:
    """Upload the counties' list, CSV (UTF-8) or XLSX: code and name (required), contact's
    name, phone, e-mail, mobile, active. All or nothing, by code, like the sites' upload."""
    lang = lang_of(request)
    data = read_upload(file, lang)
    before_commit = audited(session, request, user, "counties.import", file)
    report = run_import(
        session,
        lang,
        lambda: import_counties(session, data, dry_run=dry_run, before_commit=before_commit),
    )
    if report.errors:
        raise rows_refused(report, lang)
    return report


def site_query(
    session: Session,
    user: User,
    county: str | None,
    state: SiteState | None,
    q: str,
) -> SelectOfScalar[Site]:
    """The sites `user` may see, filtered; asking for a county the user may not see is 403."""
    reach = reach_of(user)
    query = select(Site).where(reach_filter(reach))
    if county:
        code = normalize_text(county)
        # The carrier may narrow its share to a county; a county's user asks for its own only.
        if not reach.sees_county(code) and reach.exchanges == frozenset():
            raise ApiError(403, "forbidden")
        query = query.where(Site.county_code == code)
    if state is not None:
        query = query.where(Site.state == state)
    text = normalize_text(q)
    if text:
        matches: list[ColumnElement[bool]] = [
            col(column).icontains(text, autoescape=True)
            for column in (Site.site_code, Site.siam_id, Site.name, Site.address)
        ]
        query = query.where(or_(*matches))
    return query


@router.get("/sites", response_model=SitePage, dependencies=[read_sites])
def list_sites(
    session: SessionDep,
    user: CurrentUser,
    county: Annotated[str | None, Query(max_length=20)] = None,
    state: SiteState | None = None,
    q: Annotated[str, Query(max_length=100)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = 50,
) -> SitePage:
    """The sites the caller may see, by county and site code; `q` searches the code, SIAM id,
    name and address. A county network's user asking for another county gets 403."""
    query = site_query(session, user, county, state, q)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(
        query.order_by(col(Site.county_code), col(Site.site_code))
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    items = [SiteView.model_validate(s, from_attributes=True) for s in rows]
    return SitePage(items=items, total=total, page=page, per_page=per_page)


def xlsx_answer(content: bytes, name: str) -> Response:
    return Response(
        content,
        media_type=MediaType.xlsx.value,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )


def template_for(user: User) -> bytes:
    """The template, its example row in the downloader's own county where it has one."""
    reach = reach_of(user)
    own = sorted(reach.counties or ()) if not reach.everything else []
    return site_template(own[0] if own else EXAMPLE_COUNTY)


@router.get(
    "/sites/template",
    response_class=Response,
    dependencies=[upload_sites],
    responses=XLSX_ANSWER,
)
def download_template(user: CurrentUser) -> Response:
    """The university's template for a county's sites: Persian headers and one example row."""
    return xlsx_answer(template_for(user), "shams-sites-template.xlsx")


def export_for(
    session: Session, user: User, county: str | None, state: SiteState | None, q: str
) -> bytes:
    query = site_query(session, user, county, state, q)
    sites = session.exec(query.order_by(col(Site.county_code), col(Site.site_code)))
    return xlsx_bytes(export_rows(sites), title="نقاط")


@router.get(
    "/sites/export",
    response_class=Response,
    dependencies=[read_sites],
    responses=XLSX_ANSWER,
)
def export_sites(
    session: SessionDep,
    user: CurrentUser,
    county: Annotated[str | None, Query(max_length=20)] = None,
    state: SiteState | None = None,
    q: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    """The sites of the list (same filters, every page) as XLSX in the template's columns, with
    their state and exchange; sent back as an upload, it changes nothing."""
    return xlsx_answer(export_for(session, user, county, state, q), "shams-sites.xlsx")


def upload_report(
    session: Session,
    request: Request,
    user: User,
    file: UploadFile,
    *,
    dry_run: bool,
) -> ImportReport:
    """A site list imported for `user`: within its counties, audited, all or nothing."""
    lang = lang_of(request)
    data = read_upload(file, lang)
    reach = reach_of(user)
    before_commit = audited(session, request, user, "sites.import", file)
    return run_import(
        session,
        lang,
        lambda: import_sites(
            session,
            data,
            actor=user.username,
            reach=None if reach.everything else reach,
            dry_run=dry_run,
            before_commit=before_commit,
        ),
    )


@router.post(
    "/sites/import",
    response_model=ImportReport,
    dependencies=[upload_sites],
    responses=documented(409, 413),
)
def import_site_list(
    file: Annotated[UploadFile, File()],
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    dry_run: bool = False,
) -> ImportReport:
    """Upload sites in the university's template, CSV (UTF-8) or XLSX, headers in Persian or
    English. All or nothing: with any bad row the answer is 422 `rows_invalid` and nothing is
    written; each error's field is `rows.{row}.{column}` (the header is row 1). A county's
    user may upload its own county's sites only. A registered site code updates its site (while
    the county may still correct it), so the same file sent twice changes nothing. `dry_run`
    checks and counts without writing."""
    report = upload_report(session, request, user, file, dry_run=dry_run)
    if report.errors:
        raise rows_refused(report, lang_of(request))
    return report


def entered_site(
    session: Session, request: Request, user: User, values: Mapping[str, object]
) -> SiteDetail:
    """One site typed in a form, checked and written as a file's row is; 422 `invalid_value`
    with each bad field by its name (nothing written)."""
    lang = lang_of(request)
    reach = reach_of(user)

    def audited_entry(report: ImportReport) -> None:
        audit(
            session,
            request,
            user,
            "site.enter",
            str(values.get("site_code") or values.get("siam_id") or ""),
            created=report.created,
            updated=report.updated,
        )

    try:
        report = enter_site(
            session,
            values,
            actor=user.username,
            reach=None if reach.everything else reach,
            before_commit=audited_entry,
        )
    except IntegrityError:  # the same code entered meanwhile
        session.rollback()
        raise ApiError(409, "conflict", [_problem("site_code", "conflict", lang)]) from None
    if report.errors:
        problems = [
            FieldProblem(field=e.field, reason=e.reason(lang), code=e.code) for e in report.errors
        ]
        raise ApiError(422, "invalid_value", problems)
    code = SiteRow.model_validate(values).code
    return site_detail(session, user, code)


def _one_site_schema() -> dict[str, Any]:
    """The body's schema is a file row's (its enums are the register's components)."""
    schema = SiteRow.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    return schema


@router.post(
    "/sites",
    response_model=SiteDetail,
    dependencies=[upload_sites],
    responses=documented(409),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _one_site_schema()}},
        }
    },
)
def enter_one_site(
    body: Annotated[dict[str, Any], Body()],
    request: Request,
    session: SessionDep,
    user: CurrentUser,
) -> SiteDetail:
    """Enter one site by its fields (the template's columns by their English names: county_code,
    site_code, siam_id, name, kind, address, postal_code, phone, latitude, longitude, link_type),
    checked exactly as a row of the upload: 422 with each bad field and the reason, and nothing
    is written. A registered code of the same county updates its site while it may change."""
    return entered_site(session, request, user, body)


def site_detail(session: Session, user: User, site_code: str) -> SiteDetail:
    """The site with its history; 404 if unknown, 403 if the user may not see it."""
    site = session.exec(select(Site).where(Site.site_code == normalize_text(site_code))).first()
    if site is None:
        raise ApiError(404, "not_found")
    if not reach_of(user).sees(site.county_code, site.state, site.exchange):
        raise ApiError(403, "forbidden")
    county = session.exec(select(County).where(County.code == site.county_code)).one()
    events = session.exec(
        select(SiteEvent)
        .where(SiteEvent.site_id == site.id)
        .order_by(col(SiteEvent.at), col(SiteEvent.id))
    )
    return SiteDetail(
        **SiteView.model_validate(site, from_attributes=True).model_dump(),
        county_name=county.name,
        router_host=site.router_host,
        router_port=site.router_port,
        events=[SiteEventView.model_validate(e, from_attributes=True) for e in events],
    )


@router.get(
    "/sites/{site_code}",
    response_model=SiteDetail,
    dependencies=[read_sites],
    responses=documented(404),
)
def get_site(site_code: str, session: SessionDep, user: CurrentUser) -> SiteDetail:
    """One site and its history."""
    return site_detail(session, user, site_code)
