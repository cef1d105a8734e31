"""Process 3's registers: the units and their heads, and the posts of the office-automation
system with their holders.

The automation admins (and admins) keep the units and the posts. A unit's secretariat
(`unit_secretary`, scope `unit:{code}`) reads its own unit, its posts and its letters only
(another unit's: 403).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, File, Request, UploadFile, status
from pydantic import BaseModel, ValidationError, field_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api.audit import audit, changed
from api.errors import ApiError, FieldProblem, documented, field_problems, lang_of
from api.routes.shams_register import audited, read_upload, rows_refused, run_import
from api.security import CurrentUser, SessionDep, require_role
from db.models import User, utcnow
from db.office_automation import (
    AppointmentCase,
    Post,
    Unit,
    UnitReach,
    reach_filter,
    unit_reach,
)
from db.site_register import ImportReport
from db.unit_register import import_units
from domain.cases import Role
from domain.messages import Lang, message
from domain.office_automation import HandoverState, PostRow, PostState, UnitRow
from domain.text import normalize_text

KEEPERS = (Role.automation_admin,)
"""Who keeps the units and the posts (admins always may)."""
READERS = (Role.automation_admin, Role.unit_secretary)
"""Each within its reach: the admins every unit, a secretariat its own."""

keep_registers = Depends(require_role(*KEEPERS))
read_registers = Depends(require_role(*READERS))

router = APIRouter(
    prefix="/api/automation", tags=["office automation register"], responses=documented(401, 403)
)


class UnitView(BaseModel):
    code: str
    name: str
    parent_code: str | None
    head_name: str
    """The unit's highest authority: receives the credentials of its posts."""
    head_national_code: str
    head_mobile: str
    head_email: str | None
    active: bool
    posts: int
    """Its posts in the register."""


class UnitChange(BaseModel):
    """Leave a field out to keep it; `parent_code` and `head_email` may be null to clear them.
    The code, which scopes and letters name, stays. The unit as changed is checked whole."""

    name: str | None = None
    parent_code: str | None = None
    head_name: str | None = None
    head_national_code: str | None = None
    head_mobile: str | None = None
    head_email: str | None = None
    active: bool | None = None

    @field_validator("name", "head_name", "head_national_code", "head_mobile", "active")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise PydanticCustomError("invalid_value", "may be left out, not null")
        return value


class PostView(BaseModel):
    id: int
    unit_code: str
    title: str
    automation_code: str | None
    is_manager: bool
    state: PostState
    holder_national_code: str | None
    holder_name: str | None
    held_from: date | None
    held_until: date | None
    handover_state: HandoverState | None
    """Where the hand-over of the holder's credentials stands, by the post's latest letter."""


class UnitDetail(UnitView):
    posts_held: list[PostView]
    """Its posts, holders and each hand-over's state."""


def reach_of(user: User) -> UnitReach:
    return unit_reach(user.roles, user.scopes)


def _problem(field: str, code: str, lang: Lang) -> FieldProblem:
    return FieldProblem(field=field, reason=message(code, lang), code=code)


def _invalid(error: ValidationError, lang: Lang) -> ApiError:
    return ApiError(422, "invalid_input", field_problems([dict(e) for e in error.errors()], lang))


def find_unit(session: Session, code: str) -> Unit:
    unit = session.exec(select(Unit).where(Unit.code == normalize_text(code))).first()
    if unit is None:
        raise ApiError(404, "not_found")
    return unit


def _unit_view(session: Session, unit: Unit) -> UnitView:
    posts = session.exec(select(func.count()).where(Post.unit_code == unit.code)).one()
    return UnitView(**unit.model_dump(exclude={"id", "created_at", "updated_at"}), posts=posts)


@router.get("/units", response_model=list[UnitView], dependencies=[read_registers])
def list_units(session: SessionDep, user: CurrentUser) -> list[UnitView]:
    """The units by code, each with its head and the number of its posts; a unit's secretariat
    sees its own unit only."""
    query = (
        select(Unit).where(reach_filter(reach_of(user), col(Unit.code))).order_by(col(Unit.code))
    )
    return [_unit_view(session, unit) for unit in session.exec(query)]


def _checked_unit(session: Session, values: dict[str, object], lang: Lang) -> UnitRow:
    try:
        row = UnitRow.model_validate(values)
    except ValidationError as error:
        raise _invalid(error, lang) from None
    if row.parent_code is not None:
        parents = dict(session.exec(select(Unit.code, Unit.parent_code)).all())
        if row.parent_code not in parents:
            raise ApiError(
                422, "invalid_input", [_problem("parent_code", "unit_parent_unknown", lang)]
            )
        seen = {row.code}
        parent: str | None = row.parent_code
        while parent is not None:
            if parent in seen:
                raise ApiError(
                    422, "invalid_input", [_problem("parent_code", "unit_parent_cycle", lang)]
                )
            seen.add(parent)
            parent = parents.get(parent)
    return row


def _save_unit(session: Session, unit: Unit, lang: Lang) -> UnitView:
    session.add(unit)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise ApiError(409, "conflict", [_problem("code", "unit_code_taken", lang)]) from None
    session.refresh(unit)
    return _unit_view(session, unit)


@router.post(
    "/units",
    response_model=UnitView,
    status_code=status.HTTP_201_CREATED,
    dependencies=[keep_registers],
    responses=documented(409),
)
def create_unit(
    body: UnitRow, request: Request, session: SessionDep, user: CurrentUser
) -> UnitView:
    """Add a unit: its code, name, parent unit and head (the highest authority)."""
    lang = lang_of(request)
    row = _checked_unit(session, body.model_dump(), lang)
    if session.exec(select(Unit.id).where(Unit.code == row.code)).first() is not None:
        raise ApiError(409, "conflict", [_problem("code", "unit_code_taken", lang)])
    values = row.model_dump(mode="json")
    audit(session, request, user, "unit.create", row.code, **values)
    return _save_unit(session, Unit(**values), lang)


