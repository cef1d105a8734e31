"""Process 5's registers: the hospitals and their HIS vendors, the error bank (بانک خطا), SRM's
error reports (upload) and a hospital's errors of a window.

The SEPAS expert (and admins) keep the hospitals, the vendors and the bank, and upload SRM's
exports. Hospitals' IT units and HIS vendors read the bank. A hospital's errors are read by the
expert, by its own IT unit (another hospital's: 403) and by the vendor supporting its HIS.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile, status
from pydantic import BaseModel, ValidationError, field_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api.audit import audit, changed
from api.errors import ApiError, FieldProblem, RowId, documented, field_problems, lang_of
from api.routes.sepas_news import announce_srm_import
from api.routes.shams_register import read_upload
from api.security import CurrentUser, SessionDep, require_role
from api.uploads import refusal
from db.error_bank import EntryTaken, add_entry, change_entry, search_entries
from db.models import User, utcnow
from db.sepas import (
    ErrorBankEntry,
    HisVendor,
    Hospital,
    HospitalReach,
    hospital_reach,
    reach_filter,
)
from db.srm_import import SrmFile, SrmImportReport, SrmReading, hospital_errors, store_batch
from domain.calendar import TEHRAN
from domain.cases import Role
from domain.messages import Lang, message
from domain.sepas import (
    BankEntryText,
    BankSource,
    ErrorCategory,
    HisVendorRow,
    HospitalRow,
    MatchKind,
    SrmGroup,
    srm_time,
)
from domain.text import normalize_text
from domain.uploads import FileRefused

REGISTER_KEEPERS = (Role.sepas_expert,)
"""Who keeps the hospitals, the HIS vendors and the bank, and uploads SRM's exports (admins
always may)."""
BANK_READERS = (Role.sepas_expert, Role.hospital_it, Role.his_vendor)
SRM_READERS = (Role.sepas_expert, Role.hospital_it, Role.his_vendor)
"""Each within its reach: the expert every hospital, the others their own."""
DEFAULT_WINDOW = timedelta(days=7)
MAX_WINDOW = timedelta(days=366)

keep_registers = Depends(require_role(*REGISTER_KEEPERS))
read_bank = Depends(require_role(*BANK_READERS))
read_srm = Depends(require_role(*SRM_READERS))

router = APIRouter(prefix="/api/sepas", tags=["sepas register"], responses=documented(401, 403))


class HisVendorView(BaseModel):
    id: int
    name: str
    products: list[str]
    contact_name: str
    phone: str | None
    mobile: str | None
    """Where its SMS reminders go."""
    email: str | None
    active: bool
    hospitals: int
    """Hospitals whose HIS it supports."""


class HisVendorChange(BaseModel):
    """Leave a field out to keep it; `phone`, `mobile` and `email` may be null to clear them.
    The vendor as changed is checked whole."""

    name: str | None = None
    products: list[str] | None = None
    contact_name: str | None = None
    phone: str | None = None
    mobile: str | None = None
    email: str | None = None
    active: bool | None = None


class HospitalView(BaseModel):
    code: str
    name: str
    county_code: str | None
    his_product: str
    his_vendor_id: int | None
    his_vendor_name: str | None
    """The company supporting its HIS."""
    active: bool


class HospitalChange(BaseModel):
    """Leave a field out to keep it; `county_code` and `his_vendor_id` may be null to clear
    them. The code, which SRM's rows and the scopes name, stays."""

    name: str | None = None
    county_code: str | None = None
    his_product: str | None = None
    his_vendor_id: int | None = None
    active: bool | None = None

    @field_validator("name", "his_product", "active")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise PydanticCustomError("invalid_value", "may be left out, not null")
        return value


class BankEntryView(BankEntryText):
    id: int
    active: bool
    match_count: int
    """How many SRM message groups it has explained in cases."""
    updated_at: datetime
    updated_by: str


class BankEntryChange(BaseModel):
    """Leave a field out to keep it; the entry as changed is checked whole (a pattern must still
    compile, a Jira entry still needs its key)."""

    is_pattern: bool | None = None
    message: str | None = None
    category: ErrorCategory | None = None
    cause_fa: str | None = None
    cause_en: str | None = None
    remedy_fa: str | None = None
    remedy_en: str | None = None
    source: BankSource | None = None
    jira_key: str | None = None
    active: bool | None = None
    """False deactivates the entry: it stays for the record and matches nothing."""


