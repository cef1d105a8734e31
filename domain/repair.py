"""Process 2 (نگهداری و تعمیر تجهیزات رایانه‌ای ستاد): the fault report, the decisions of its
human steps, and the rules of warranty, vendor matching and cost."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from domain.calendar import TEHRAN
from domain.cases import CaseStart
from domain.email_account import EMAIL
from domain.identity import checked_mobile
from domain.records import CaseLine
from domain.tasks import Decision, needed_when
from domain.text import empty_as_none, typed_digits, typed_text


class AssetKind(StrEnum):
    pc = "pc"
    laptop = "laptop"
    printer = "printer"
    scanner = "scanner"
    monitor = "monitor"
    network_device = "network_device"
    other = "other"


ASSET_KIND_FA: dict[AssetKind, str] = {
    AssetKind.pc: "رایانه رومیزی",
    AssetKind.laptop: "لپ‌تاپ",
    AssetKind.printer: "چاپگر",
    AssetKind.scanner: "اسکنر",
    AssetKind.monitor: "نمایشگر",
    AssetKind.network_device: "تجهیز شبکه",
    AssetKind.other: "سایر",
}


class AssetState(StrEnum):
    in_service = "in_service"
    in_repair = "in_repair"
    replace_recommended = "replace_recommended"
    """Found not repairable: the IT office recommends a replacement."""


class Urgency(StrEnum):
    low = "low"
    normal = "normal"
    high = "high"
    critical = "critical"


class RepairPath(StrEnum):
    in_house = "in_house"
    vendor = "vendor"
    warranty = "warranty"
    """Sent to the vendor that holds the asset's warranty."""


class VendorReportKind(StrEnum):
    received = "received"
    diagnosed = "diagnosed"
    """Diagnosed, with a quote."""
    waiting_parts = "waiting_parts"
    repaired = "repaired"
    unrepairable = "unrepairable"


FINAL_VENDOR_REPORTS = frozenset({VendorReportKind.repaired, VendorReportKind.unrepairable})

VENDOR_REPORT_FA: dict[VendorReportKind, str] = {
    VendorReportKind.received: "تجهیز را تحویل گرفت",
    VendorReportKind.diagnosed: "عیب‌یابی کرد و هزینه را اعلام کرد",
    VendorReportKind.waiting_parts: "در انتظار قطعه است",
    VendorReportKind.repaired: "تعمیر را تمام کرد",
    VendorReportKind.unrepairable: "تجهیز قابل تعمیر نیست",
}
VENDOR_REPORT_EN: dict[VendorReportKind, str] = {
    VendorReportKind.received: "received the equipment",
    VendorReportKind.diagnosed: "diagnosed it and quoted a price",
    VendorReportKind.waiting_parts: "is waiting for parts",
    VendorReportKind.repaired: "finished the repair",
    VendorReportKind.unrepairable: "found it cannot be repaired",
}


class RepairOutcome(StrEnum):
    repaired_in_house = "repaired_in_house"
    repaired_by_vendor = "repaired_by_vendor"
    not_repairable = "not_repairable"
    cancelled = "cancelled"


def _check_personnel_number(value: str) -> str:
    if not value.isdigit() or not 3 <= len(value) <= 12:
        raise PydanticCustomError("personnel_number_invalid", "3 to 12 digits")
    return value


def _check_property_number(value: str | None) -> str | None:
    if value in (None, ""):
        return None
    assert value is not None
    if not all(ch.isalnum() or ch in "-/" for ch in value):
        raise PydanticCustomError("property_number_invalid", "digits, letters, - and / only")
    return value


PersonnelNumber = Annotated[
    str,
    BeforeValidator(typed_digits),
    Field(max_length=12),
    AfterValidator(_check_personnel_number),
]
Mobile = Annotated[
    str, BeforeValidator(typed_text), Field(max_length=20), AfterValidator(checked_mobile)
]
PropertyNumber = Annotated[
    Annotated[str, Field(max_length=30)] | None,
    BeforeValidator(lambda v: empty_as_none(typed_digits(v))),
    AfterValidator(_check_property_number),
]


def _check_email(value: str | None) -> str | None:
    if value is not None and not EMAIL.match(value):
        raise PydanticCustomError("email_invalid", "not an e-mail address")
    return value


Email = Annotated[
    Annotated[str, Field(max_length=200)] | None,
    BeforeValidator(lambda v: empty_as_none(typed_text(v))),
    AfterValidator(_check_email),
]
ShortText = Annotated[str, BeforeValidator(typed_text), Field(min_length=2, max_length=200)]
LongText = Annotated[str, BeforeValidator(typed_text), Field(min_length=3, max_length=2000)]
OptionalNote = Annotated[
    Annotated[str, Field(max_length=2000)] | None,
    BeforeValidator(lambda v: empty_as_none(typed_text(v))),
]


