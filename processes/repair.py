"""Process 2 — نگهداری و تعمیر تجهیزات رایانه‌ای ستاد: HQ staff report a faulty computer."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from db.repair import Asset, RepairJob, RepairRequest, Vendor
from domain.repair import (
    ASSET_KIND_FA,
    AssetKind,
    RepairForm,
    RepairOutcome,
    RepairStart,
    Urgency,
    VendorReportKind,
)
from processes.declaration import Process, Requester, Text, WorkerResources

if TYPE_CHECKING:
    from fastapi import APIRouter

from workflows.repair import ANSWER_WORKING_DAYS, RESULT_EN, RESULT_FA, RepairWorkflow


def _requester(form: RepairForm) -> Requester:
    return Requester(
        name=form.full_name, identity=form.personnel_number, contact=form.mobile, unit=form.unit
    )


def _activities(worker: WorkerResources) -> Sequence[Callable[..., Any]]:
    from activities.repair import RepairActivities

    repair = RepairActivities(worker.engine, worker.settings, worker.sms, worker.email)
    return [
        repair.look_up_asset,
        repair.record_job,
        repair.notify_requester,
        repair.notify_vendor,
    ]


def _routes() -> Sequence[APIRouter]:
    # Imported here: the worker loads the declaration but never the API.
    from api.repair import repair_routes

    return repair_routes()


KIND_EN = {
    AssetKind.pc: "Desktop PC",
    AssetKind.laptop: "Laptop",
    AssetKind.printer: "Printer",
    AssetKind.scanner: "Scanner",
    AssetKind.monitor: "Monitor",
    AssetKind.network_device: "Network device",
    AssetKind.other: "Other",
}
VENDOR_STATUS = {
    VendorReportKind.received: Text("تجهیز تحویل گرفته شد", "Received the equipment"),
    VendorReportKind.diagnosed: Text("عیب‌یابی شد (با برآورد هزینه)", "Diagnosed (with a quote)"),
    VendorReportKind.waiting_parts: Text("در انتظار قطعه", "Waiting for parts"),
    VendorReportKind.repaired: Text("تعمیر شد", "Repaired"),
    VendorReportKind.unrepairable: Text("قابل تعمیر نیست", "Cannot be repaired"),
}
DECISION_LABELS = {
    "in_house": Text("در واحد پشتیبانی تعمیر می‌شود؟", "Can the unit repair it in-house?"),
    "note": Text("توضیحات", "Note"),
    "assess.note": Text("نظر بررسی", "Assessment note"),
    "choose_vendor.note": Text("توضیح برای شرکت", "Note to the vendor"),
    "dispatch_warranty.note": Text("توضیح برای شرکت", "Note to the vendor"),
    "fixed": Text("تعمیر شد؟", "Fixed?"),
    "work_done": Text("کار انجام‌شده", "Work done"),
    "parts_used": Text("قطعات مصرف‌شده", "Parts used"),
    "minutes_spent": Text("زمان صرف‌شده (دقیقه)", "Minutes spent"),
    "reason": Text("دلیل", "Reason"),
    "repair_in_house.reason": Text("چرا در واحد تعمیر نمی‌شود", "Why it cannot be fixed here"),
    "inspect.reason": Text("دلیل برگشت به شرکت", "Why it goes back"),
    "approve_quote.reason": Text("دلیل رد برآورد", "Why the quote is refused"),
    "dispatched_on": Text("تاریخ ارسال", "Dispatch date"),
    "taken_by": Text("تحویل‌گیرنده (پیک شرکت)", "Taken by (the vendor's courier)"),
    "vendor_job.kind": Text("وضعیت کار", "Status"),
    "vendor_job.promised_date": Text("تاریخ آماده شدن (وعده شرکت)", "Ready by (promised)"),
    "approved": Text("برآورد هزینه تایید می‌شود؟", "Approve the quote?"),
    "accepted": Text("کار شرکت پذیرفته می‌شود؟", "Accept the work?"),
    "minutes": Text("زمان صرف‌شده (دقیقه)", "Time spent (minutes)"),
    "cost_time_rials": Text("هزینه زمان (ریال)", "Cost of the time (rials)"),
    "cost_fixed_rials": Text("هزینه ثابت (ریال)", "Fixed cost (rials)"),
    "cost_material_rials": Text("هزینه قطعات (ریال)", "Material (rials)"),
    "handed_to": Text("تحویل‌گیرنده", "Handed to"),
    "received": Text("تجهیز را تحویل گرفتید؟", "Did you receive the equipment?"),
    "satisfaction": Text("میزان رضایت (۱ تا ۵)", "Satisfaction (1 to 5)"),
    "comment": Text("نظر شما", "Your comment"),
}
"""The decision forms' fields; `step.field` where a name reads differently in a step."""
URGENCY = {
    Urgency.low: Text("کم", "Low"),
    Urgency.normal: Text("عادی", "Normal"),
    Urgency.high: Text("زیاد", "High"),
    Urgency.critical: Text("بحرانی (کار واحد متوقف است)", "Critical (the unit's work stopped)"),
}