class MatchView(BaseModel):
    """The bank's best explanation of a message."""

    entry_id: int
    kind: MatchKind
    score: float
    """100 for an exact text or a pattern; the similarity (0–100) of a similar entry."""
    message: str
    """The entry's message or pattern."""
    category: ErrorCategory
    cause_fa: str
    cause_en: str
    remedy_fa: str
    remedy_en: str


class SrmGroupView(BaseModel):
    message: str
    count: int
    """Occurrences, SRM's counts summed."""
    records: int
    """Distinct records concerned."""
    sample_records: list[str]
    first_at: datetime
    last_at: datetime
    match: MatchView | None


class SrmReadingView(BaseModel):
    """A hospital's SRM errors in a window: `state` is `no_data` while SRM data does not cover
    the window yet (not the same as `clean`), `clean`, or `errors`."""

    hospital_code: str
    hospital_name: str | None
    since: datetime
    until: datetime
    state: str
    covered: bool
    data_until: datetime | None
    """The end of the latest SRM data held."""
    groups: list[SrmGroupView]


def reach_of(user: User) -> HospitalReach:
    return hospital_reach(user.roles, user.scopes)


def _problem(field: str, code: str, lang: Lang) -> FieldProblem:
    return FieldProblem(field=field, reason=message(code, lang), code=code)


def _invalid(error: ValidationError, lang: Lang) -> ApiError:
    return ApiError(422, "invalid_input", field_problems([dict(e) for e in error.errors()], lang))


# ---- HIS vendors ---------------------------------------------------------------------------


def _vendor_view(session: Session, vendor: HisVendor) -> HisVendorView:
    hospitals = session.exec(select(func.count()).where(Hospital.his_vendor_id == vendor.id)).one()
    return HisVendorView(
        **vendor.model_dump(exclude={"created_at", "updated_at"}), hospitals=hospitals
    )


def find_vendor(session: Session, vendor_id: int) -> HisVendor:
    vendor = session.get(HisVendor, vendor_id)
    if vendor is None:
        raise ApiError(404, "not_found")
    return vendor


@router.get("/his-vendors", response_model=list[HisVendorView], dependencies=[keep_registers])
def list_his_vendors(session: SessionDep) -> list[HisVendorView]:
    """Every HIS vendor by name, with the number of hospitals it supports."""
    vendors = session.exec(select(HisVendor).order_by(col(HisVendor.name)))
    return [_vendor_view(session, v) for v in vendors]


def _save_vendor(session: Session, vendor: HisVendor, lang: Lang) -> HisVendorView:
    session.add(vendor)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise ApiError(409, "conflict", [_problem("name", "name_taken", lang)]) from None
    session.refresh(vendor)
    return _vendor_view(session, vendor)


@router.post(
    "/his-vendors",
    response_model=HisVendorView,
    status_code=status.HTTP_201_CREATED,
    dependencies=[keep_registers],
    responses=documented(409),
)
def create_his_vendor(
    body: HisVendorRow, request: Request, session: SessionDep, user: CurrentUser
) -> HisVendorView:
    """Add a company supporting a HIS: its name, products and contacts."""
    values = body.model_dump(mode="json")
    audit(session, request, user, "his_vendor.create", body.name, **values)
    return _save_vendor(session, HisVendor(**values), lang_of(request))


@router.patch(
    "/his-vendors/{vendor_id}",
    response_model=HisVendorView,
    dependencies=[keep_registers],
    responses=documented(404, 409),
)
def change_his_vendor(
    vendor_id: RowId,
    body: HisVendorChange,
    request: Request,
    session: SessionDep,
    user: CurrentUser,
) -> HisVendorView:
    """Change a vendor's name, products, contacts or activity."""
    vendor = find_vendor(session, vendor_id)
    lang = lang_of(request)
    current = vendor.model_dump(include=set(HisVendorRow.model_fields))
    try:
        row = HisVendorRow.model_validate({**current, **body.model_dump(exclude_unset=True)})
    except ValidationError as error:
        raise _invalid(error, lang) from None
    after = row.model_dump(mode="json")
    diff = changed(current, after)
    if diff:
        audit(session, request, user, "his_vendor.change", vendor.id, **diff)
        vendor.sqlmodel_update({**after, "updated_at": utcnow()})
    return _save_vendor(session, vendor, lang)