class RepairForm(BaseModel):
    """اعلام خرابی: what a member of the HQ staff reports."""

    personnel_number: PersonnelNumber = Field(title="Personnel number")
    """The tracking second factor."""
    mobile: Mobile = Field(title="Mobile")
    email: Email = Field(default=None, title="E-mail (optional)")
    full_name: ShortText = Field(title="Full name")
    unit: ShortText = Field(title="Unit")
    property_number: PropertyNumber = Field(default=None, title="Property number")
    """شماره اموال; looked up in the equipment register, an unknown number is still accepted."""
    kind: Annotated[AssetKind | None, BeforeValidator(empty_as_none)] = Field(
        default=None, title="Kind of equipment", validate_default=True
    )
    """Needed when there is no property number; otherwise taken from the register."""
    location: ShortText = Field(title="Where the equipment is (unit and room)")
    problem: LongText = Field(title="The problem")
    urgency: Urgency = Field(default=Urgency.normal, title="Urgency")

    _kind = field_validator("kind")(
        needed_when("property_number", None, "kind_required", "the kind, without a number")
    )


class RepairStart(CaseStart):
    form: RepairForm


class Assessment(Decision):
    """بررسی ابعاد مشکل: can the unit do it with its own means?"""

    in_house: bool = Field(title="Can the unit repair it in-house?")
    note: OptionalNote = Field(default=None, title="Assessment note")


class InHouseRepair(Decision):
    """ارجاع به کارشناس مربوطه: the technician fixed it, or cannot fix it here."""

    fixed: bool = Field(title="Fixed?")
    work_done: OptionalNote = Field(default=None, title="Work done", validate_default=True)
    parts_used: OptionalNote = Field(default=None, title="Parts used")
    minutes_spent: int | None = Field(
        default=None, ge=1, le=100_000, title="Minutes spent", validate_default=True
    )
    reason: OptionalNote = Field(
        default=None, title="Why it cannot be fixed here", validate_default=True
    )

    _work_done = field_validator("work_done", "minutes_spent")(
        needed_when("fixed", True, "required", "needed when fixed")
    )
    _reason = field_validator("reason")(
        needed_when("fixed", False, "reason_required", "say why it cannot be fixed")
    )


class VendorChoice(Decision):
    """ارجاع به شرکت خصوصی: the vendor (one of the active ones that work on this kind)."""

    vendor: str = Field(title="Vendor", json_schema_extra={"x-option-labels": "vendors"})
    """The vendor's id, one of the task's options; the form shows the names the task's
    context holds under `vendors`."""
    dispatched_on: date = Field(title="Dispatch date")
    taken_by: ShortText = Field(title="Taken by (the vendor's courier)")
    note: OptionalNote = Field(default=None, title="Note to the vendor")

    @field_validator("vendor")
    @classmethod
    def _one_of_the_options(cls, value: str, info: ValidationInfo) -> str:
        options = (info.context or {}).get("options", {}).get("vendor")
        if options is not None and value not in options:
            raise PydanticCustomError("not_an_option", "choose one of the listed vendors")
        return value


class VendorDispatch(Decision):
    """The dispatch of a warranty repair: the vendor is fixed by the warranty."""

    dispatched_on: date = Field(title="Dispatch date")
    taken_by: ShortText = Field(title="Taken by (the vendor's courier)")
    note: OptionalNote = Field(default=None, title="Note to the vendor")


class VendorReport(Decision):
    """The vendor's report on the job: one per change, each on the case's timeline."""

    kind: VendorReportKind = Field(title="Status")
    note: OptionalNote = Field(default=None, title="Note")
    quote_rials: int | None = Field(
        default=None, ge=0, le=10**13, title="Quote (rials)", validate_default=True
    )
    promised_date: date | None = Field(default=None, title="Promised date")
    """When the equipment will be ready; reminders and the late mark count from it."""

    @field_validator("promised_date")
    @classmethod
    def _not_in_the_past(cls, value: date | None, info: ValidationInfo) -> date | None:
        # The workflow validates with its own clock (`now` in the context), deterministically.
        now = (info.context or {}).get("now")
        if value is not None and now is not None and value < now.astimezone(TEHRAN).date():
            raise PydanticCustomError("date_in_the_past", "the promised date has passed")
        return value

    _quote = field_validator("quote_rials")(
        needed_when("kind", VendorReportKind.diagnosed, "required", "a diagnosis needs a quote")
    )


class QuoteApproval(Decision):
    """A quote above the limit waits for the support lead."""

    approved: bool = Field(title="Approve the quote?")
    reason: OptionalNote = Field(default=None, title="Reason", validate_default=True)

    _reason = field_validator("reason")(
        needed_when("approved", False, "reason_required", "say why the quote is refused")
    )


class Inspection(Decision):
    """بررسی و تحویل گرفتن: accept the vendor's work, or send it back with a reason."""

    accepted: bool = Field(title="Accept the work?")
    reason: OptionalNote = Field(default=None, title="Why it goes back", validate_default=True)
    minutes: int = Field(default=0, ge=0, le=100_000, title="Time spent (minutes)")
    cost_time_rials: int = Field(default=0, ge=0, le=10**13, title="Cost of the time (rials)")
    cost_fixed_rials: int = Field(default=0, ge=0, le=10**13, title="Fixed cost (rials)")
    cost_material_rials: int = Field(default=0, ge=0, le=10**13, title="Material (rials)")

    _reason = field_validator("reason")(
        needed_when("accepted", False, "reason_required", "say why the work goes back")
    )


