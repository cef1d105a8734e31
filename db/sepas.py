"""Tables of process 5 (SEPAS record-sending errors): the hospitals and their HIS vendors, the
error bank, and the errors SRM reported, with the imports they came in.

Who sees what is said by scopes: a `hospital_it` user's scope is `hospital_scope(code)`, its
hospital; a `his_vendor` user's is `his_vendor_scope(id)`, its company, which sees the hospitals
whose HIS it supports. The SEPAS expert (and admins) see every hospital.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ColumnElement, Index, UniqueConstraint, false, func, or_, true
from sqlmodel import Field, Session, SQLModel, col, select

from db.models import EnumText, UtcDateTime, utcnow
from domain.cases import ALL_SCOPES, Role
from domain.sepas import (
    MESSAGE_MAX,
    SRM_MESSAGE_MAX,
    BankEntry,
    BankMatcher,
    BankSource,
    ErrorCategory,
)
from domain.sepas_process import Verdict
from settings import get_settings

HOSPITAL_SCOPE = "hospital:"
HIS_VENDOR_SCOPE = "his_vendor:"


def hospital_scope(code: str) -> str:
    """The scope of a hospital's IT unit and of its tasks."""
    return f"{HOSPITAL_SCOPE}{code}"


def his_vendor_scope(vendor_id: int) -> str:
    """The scope of a HIS vendor's users and of its tasks."""
    return f"{HIS_VENDOR_SCOPE}{vendor_id}"


SEPAS_OFFICE_ROLES = frozenset({Role.admin, Role.sepas_expert})
"""They see every hospital and keep the registers and the bank."""


@dataclass(frozen=True)
class HospitalReach:
    """The hospitals a user may see: all, or those of its scopes (a hospital's own, a vendor's
    supported ones)."""

    everything: bool = False
    hospitals: frozenset[str] = frozenset()
    vendors: frozenset[int] = frozenset()

    def sees(self, code: str, his_vendor_id: int | None) -> bool:
        return (
            self.everything
            or code in self.hospitals
            or (his_vendor_id is not None and his_vendor_id in self.vendors)
        )


def hospital_reach(roles: Iterable[str], scopes: Iterable[str]) -> HospitalReach:
    """What `roles` within `scopes` may see of the hospitals and their SRM errors."""
    held, within = set(roles), set(scopes)
    if held & SEPAS_OFFICE_ROLES:
        return HospitalReach(everything=True)
    hospitals: frozenset[str] = frozenset()
    vendors: frozenset[int] = frozenset()
    if Role.hospital_it in held:
        if ALL_SCOPES in within:
            return HospitalReach(everything=True)
        hospitals = frozenset(
            s.removeprefix(HOSPITAL_SCOPE) for s in within if s.startswith(HOSPITAL_SCOPE)
        )
    if Role.his_vendor in held:
        if ALL_SCOPES in within:
            return HospitalReach(everything=True)
        vendors = frozenset(
            int(s.removeprefix(HIS_VENDOR_SCOPE))
            for s in within
            if s.startswith(HIS_VENDOR_SCOPE) and s.removeprefix(HIS_VENDOR_SCOPE).isdigit()
        )
    return HospitalReach(hospitals=hospitals, vendors=vendors)


class HisVendor(SQLModel, table=True):
    """شرکت پشتیبانی کننده: a company supporting a HIS, that fixes its software errors."""

    __tablename__ = "his_vendors"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=200)
    products: list[str] = Field(default_factory=list, sa_type=JSON)
    """Its HIS products' names."""
    contact_name: str = Field(default="", max_length=200)
    phone: str | None = Field(default=None, max_length=11)
    mobile: str | None = Field(default=None, max_length=11)
    """Where its SMS reminders go."""
    email: str | None = Field(default=None, max_length=200)
    active: bool = True
    created_at: datetime = Field(sa_type=UtcDateTime, default_factory=utcnow)
    updated_at: datetime = Field(sa_type=UtcDateTime, default_factory=utcnow)


class Hospital(SQLModel, table=True):
    """A hospital whose HIS sends records to SEPAS."""

    __tablename__ = "hospitals"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=20)
    """Its code in SEPAS / SRM: how SRM's rows name it."""
    name: str = Field(max_length=200)
    county_code: str | None = Field(default=None, max_length=20)
    """The county health network it belongs to (process 4's code), if known."""
    his_product: str = Field(default="", max_length=200)
    his_vendor_id: int | None = Field(default=None, foreign_key="his_vendors.id", index=True)
    active: bool = True
    created_at: datetime = Field(sa_type=UtcDateTime, default_factory=utcnow)
    updated_at: datetime = Field(sa_type=UtcDateTime, default_factory=utcnow)


class ErrorBankEntry(SQLModel, table=True):
    """بانک خطا: an SRM message (or a pattern of messages), its category, cause and remedy."""

    __tablename__ = "error_bank"
    __table_args__ = (UniqueConstraint("match_key", "is_pattern"),)

    id: int | None = Field(default=None, primary_key=True)
    message: str = Field(max_length=MESSAGE_MAX)
    """As the expert wrote it."""
    match_key: str = Field(max_length=MESSAGE_MAX)
    """`domain.sepas.match_key(message)`: one entry per message however it is spelled."""
    is_pattern: bool = False
    category: ErrorCategory = Field(sa_type=EnumText(ErrorCategory, 20))
    cause_fa: str = Field(max_length=2000)
    cause_en: str = Field(max_length=2000)
    remedy_fa: str = Field(max_length=2000)
    remedy_en: str = Field(max_length=2000)
    source: BankSource = Field(sa_type=EnumText(BankSource, 20))
    jira_key: str | None = Field(default=None, max_length=30)
    """The ministry's Jira issue the entry came from."""
    match_count: int = 0
    """How many SRM message groups it has explained in cases."""
    active: bool = True
    """An inactive entry stays for the record and matches nothing."""
    created_at: datetime = Field(sa_type=UtcDateTime, default_factory=utcnow)
    updated_at: datetime = Field(sa_type=UtcDateTime, default_factory=utcnow)
    updated_by: str = Field(max_length=64)
    """A username, or `system` for the seed."""


