"""Tables of process 2 (equipment repair): the equipment register, the vendors, the fault report
as submitted, and one repair record per case (the asset's repair history)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger
from sqlmodel import Field, SQLModel

from db.models import EnumText, UtcDateTime, utcnow
from domain.repair import AssetKind, AssetState, RepairOutcome, RepairPath, Urgency


def vendor_scope(vendor_id: int) -> str:
    """The scope of a vendor's users and of its jobs' tasks."""
    return f"vendor:{vendor_id}"


class Vendor(SQLModel, table=True):
    """شرکت پیمانکار: a private company the IT office sends repairs to."""

    __tablename__ = "vendors"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=200)
    fields: list[str] = Field(default_factory=list, sa_type=JSON)
    """Kinds of equipment it works on (AssetKind values)."""
    contact_name: str = Field(default="", max_length=200)
    mobile: str | None = Field(default=None, max_length=20)
    """Where its SMS go."""
    email: str | None = Field(default=None, max_length=200)
    is_active: bool = True
    created_at: datetime = Field(sa_type=UtcDateTime, default_factory=utcnow)


class Asset(SQLModel, table=True):
    """An item of the equipment register (from the property office's file)."""

    __tablename__ = "assets"

    id: int | None = Field(default=None, primary_key=True)
    property_number: str = Field(unique=True, max_length=30)
    """شماره اموال: the property office's key; a re-import updates the row it names."""
    serial: str = Field(default="", max_length=100)
    kind: AssetKind = Field(sa_type=EnumText(AssetKind, 20))
    make_model: str = Field(default="", max_length=200)
    unit: str = Field(default="", max_length=200)
    room: str = Field(default="", max_length=100)
    holder: str = Field(default="", max_length=200)
    purchase_date: date | None = None
    warranty_end: date | None = None
    warranty_vendor_id: int | None = Field(default=None, foreign_key="vendors.id")
    state: AssetState = Field(default=AssetState.in_service, sa_type=EnumText(AssetState, 30))
    updated_at: datetime = Field(sa_type=UtcDateTime, default_factory=utcnow)


class RepairRequest(SQLModel, table=True):
    """The fault report as submitted; kept so that an accepted report can always be restarted."""

    __tablename__ = "repair_requests"

    case_id: int = Field(primary_key=True, foreign_key="cases.id")
    personnel_number: str = Field(max_length=12)
    mobile: str = Field(max_length=11)
    email: str | None = Field(default=None, max_length=200)
    full_name: str = Field(max_length=200)
    unit: str = Field(max_length=200)
    property_number: str | None = Field(default=None, max_length=30)
    kind: AssetKind | None = Field(default=None, sa_type=EnumText(AssetKind, 20))
    location: str = Field(max_length=200)
    problem: str = Field(max_length=2000)
    urgency: Urgency = Field(sa_type=EnumText(Urgency, 20))


class RepairJob(SQLModel, table=True):
    """One repair: where it went, the vendor's job, cost and delivery. The asset's history."""

    __tablename__ = "repair_jobs"

    case_id: int = Field(primary_key=True, foreign_key="cases.id")
    asset_id: int | None = Field(default=None, foreign_key="assets.id", index=True)
    kind: AssetKind = Field(sa_type=EnumText(AssetKind, 20))
    under_warranty: bool = False
    path: RepairPath | None = Field(default=None, sa_type=EnumText(RepairPath, 20))
    vendor_id: int | None = Field(default=None, foreign_key="vendors.id", index=True)
    dispatched_on: date | None = None
    taken_by: str | None = Field(default=None, max_length=200)
    vendor_status: str | None = Field(default=None, max_length=30)
    """The vendor's last report (VendorReportKind)."""
    promised_date: date | None = None
    quote_rials: int | None = Field(default=None, sa_type=BigInteger)
    quote_approved: bool | None = None
    send_backs: int = 0
    cost_minutes: int = 0
    cost_time_rials: int = Field(default=0, sa_type=BigInteger)
    cost_fixed_rials: int = Field(default=0, sa_type=BigInteger)
    cost_material_rials: int = Field(default=0, sa_type=BigInteger)
    technician_note: str | None = Field(default=None, max_length=2000)
    outcome: RepairOutcome | None = Field(default=None, sa_type=EnumText(RepairOutcome, 30))
    handed_to: str | None = Field(default=None, max_length=200)
    delivered_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    receipt_confirmed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    closed_without_answer: bool = False
    """The requester did not confirm within the allowed working days."""
    satisfaction: int | None = None
    satisfaction_comment: str | None = Field(default=None, max_length=2000)
    updated_at: datetime = Field(sa_type=UtcDateTime, default_factory=utcnow)