@router.patch(
    "/units/{code}",
    response_model=UnitView,
    dependencies=[keep_registers],
    responses=documented(404),
)
def change_unit(
    code: str, body: UnitChange, request: Request, session: SessionDep, user: CurrentUser
) -> UnitView:
    """Change a unit's name, parent, head or activity."""
    unit = find_unit(session, code)
    lang = lang_of(request)
    current = unit.model_dump(include=set(UnitRow.model_fields))
    row = _checked_unit(session, {**current, **body.model_dump(exclude_unset=True)}, lang)
    after = row.model_dump(mode="json")
    diff = changed(current, after)
    if diff:
        audit(session, request, user, "unit.change", unit.code, **diff)
        unit.sqlmodel_update({**after, "updated_at": utcnow()})
    return _save_unit(session, unit, lang)


@router.post(
    "/units/import",
    response_model=ImportReport,
    dependencies=[keep_registers],
    responses=documented(409, 413),
)
def import_unit_list(
    file: Annotated[UploadFile, File()],
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    dry_run: bool = False,
) -> ImportReport:
    """Upload the units' list, CSV (UTF-8) or XLSX, headers in Persian or English: code, name,
    head's name, national code and mobile (required), parent code, head's e-mail, active. All
    or nothing, by code: with any bad row the answer is 422 `rows_invalid`, each error's field
    `rows.{row}.{column}` (the header is row 1)."""
    report = upload_units(session, request, user, file, dry_run=dry_run)
    if report.errors:
        raise rows_refused(report, lang_of(request))
    return report


def upload_units(
    session: Session, request: Request, user: User, file: UploadFile, *, dry_run: bool
) -> ImportReport:
    """The units' list imported, audited, all or nothing: the report names each bad row."""
    lang = lang_of(request)
    data = read_upload(file, lang)
    before_commit = audited(session, request, user, "units.import", file)
    return run_import(
        session,
        lang,
        lambda: import_units(session, data, dry_run=dry_run, before_commit=before_commit),
    )


def post_views(session: Session, posts: list[Post]) -> list[PostView]:
    """The posts with the hand-over state of each one's latest appointment letter."""
    ids = [p.id for p in posts if p.id is not None]
    latest: dict[int, HandoverState | None] = {}
    letters = session.exec(
        select(AppointmentCase)
        .where(col(AppointmentCase.post_id).in_(ids))
        .order_by(col(AppointmentCase.case_id))
    )
    for letter in letters:
        if letter.post_id is not None:
            latest[letter.post_id] = letter.handover_state
    return [
        PostView(
            **post.model_dump(exclude={"id", "case_id", "created_at", "updated_at"}),
            id=post.id or 0,
            handover_state=latest.get(post.id or 0),
        )
        for post in posts
    ]


@router.get(
    "/units/{code}",
    response_model=UnitDetail,
    dependencies=[read_registers],
    responses=documented(404),
)
def get_unit(code: str, session: SessionDep, user: CurrentUser) -> UnitDetail:
    """A unit's page: its head, and its posts with their holders and each hand-over's state.
    A unit's secretariat may read its own unit only."""
    reach = reach_of(user)
    unit = session.exec(select(Unit).where(Unit.code == normalize_text(code))).first()
    if not reach.sees(normalize_text(code)):
        raise ApiError(403, "forbidden")
    if unit is None:
        raise ApiError(404, "not_found")
    posts = session.exec(
        select(Post).where(Post.unit_code == unit.code).order_by(col(Post.title), col(Post.id))
    )
    return UnitDetail(
        **_unit_view(session, unit).model_dump(), posts_held=post_views(session, list(posts))
    )


@router.get("/posts", response_model=list[PostView], dependencies=[read_registers])
def list_posts(
    session: SessionDep,
    user: CurrentUser,
    unit: str = "",
    state: PostState | None = None,
) -> list[PostView]:
    """The posts by unit and title, of one unit (`unit`) or in one state; a unit's secretariat
    sees its own unit's only."""
    query = select(Post).where(reach_filter(reach_of(user), col(Post.unit_code)))
    if unit:
        query = query.where(Post.unit_code == normalize_text(unit))
    if state is not None:
        query = query.where(Post.state == state)
    posts = session.exec(query.order_by(col(Post.unit_code), col(Post.title), col(Post.id)))
    return post_views(session, list(posts))


@router.post(
    "/posts",
    response_model=PostView,
    status_code=status.HTTP_201_CREATED,
    dependencies=[keep_registers],
    responses=documented(409),
)
def create_post(
    body: PostRow, request: Request, session: SessionDep, user: CurrentUser
) -> PostView:
    """Add a post to a unit (vacant): its title, manager or not, and its code in the automation
    system if it exists there already."""
    lang = lang_of(request)
    if session.exec(select(Unit.id).where(Unit.code == body.unit_code)).first() is None:
        raise ApiError(422, "invalid_input", [_problem("unit_code", "unit_unknown", lang)])
    taken = FieldProblem(
        field="automation_code",
        reason=message("automation_code_taken", lang),
        code="automation_code_taken",
    )
    if (
        body.automation_code is not None
        and session.exec(
            select(Post.id).where(Post.automation_code == body.automation_code)
        ).first()
    ):
        raise ApiError(409, "conflict", [taken])
    values = body.model_dump(mode="json")
    post = Post(**values)
    session.add(post)
    audit(session, request, user, "post.create", body.title, **values)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise ApiError(409, "conflict", [taken]) from None
    session.refresh(post)
    return post_views(session, [post])[0]
