"""Process 2's registers: the vendors (شرکت‌های پیمانکار) and the equipment register (اموال).

Admins and the support lead manage them; technicians and the IT supervisor read them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile, status
from pydantic import BaseModel, BeforeValidator, Field, field_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import func, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api.audit import audit, changed
from api.errors import ApiError, FieldProblem, RowId, documented, lang_of
from api.routes.admin import Email
from api.security import CurrentUser, SessionDep, require_role
from api.uploads import receive, refusal
from db.asset_register import (
    MAX_BYTES,
    FileRejected,
    RegisterReport,
    import_register,
    vendor_key,
)
from db.models import Case
from db.repair import Asset, RepairJob, Vendor
from domain.calendar import TEHRAN
from domain.cases import CaseStatus, Role
from domain.messages import Lang, message
from domain.repair import (
    ASSET_KIND_FA,
    AssetKind,
    AssetState,
    Mobile,
    RepairOutcome,
    RepairPath,
    under_warranty,
)
from domain.text import empty_as_none, normalize_text, typed_text
from domain.uploads import CheckedFile, UploadKind

MANAGERS = (Role.support_lead,)
"""Who changes the registers (admins always may)."""
READERS = (Role.support_lead, Role.technician, Role.it_supervisor)

manage = Depends(require_role(*MANAGERS))
read = Depends(require_role(*READERS))

router = APIRouter(prefix="/api/repair", tags=["repair registers"], responses=documented(401, 403))


Name = Annotated[str, BeforeValidator(typed_text), Field(min_length=2, max_length=200)]
Contact = Annotated[str, BeforeValidator(typed_text), Field(max_length=200)]
OptionalMobile = Annotated[Mobile | None, BeforeValidator(empty_as_none)]


def _fields_of_work(value: list[AssetKind]) -> list[AssetKind]:
    if not value:
        raise PydanticCustomError("required", "at least one kind of equipment")
    return sorted(set(value), key=list(AssetKind).index)


class VendorView(BaseModel):
    id: int
    name: str
    fields: list[AssetKind]
    """Kinds of equipment it works on."""
    contact_name: str
    mobile: str | None
    """Where its SMS go."""
    email: str | None
    is_active: bool


class NewVendor(BaseModel):
    name: Name
    fields: list[AssetKind]
    contact_name: Contact = ""
    mobile: OptionalMobile = None
    email: Email = None
    is_active: bool = True

    _fields = field_validator("fields")(_fields_of_work)


class VendorChange(BaseModel):
    """Leave a field out to keep it; `mobile` and `email` may be null to clear them."""

    name: Name | None = None
    fields: list[AssetKind] | None = None
    contact_name: Contact | None = None
    mobile: OptionalMobile = None
    email: Email = None
    is_active: bool | None = None
    """False: no new job goes to it; its open jobs go on."""

    @field_validator("name", "fields", "contact_name", "is_active")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise PydanticCustomError("invalid_value", "may be left out, not null")
        return value

    @field_validator("fields")
    @classmethod
    def _some_fields(cls, value: list[AssetKind]) -> list[AssetKind]:
        return _fields_of_work(value)


class AssetView(BaseModel):
    property_number: str
    serial: str
    kind: AssetKind
    make_model: str
    unit: str
    room: str
    holder: str
    purchase_date: date | None
    warranty_end: date | None
    warranty_vendor_id: int | None
    state: AssetState


class AssetPage(BaseModel):
    items: list[AssetView]
    total: int
    page: int
    per_page: int


class RepairEntry(BaseModel):
    """One repair of the asset, from its case."""

    tracking_code: str
    opened_at: datetime
    closed_at: datetime | None
    status: CaseStatus
    path: RepairPath | None
    outcome: RepairOutcome | None
    vendor_name: str | None
    under_warranty: bool
    cost_rials: int
    """What the repair cost: time, fixed and material (zero under warranty)."""


class AssetDetail(AssetView):
    warranty_vendor_name: str | None
    under_warranty: bool
    """Covered today (Tehran)."""
    history: list[RepairEntry]
    """Its repairs, the latest first."""


def _problem(field: str, code: str, lang: Lang, **params: object) -> FieldProblem:
    return FieldProblem(field=field, reason=message(code, lang, **params), code=code)


def find_vendor(session: Session, vendor_id: int) -> Vendor:
    vendor = session.get(Vendor, vendor_id)
    if vendor is None:
        raise ApiError(404, "not_found")
    return vendor


def _name_is_free(session: Session, name: str, lang: Lang, but: int | None = None) -> None:
    """Vendor names are compared as the import compares them: spacing and case aside."""
    for other in session.exec(select(Vendor)):
        if other.id != but and vendor_key(other.name) == vendor_key(name):
            raise ApiError(409, "conflict", [_problem("name", "name_taken", lang)])


def _save(session: Session, vendor: Vendor, lang: Lang) -> Vendor:
    session.add(vendor)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise ApiError(409, "conflict", [_problem("name", "name_taken", lang)]) from None
    session.refresh(vendor)
    return vendor


@router.get("/vendors", response_model=list[VendorView], dependencies=[read])
def list_vendors(session: SessionDep, active: bool | None = None) -> list[Vendor]:
    """Every vendor by name; `active=true` for those new jobs may go to."""
    query = select(Vendor).order_by(col(Vendor.name))
    if active is not None:
        query = query.where(Vendor.is_active == active)
    return list(session.exec(query))


@router.post(
    "/vendors",
    response_model=VendorView,
    status_code=status.HTTP_201_CREATED,
    dependencies=[manage],
    responses=documented(409),
)
def create_vendor(
    body: NewVendor, request: Request, session: SessionDep, user: CurrentUser
) -> Vendor:
    lang = lang_of(request)
    _name_is_free(session, body.name, lang)
    values = body.model_dump(mode="json")
    audit(session, request, user, "vendor.create", body.name, **values)
    return _save(session, Vendor(**values), lang)


@router.patch(
    "/vendors/{vendor_id}",
    response_model=VendorView,
    dependencies=[manage],
    responses=documented(404, 409),
)
def change_vendor(
    vendor_id: RowId,
    body: VendorChange,
    request: Request,
    session: SessionDep,
    user: CurrentUser,
) -> Vendor:
    lang = lang_of(request)
    vendor = find_vendor(session, vendor_id)
    changes = body.model_dump(mode="json", exclude_unset=True)
    if "name" in changes:
        _name_is_free(session, changes["name"], lang, but=vendor_id)
    diff = changed(vendor.model_dump(include=set(changes), mode="json"), changes)
    target = f"{vendor_id} {vendor.name}"
    if "is_active" in diff:
        action = "vendor.activate" if changes["is_active"] else "vendor.deactivate"
        audit(session, request, user, action, target)
    rest = {k: v for k, v in diff.items() if k != "is_active"}
    if rest:
        audit(session, request, user, "vendor.change", target, **rest)
    vendor.sqlmodel_update(changes)
    return _save(session, vendor, lang)


def _kinds_named(text: str) -> list[AssetKind]:
    """Kinds whose name (Persian or English) holds the search text."""
    needle = text.casefold()
    return [k for k in AssetKind if needle in k.value or needle in ASSET_KIND_FA[k]]


@router.get("/assets", response_model=AssetPage, dependencies=[read])
def list_assets(
    session: SessionDep,
    q: Annotated[str, Query(max_length=100)] = "",
    kind: AssetKind | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 25,
) -> AssetPage:
    """Search by property number, serial, unit, holder, make and model, or kind's name."""
    query = select(Asset)
    text = normalize_text(q)
    if text:
        # Case-insensitive on every database (PostgreSQL's LIKE is not).
        matches = [
            col(column).icontains(text, autoescape=True)
            for column in (
                Asset.property_number,
                Asset.serial,
                Asset.unit,
                Asset.holder,
                Asset.make_model,
            )
        ]
        kinds = _kinds_named(text)
        if kinds:
            matches.append(col(Asset.kind).in_(kinds))
        query = query.where(or_(*matches))
    if kind is not None:
        query = query.where(Asset.kind == kind)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(
        query.order_by(col(Asset.property_number)).offset((page - 1) * per_page).limit(per_page)
    )
    items = [AssetView.model_validate(a, from_attributes=True) for a in rows]
    return AssetPage(items=items, total=total, page=page, per_page=per_page)