REPAIR: Process[RepairForm] = Process(
    kind="equipment_repair",
    title=Text("اعلام خرابی تجهیزات رایانه‌ای", "Report faulty computer equipment"),
    description=Text(
        "تعمیر رایانه، چاپگر، اسکنر و تجهیزات شبکه واحدهای ستاد، در واحد پشتیبانی یا شرکت پیمانکار",
        "Repair of HQ units' computers, printers, scanners and network devices, in-house or"
        " by a vendor",
    ),
    workflow=RepairWorkflow,
    workflow_input=RepairStart,
    start_form=RepairForm,
    form_table=RepairRequest,
    tables=(RepairRequest, RepairJob, Asset, Vendor),
    requester=_requester,
    activities=_activities,
    workflow_id_prefix="repair",
    api_path="/api/repair-requests",
    web_path="/repair/new",
    answer_working_days=ANSWER_WORKING_DAYS,
    identity_field="personnel_number",
    outcome_texts={o.value: Text(RESULT_FA[o], RESULT_EN[o]) for o in RepairOutcome},
    labels={
        "personnel_number": Text("شماره پرسنلی", "Personnel number"),
        "mobile": Text("تلفن همراه", "Mobile"),
        "email": Text("ایمیل (اختیاری)", "E-mail (optional)"),
        "full_name": Text("نام و نام خانوادگی", "Full name"),
        "unit": Text("واحد", "Unit"),
        "property_number": Text("شماره اموال", "Property number"),
        "kind": Text("نوع تجهیز", "Kind of equipment"),
        "kind_fa": Text("نوع تجهیز", "Kind of equipment"),
        "location": Text("محل تجهیز (واحد و اتاق)", "Where it is (unit and room)"),
        "problem": Text("شرح مشکل", "The problem"),
        "urgency": Text("فوریت", "Urgency"),
        "in_register": Text("در فهرست اموال", "In the register"),
        "make_model": Text("سازنده و مدل", "Make and model"),
        "under_warranty": Text("در گارانتی", "Under warranty"),
        "warranty_end": Text("پایان گارانتی", "Warranty ends"),
        "warranty_vendor": Text("شرکت گارانتی", "Warranty vendor"),
        "history": Text("سابقه تعمیرات", "Repair history"),
        "assessment_note": Text("نظر بررسی", "Assessment note"),
        "technician_reason": Text("علت عدم تعمیر در واحد", "Why not repaired in-house"),
        "vendors": Text("شرکت‌های مرتبط", "Matching vendors"),
        "vendor": Text("شرکت", "Vendor"),
        "send_backs": Text("دفعات برگشت", "Times sent back"),
        "promised_date": Text("تاریخ وعده شرکت", "Vendor's promised date"),
        "quote_rials": Text("برآورد هزینه (ریال)", "Quote (rials)"),
        "limit_rials": Text("سقف بدون تایید (ریال)", "Limit without approval (rials)"),
        "vendor_note": Text("توضیح شرکت", "Vendor's note"),
        "result": Text("نتیجه", "Result"),
        **DECISION_LABELS,
        **{f"kind.{k.value}": Text(ASSET_KIND_FA[k], KIND_EN[k]) for k in AssetKind},
        **{f"kind.{k.value}": text for k, text in VENDOR_STATUS.items()},
        **{f"outcome.{o.value}": Text(RESULT_FA[o], RESULT_EN[o]) for o in RepairOutcome},
        **{f"urgency.{u.value}": text for u, text in URGENCY.items()},
    },
    routes=_routes,
    receipt_steps=(
        Text(
            "مسئول پشتیبانی ابعاد مشکل را بررسی می‌کند.",
            "The support lead assesses the problem.",
        ),
        Text(
            "تجهیز در واحد پشتیبانی تعمیر می‌شود یا به شرکت پیمانکار (یا شرکت گارانتی) سپرده می‌شود.",
            "The equipment is repaired in-house or sent to a vendor (or the warranty vendor).",
        ),
        Text(
            "هر مرحله با پیامک خبر داده می‌شود؛ پس از تحویل، دریافت را در صفحه پیگیری تایید کنید.",
            "Each stage is sent by SMS; after the handover, confirm receipt on the tracking page.",
        ),
    ),
)