# ---- hospitals -----------------------------------------------------------------------------


def _hospital_view(session: Session, hospital: Hospital) -> HospitalView:
    vendor = session.get(HisVendor, hospital.his_vendor_id) if hospital.his_vendor_id else None
    return HospitalView(
        **hospital.model_dump(exclude={"id", "created_at", "updated_at"}),
        his_vendor_name=vendor.name if vendor is not None else None,
    )


def find_hospital(session: Session, code: str) -> Hospital:
    hospital = session.exec(select(Hospital).where(Hospital.code == normalize_text(code))).first()
    if hospital is None:
        raise ApiError(404, "not_found")
    return hospital


@router.get("/hospitals", response_model=list[HospitalView], dependencies=[keep_registers])
def list_hospitals(session: SessionDep, user: CurrentUser) -> list[HospitalView]:
    """Every hospital by code, with its HIS and vendor."""
    query = select(Hospital).where(reach_filter(reach_of(user))).order_by(col(Hospital.code))
    return [_hospital_view(session, h) for h in session.exec(query)]


def _checked_hospital(session: Session, values: dict[str, Any], lang: Lang) -> HospitalRow:
    try:
        row = HospitalRow.model_validate(values)
    except ValidationError as error:
        raise _invalid(error, lang) from None
    if row.his_vendor_id is not None and session.get(HisVendor, row.his_vendor_id) is None:
        raise ApiError(
            422, "invalid_input", [_problem("his_vendor_id", "his_vendor_unknown", lang)]
        )
    return row


def _save_hospital(session: Session, hospital: Hospital, lang: Lang) -> HospitalView:
    session.add(hospital)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise ApiError(409, "conflict", [_problem("code", "hospital_code_taken", lang)]) from None
    session.refresh(hospital)
    return _hospital_view(session, hospital)


@router.post(
    "/hospitals",
    response_model=HospitalView,
    status_code=status.HTTP_201_CREATED,
    dependencies=[keep_registers],
    responses=documented(409),
)
def create_hospital(
    body: HospitalRow, request: Request, session: SessionDep, user: CurrentUser
) -> HospitalView:
    """Add a hospital: its SEPAS code, name, county, HIS product and vendor."""
    lang = lang_of(request)
    row = _checked_hospital(session, body.model_dump(), lang)
    if session.exec(select(Hospital.id).where(Hospital.code == row.code)).first() is not None:
        raise ApiError(409, "conflict", [_problem("code", "hospital_code_taken", lang)])
    values = row.model_dump(mode="json")
    audit(session, request, user, "hospital.create", row.code, **values)
    return _save_hospital(session, Hospital(**values), lang)


@router.patch(
    "/hospitals/{code}",
    response_model=HospitalView,
    dependencies=[keep_registers],
    responses=documented(404),
)
def change_hospital(
    code: str, body: HospitalChange, request: Request, session: SessionDep, user: CurrentUser
) -> HospitalView:
    """Change a hospital's name, county, HIS, vendor or activity."""
    hospital = find_hospital(session, code)
    lang = lang_of(request)
    current = hospital.model_dump(include=set(HospitalRow.model_fields))
    row = _checked_hospital(session, {**current, **body.model_dump(exclude_unset=True)}, lang)
    after = row.model_dump(mode="json")
    diff = changed(current, after)
    if diff:
        audit(session, request, user, "hospital.change", hospital.code, **diff)
        hospital.sqlmodel_update({**after, "updated_at": utcnow()})
    return _save_hospital(session, hospital, lang)


# ---- the error bank ------------------------------------------------------------------------


def _entry_view(entry: ErrorBankEntry) -> BankEntryView:
    return BankEntryView.model_validate(entry, from_attributes=True)