def asset_detail(session: Session, property_number: str, today: date | None = None) -> AssetDetail:
    """The asset with its warranty today and its repairs, the latest first; 404 if unknown."""
    asset = session.exec(
        select(Asset).where(Asset.property_number == normalize_text(property_number))
    ).first()
    if asset is None:
        raise ApiError(404, "not_found")
    today = today or datetime.now(TEHRAN).date()
    vendor = session.get(Vendor, asset.warranty_vendor_id) if asset.warranty_vendor_id else None
    rows = session.exec(
        select(RepairJob, Case, Vendor.name)
        .join(Case, col(Case.id) == RepairJob.case_id)
        .outerjoin(Vendor, col(Vendor.id) == RepairJob.vendor_id)
        .where(RepairJob.asset_id == asset.id)
        .order_by(col(Case.created_at).desc())
    ).all()
    history = [
        RepairEntry(
            tracking_code=case.tracking_code,
            opened_at=case.created_at,
            closed_at=case.closed_at,
            status=case.status,
            path=job.path,
            outcome=job.outcome,
            vendor_name=vendor_name,
            under_warranty=job.under_warranty,
            cost_rials=job.cost_time_rials + job.cost_fixed_rials + job.cost_material_rials,
        )
        for job, case, vendor_name in rows
    ]
    return AssetDetail(
        **AssetView.model_validate(asset, from_attributes=True).model_dump(),
        warranty_vendor_name=vendor.name if vendor else None,
        under_warranty=under_warranty(asset.warranty_end, today),
        history=history,
    )