class SrmImport(SQLModel, table=True):
    """One read of SRM data: a file, or an answer of the HTTP source."""

    __tablename__ = "srm_imports"
    __table_args__ = (Index("ix_srm_imports_period", "period_until", "period_from"),)

    id: int | None = Field(default=None, primary_key=True)
    source_key: str = Field(unique=True, max_length=200)
    """A file's SHA-256, or the HTTP source's window and answer digest: the same data twice is
    one import."""
    source_name: str = Field(max_length=500)
    period_from: datetime | None = Field(default=None, sa_type=UtcDateTime)
    period_until: datetime | None = Field(default=None, sa_type=UtcDateTime)
    """The span the data covers; a window inside the imports' spans has SRM data."""
    rows: int
    """Rows the data held."""
    added: int
    """Rows new to Peygir (the rest were known from an earlier import)."""
    imported_at: datetime = Field(sa_type=UtcDateTime, default_factory=utcnow)
    imported_by: str = Field(max_length=64)


class SrmError(SQLModel, table=True):
    """An error SRM reported: a hospital's record SEPAS refused, when and why."""

    __tablename__ = "srm_errors"
    __table_args__ = (Index("ix_srm_errors_hospital_at", "hospital_code", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    row_key: str = Field(unique=True, max_length=64)
    """SHA-256 of hospital, time, record and message: the same line in two exports is one row."""
    hospital_code: str = Field(max_length=20)
    at: datetime = Field(sa_type=UtcDateTime)
    record_id: str = Field(default="", max_length=100)
    message: str = Field(max_length=SRM_MESSAGE_MAX)
    count: int = 1
    import_id: int = Field(foreign_key="srm_imports.id", index=True)


class SepasCase(SQLModel, table=True):
    """A hospital's report of a SEPAS sending problem (the start form, by case), and where its
    case stands: the errors SRM showed, the expert's verdict, the answer, the evidence."""

    __tablename__ = "sepas_cases"

    case_id: int = Field(primary_key=True, foreign_key="cases.id")
    hospital_code: str = Field(max_length=20, index=True)
    reporter_name: str = Field(max_length=200)
    mobile: str = Field(max_length=20)
    email: str | None = Field(default=None, max_length=200)
    what_fails: str = Field(max_length=2000)
    since: date
    sample_record_ids: list[str] = Field(default_factory=list, sa_type=JSON)
    error_text: str | None = Field(default=None, max_length=2000)
    groups: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    """SRM's errors of the reported window, grouped by message, with the bank's matches."""
    srm_data_until: datetime | None = Field(default=None, sa_type=UtcDateTime)
    verdict: Verdict | None = Field(default=None, sa_type=EnumText(Verdict, 20))
    bank_entry_id: int | None = Field(default=None, foreign_key="error_bank.id")
    jira_key: str | None = Field(default=None, max_length=30, index=True)
    jira_url: str | None = Field(default=None, max_length=500)
    jira_status: str | None = Field(default=None, max_length=100)
    answer_fa: str | None = Field(default=None, max_length=4000)
    """What resolved it: the hospital's correction, the vendor's fix, the ministry's answer."""
    answer_source: str | None = Field(default=None, max_length=500)
    fix_version: str | None = Field(default=None, max_length=60)
    fixed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    """When the fix was reported: SRM's evidence is read from then."""
    evidence: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    rounds: int = 0
    """Times the case went back to the expert."""
    updated_at: datetime = Field(sa_type=UtcDateTime, default_factory=utcnow)


def reach_filter(reach: HospitalReach) -> ColumnElement[bool]:
    """`reach` as a condition on `hospitals`."""
    if reach.everything:
        return true()
    return or_(
        false(),
        col(Hospital.code).in_(sorted(reach.hospitals)),
        col(Hospital.his_vendor_id).in_(sorted(reach.vendors)),
    )


def bank_entry(row: ErrorBankEntry) -> BankEntry:
    assert row.id is not None
    return BankEntry.model_validate(row, from_attributes=True)


_MATCHER: list[tuple[tuple[int, datetime | None, float], BankMatcher]] = []
"""The matcher of the bank as it was last read, by the bank's version (entries and last change)
and the threshold: most reads of SRM find the bank unchanged, and building a matcher of a
thousand entries costs more than the rest of a hospital's report."""


def bank_matcher(session: Session) -> BankMatcher:
    """The active bank, ready to explain messages, similar ones from SEPAS_SIMILARITY_THRESHOLD;
    rebuilt only when an entry was added or changed since the last read."""
    count, changed = session.execute(
        select(func.count(), func.max(ErrorBankEntry.updated_at)).select_from(ErrorBankEntry)
    ).one()
    version = (count, changed, get_settings().sepas_similarity_threshold)
    cached = _MATCHER[-1] if _MATCHER else None
    if cached is not None and cached[0] == version:
        return cached[1]
    # The columns matching reads, not validated models: a stored entry was validated when written.
    rows = session.execute(
        select(
            ErrorBankEntry.id,
            ErrorBankEntry.message,
            ErrorBankEntry.is_pattern,
            ErrorBankEntry.active,
        ).where(col(ErrorBankEntry.active))
    ).all()
    matcher = BankMatcher(rows, similarity_threshold=version[2])
    _MATCHER[:] = [(version, matcher)]
    return matcher