def find_entry(session: Session, entry_id: int) -> ErrorBankEntry:
    entry = session.get(ErrorBankEntry, entry_id)
    if entry is None:
        raise ApiError(404, "not_found")
    return entry


@router.get("/error-bank", response_model=list[BankEntryView], dependencies=[read_bank])
def list_error_bank(
    session: SessionDep,
    q: Annotated[str, Query(max_length=100)] = "",
    category: ErrorCategory | None = None,
    active: bool | None = None,
) -> list[BankEntryView]:
    """The bank's entries, the most matched first; `q` searches the message, the cause, the
    remedy and the Jira key."""
    return [_entry_view(e) for e in search_entries(session, q, category, active)]


@router.get(
    "/error-bank/{entry_id}",
    response_model=BankEntryView,
    dependencies=[read_bank],
    responses=documented(404),
)
def get_error_bank_entry(entry_id: RowId, session: SessionDep) -> BankEntryView:
    return _entry_view(find_entry(session, entry_id))


def _taken(lang: Lang) -> ApiError:
    return ApiError(409, "conflict", [_problem("message", "bank_entry_taken", lang)])


@router.post(
    "/error-bank",
    response_model=BankEntryView,
    status_code=status.HTTP_201_CREATED,
    dependencies=[keep_registers],
    responses=documented(409),
)
def create_error_bank_entry(
    body: BankEntryText, request: Request, session: SessionDep, user: CurrentUser
) -> BankEntryView:
    """Add an SRM message, or a pattern of messages ({number}, {code}, {text} placeholders),
    with its category, cause and remedy in Persian and English."""
    try:
        entry = add_entry(session, body, user.username)
    except EntryTaken:
        raise _taken(lang_of(request)) from None
    audit(session, request, user, "error_bank.create", entry.id, **body.model_dump(mode="json"))
    session.commit()
    return _entry_view(entry)


@router.patch(
    "/error-bank/{entry_id}",
    response_model=BankEntryView,
    dependencies=[keep_registers],
    responses=documented(404, 409),
)
def change_error_bank_entry(
    entry_id: RowId,
    body: BankEntryChange,
    request: Request,
    session: SessionDep,
    user: CurrentUser,
) -> BankEntryView:
    """Change an entry, or deactivate it (`active: false`)."""
    entry = find_entry(session, entry_id)
    lang = lang_of(request)
    given = body.model_dump(exclude_unset=True)
    active = given.pop("active", entry.active)
    if active is None:
        raise ApiError(422, "invalid_input", [_problem("active", "invalid_value", lang)])
    current = entry.model_dump(include=set(BankEntryText.model_fields))
    try:
        text = BankEntryText.model_validate({**current, **given})
    except ValidationError as error:
        raise _invalid(error, lang) from None
    try:
        changes = change_entry(session, entry, text, user.username, active)
    except EntryTaken:
        session.rollback()
        raise _taken(lang) from None
    if changes:
        before = {k: getattr(entry, k) for k in changes}
        audit(session, request, user, "error_bank.change", entry_id, **changed(before, changes))
    session.commit()
    session.refresh(entry)
    return _entry_view(entry)


# ---- SRM -----------------------------------------------------------------------------------


def _period(value: str, field: str, lang: Lang) -> datetime | None:
    if not value.strip():
        return None
    try:
        moment: Any = srm_time(value)
    except PydanticCustomError:
        moment = None
    if not isinstance(moment, datetime):
        raise ApiError(422, "invalid_input", [_problem(field, "srm_time_invalid", lang)])
    return moment


def upload_srm(
    session: Session,
    request: Request,
    user: User,
    file: UploadFile,
    period_from: str = "",
    period_until: str = "",
) -> SrmImportReport:
    """An SRM export stored for `user`: audited, all or nothing."""
    lang = lang_of(request)
    data = read_upload(file, lang)
    source = SrmFile(
        data,
        file.filename or "srm",
        period_from=_period(period_from, "period_from", lang),
        period_until=_period(period_until, "period_until", lang),
    )

    def before_commit(report: SrmImportReport) -> None:
        name = file.filename or ""
        audit(session, request, user, "srm.import", name, rows=report.rows, added=report.added)

    try:
        report = store_batch(
            session, source.read(), actor=user.username, before_commit=before_commit
        )
    except FileRefused as error:
        raise refusal(error, lang) from None
    except IntegrityError:
        # The same export uploaded twice at once: the other upload stored it.
        session.rollback()
        raise ApiError(409, "conflict", [_problem("file", "srm_file_imported", lang)]) from None
    if report.added:
        announce_srm_import(request, report.source_name)
    return report