class Handover(Decision):
    """تحویل تجهیزات به درخواست‌کننده: the technician hands the equipment over."""

    handed_to: ShortText = Field(title="Handed to")
    note: OptionalNote = Field(default=None, title="Note")


class ReceiptConfirmation(Decision):
    """The requester confirms receipt from the tracking page, with an optional score."""

    received: bool = Field(title="I received the equipment")
    satisfaction: int | None = Field(default=None, ge=1, le=5, title="Satisfaction (1–5)")
    comment: OptionalNote = Field(default=None, title="Comment")


class RepairCost(BaseModel):
    """Cost of a repair in GLPI's terms; zero under warranty."""

    minutes: int = 0
    time_rials: int = 0
    fixed_rials: int = 0
    material_rials: int = 0

    @property
    def total_rials(self) -> int:
        return self.time_rials + self.fixed_rials + self.material_rials


def repair_cost(inspection: Inspection, *, under_warranty: bool) -> RepairCost:
    """The cost recorded for a vendor repair: what the vendor billed, nothing under warranty."""
    if under_warranty:
        return RepairCost(minutes=inspection.minutes)
    return RepairCost(
        minutes=inspection.minutes,
        time_rials=inspection.cost_time_rials,
        fixed_rials=inspection.cost_fixed_rials,
        material_rials=inspection.cost_material_rials,
    )


def under_warranty(warranty_end: date | None, on: date) -> bool:
    """Covered on the last day of the warranty too."""
    return warranty_end is not None and on <= warranty_end


def vendor_matches(fields: list[str], is_active: bool, kind: AssetKind) -> bool:
    """An active vendor whose fields of work include the kind (`other` matches any vendor)."""
    return is_active and (kind == AssetKind.other or kind.value in fields)


def quote_needs_approval(quote_rials: int | None, limit_rials: int) -> bool:
    """A quote strictly above the limit waits for the support lead."""
    return quote_rials is not None and quote_rials > limit_rials


class AssetFacts(BaseModel):
    """What the register knows of the equipment, looked up when the case starts."""

    asset_id: int | None = None
    """None: the property number is not in the register (or none was given)."""
    property_number: str | None = None
    kind: AssetKind
    make_model: str = ""
    under_warranty: bool = False
    warranty_end: date | None = None
    warranty_vendor_id: int | None = None
    warranty_vendor_name: str | None = None
    history: list[dict[str, Any]] = Field(default_factory=list)
    """Earlier repairs of this asset: tracking code, date, outcome, vendor."""


class RepairPolicy(BaseModel):
    """The office's settings a case runs under, fixed in its history when it starts."""

    quote_approval_limit_rials: int
    receipt_working_days: int


class VendorOption(BaseModel):
    id: int
    name: str


class AssetQuery(BaseModel):
    case_id: int
    property_number: str | None
    kind: AssetKind | None
    on: date
    """The day of the report: warranty is judged on it."""


class RepairFacts(BaseModel):
    """What the case starts from: the asset, the matching vendors, the office's policy."""

    asset: AssetFacts
    vendors: list[VendorOption]
    """Active vendors whose fields of work include the kind (all active ones if none does)."""
    policy: RepairPolicy


class JobChange(CaseLine):
    """A change to the case's repair record, with its timeline line (written once by key)."""

    path: RepairPath | None = None
    vendor_id: int | None = None
    dispatched_on: date | None = None
    taken_by: str | None = None
    vendor_status: VendorReportKind | None = None
    promised_date: date | None = None
    quote_rials: int | None = None
    quote_approved: bool | None = None
    send_backs: int | None = None
    cost: RepairCost | None = None
    technician_note: str | None = None
    outcome: RepairOutcome | None = None
    handed_to: str | None = None
    delivered: bool = False
    receipt_confirmed: bool = False
    closed_without_answer: bool | None = None
    satisfaction: int | None = None
    satisfaction_comment: str | None = None
    asset_state: AssetState | None = None
    """The register's asset is marked too (in repair, back in service, replace)."""


class RequesterNoticeKind(StrEnum):
    assessed_in_house = "assessed_in_house"
    assessed_outsourced = "assessed_outsourced"
    """Assessed: it goes to a vendor (the warranty vendor, if under warranty)."""
    sent_to_vendor = "sent_to_vendor"
    ready = "ready"
    cancelled = "cancelled"


class RequesterNotice(BaseModel):
    """An SMS (and e-mail, if given) to the person who reported the fault."""

    case_id: int
    kind: RequesterNoticeKind
    vendor_name: str | None = None
    reason: str | None = None


class VendorNoticeKind(StrEnum):
    new_job = "new_job"
    sent_back = "sent_back"
    quote_refused = "quote_refused"
    cancelled = "cancelled"


class VendorNotice(BaseModel):
    """An SMS and e-mail to the vendor company (its contact's mobile and address)."""

    case_id: int
    vendor_id: int
    kind: VendorNoticeKind
    round: int = 1
    """Which dispatch of this case (send-backs make more), so each round's notice goes once."""
    reason: str | None = None