@router.get(
    "/assets/{property_number:path}",
    response_model=AssetDetail,
    dependencies=[read],
    responses=documented(404),
)
def get_asset(property_number: str, session: SessionDep) -> AssetDetail:
    """One asset (its property number may hold `/`), its warranty and its repair history."""
    return asset_detail(session, property_number)


def read_upload(file: UploadFile, lang: Lang) -> CheckedFile:
    """The uploaded register through the shared upload facility (api/uploads.py): read in
    chunks and refused (413) past the register's size limit, judged by its bytes (422)."""
    return receive(file, UploadKind.spreadsheet, lang, limit=MAX_BYTES)


def audited_import(
    session: Session, request: Request, user: CurrentUser, file: UploadFile
) -> Callable[[RegisterReport], None]:
    """The audit log's row of an import, added inside the import's transaction."""

    def write(report: RegisterReport) -> None:
        audit(
            session,
            request,
            user,
            "assets.import",
            file.filename or "",
            created=report.created,
            updated=report.updated,
            unchanged=report.unchanged,
        )

    return write


def run_import(
    session: Session,
    data: CheckedFile,
    lang: Lang,
    *,
    dry_run: bool,
    before_commit: Callable[[RegisterReport], None] | None = None,
) -> RegisterReport:
    """The import; a file that is no register is a 422 on `file`, a race on a new property
    number a 409 (nothing written either way)."""
    try:
        return import_register(session, data, dry_run=dry_run, before_commit=before_commit)
    except FileRejected as error:
        raise refusal(error, lang) from None
    except IntegrityError:
        session.rollback()
        raise ApiError(409, "conflict", [_problem("file", "conflict", lang)]) from None


@router.post(
    "/assets/import",
    response_model=RegisterReport,
    dependencies=[manage],
    responses=documented(409, 413),
)
def import_assets(
    file: Annotated[UploadFile, File()],
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    dry_run: bool = False,
) -> Any:
    """Upload the property office's register, CSV (UTF-8) or XLSX, headers in Persian or
    English. All or nothing: with any bad row the answer is 422 and nothing is written; each
    error's field is `rows.{row}.{column}` (the header is row 1). `dry_run` checks and counts
    without writing."""
    lang = lang_of(request)
    report = run_import(
        session,
        read_upload(file, lang),
        lang,
        dry_run=dry_run,
        before_commit=audited_import(session, request, user, file),
    )
    if report.errors:
        problems = [
            FieldProblem(field=f"rows.{e.row}.{e.field}", reason=e.reason(lang), code=e.code)
            for e in report.errors
        ]
        raise ApiError(422, "rows_invalid", problems)
    return report