@router.post(
    "/srm/import",
    response_model=SrmImportReport,
    dependencies=[keep_registers],
    responses=documented(409, 413),
)
def import_srm_export(
    file: Annotated[UploadFile, File()],
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    period_from: Annotated[str, Form(max_length=40)] = "",
    period_until: Annotated[str, Form(max_length=40)] = "",
) -> SrmImportReport:
    """Upload an export downloaded from SRM, CSV (UTF-8) or XLSX, headers in Persian or English:
    hospital code, time, record id, error message, count. All or nothing: with any bad row the
    answer is 422 `rows_invalid` and nothing is written; each error's field is
    `rows.{row}.{column}` (the header is row 1). The same export twice adds nothing
    (`already_imported`), and rows already brought by an overlapping export are `known`.
    `period_from`/`period_until`: the span the export covers, if not its rows' first and last
    time."""
    report = upload_srm(session, request, user, file, period_from, period_until)
    if report.errors:
        lang = lang_of(request)
        problems = [
            FieldProblem(field=f"rows.{e.row}.{e.field}", reason=e.reason(lang), code=e.code)
            for e in report.errors
        ]
        raise ApiError(422, "rows_invalid", problems)
    return report


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=TEHRAN)


def _match_view(session: Session, group: SrmGroup) -> MatchView | None:
    if group.match is None:
        return None
    entry = session.get(ErrorBankEntry, group.match.entry_id)
    if entry is None:
        return None
    return MatchView(
        entry_id=group.match.entry_id,
        kind=group.match.kind,
        score=group.match.score,
        **entry.model_dump(
            include={"message", "category", "cause_fa", "cause_en", "remedy_fa", "remedy_en"}
        ),
    )


def srm_reading(
    session: Session,
    user: User,
    code: str,
    since: datetime | None,
    until: datetime | None,
    lang: Lang,
) -> SrmReadingView:
    """The hospital's errors of the window for `user`; 403 for a hospital not in its reach."""
    code = normalize_text(code)
    hospital = session.exec(select(Hospital).where(Hospital.code == code)).first()
    reach = reach_of(user)
    if not reach.everything and (
        hospital is None or not reach.sees(hospital.code, hospital.his_vendor_id)
    ):
        raise ApiError(403, "forbidden")
    end = _aware(until) if until is not None else utcnow()
    start = _aware(since) if since is not None else end - DEFAULT_WINDOW
    if not start < end or end - start > MAX_WINDOW:
        raise ApiError(422, "invalid_input", [_problem("until", "srm_window_invalid", lang)])
    reading: SrmReading = hospital_errors(session, code, start, end)
    return SrmReadingView(
        hospital_code=code,
        hospital_name=hospital.name if hospital is not None else None,
        since=start,
        until=end,
        state=reading.state.value,
        covered=reading.covered,
        data_until=reading.data_until,
        groups=[
            SrmGroupView(**group.model_dump(exclude={"match"}), match=_match_view(session, group))
            for group in reading.groups
        ],
    )


@router.get(
    "/hospitals/{code}/srm-errors",
    response_model=SrmReadingView,
    dependencies=[read_srm],
)
def get_srm_errors(
    code: str,
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    since: datetime | None = None,
    until: datetime | None = None,
) -> SrmReadingView:
    """The hospital's SRM errors from `since` to `until` (ISO times; without a zone, Tehran's;
    by default the last 7 days, at most 366), grouped by message, the most frequent first, each
    with the bank's best match. `state` tells `no_data` (SRM data does not reach the window yet)
    from `clean`. A hospital's IT unit may read its own hospital only, a HIS vendor the
    hospitals it supports."""
    return srm_reading(session, user, code, since, until, lang_of(request))
