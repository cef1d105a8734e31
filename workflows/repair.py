"""Process 2 — نگهداری و تعمیر تجهیزات رایانه‌ای ستاد (computer-equipment repair), all eight
boxes of the chart: report, assess, in-house repair or a vendor (with its long wait, quote
approval and inspection loop), delivery and the requester's confirmation."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.repair import RepairActivities
    from db.repair import vendor_scope
    from domain.calendar import TEHRAN, to_jalali_date_str
    from domain.cases import CaseStatus, Role
    from domain.repair import (
        FINAL_VENDOR_REPORTS,
        VENDOR_REPORT_EN,
        VENDOR_REPORT_FA,
        Assessment,
        AssetQuery,
        AssetState,
        Handover,
        InHouseRepair,
        Inspection,
        JobChange,
        QuoteApproval,
        ReceiptConfirmation,
        RepairCost,
        RepairFacts,
        RepairOutcome,
        RepairPath,
        RepairPolicy,
        RepairStart,
        RequesterNotice,
        RequesterNoticeKind,
        VendorChoice,
        VendorDispatch,
        VendorNotice,
        VendorNoticeKind,
        VendorOption,
        VendorReport,
        VendorReportKind,
        quote_needs_approval,
        repair_cost,
    )
    from workflows.human_task import RECORD_RETRY, CaseCancelled, CaseWorkflow, Step

ASSESS = Step(
    key="assess",
    title_fa="بررسی ابعاد مشکل",
    title_en="Assess the problem",
    role=Role.support_lead,
    decision=Assessment,
    sla_working_days=1,
)
REPAIR_IN_HOUSE = Step(
    key="repair_in_house",
    title_fa="رفع مشکل توسط کارشناس مربوطه",
    title_en="Repair in-house",
    role=Role.technician,
    decision=InHouseRepair,
    sla_working_days=3,
)
CHOOSE_VENDOR = Step(
    key="choose_vendor",
    title_fa="ارجاع به شرکت خصوصی",
    title_en="Send to a vendor",
    role=Role.support_lead,
    decision=VendorChoice,
    sla_working_days=1,
)
DISPATCH_WARRANTY = Step(
    key="dispatch_warranty",
    title_fa="ارسال به شرکت گارانتی",
    title_en="Send to the warranty vendor",
    role=Role.support_lead,
    decision=VendorDispatch,
    sla_working_days=1,
)
VENDOR_JOB = Step(
    key="vendor_job",
    title_fa="گزارش کار تعمیر (شرکت)",
    title_en="Report on the repair (vendor)",
    role=Role.vendor,
    decision=VendorReport,
    sla_working_days=2,
    remind_working_days_before=1,
    escalate_after_working_days=2,
)
"""The vendor's long wait: each report is one decision; the next report is due by the date
the vendor promised (reminded a working day before, late after it, escalated two later)."""
APPROVE_QUOTE = Step(
    key="approve_quote",
    title_fa="تایید برآورد هزینه",
    title_en="Approve the quote",
    role=Role.support_lead,
    decision=QuoteApproval,
    sla_working_days=1,
)
INSPECT = Step(
    key="inspect",
    title_fa="بررسی و تحویل گرفتن خدمات از شرکت",
    title_en="Inspect and accept the vendor's work",
    role=Role.support_lead,
    decision=Inspection,
    sla_working_days=2,
)
HAND_OVER = Step(
    key="hand_over",
    title_fa="تحویل تجهیزات به درخواست‌کننده",
    title_en="Hand the equipment over",
    role=Role.technician,
    decision=Handover,
    sla_working_days=2,
)
CONFIRM_RECEIPT = Step(
    key="confirm_receipt",
    title_fa="تایید دریافت تجهیز",
    title_en="Confirm you received the equipment",
    role=Role.requester,
    decision=ReceiptConfirmation,
    sla_working_days=3,
    expires=True,
)

ANSWER_WORKING_DAYS = 10
"""The promise on the receipt: an in-house repair or a vendor's answer within this many."""

NOTICE_TIMEOUT = timedelta(seconds=30)

RESULT_FA: dict[RepairOutcome, str] = {
    RepairOutcome.repaired_in_house: "تعمیر شد (در واحد پشتیبانی)",
    RepairOutcome.repaired_by_vendor: "تعمیر شد (توسط شرکت)",
    RepairOutcome.not_repairable: "قابل تعمیر نیست؛ جایگزینی پیشنهاد شد",
    RepairOutcome.cancelled: "لغو شد",
}
RESULT_EN: dict[RepairOutcome, str] = {
    RepairOutcome.repaired_in_house: "Repaired in-house",
    RepairOutcome.repaired_by_vendor: "Repaired by a vendor",
    RepairOutcome.not_repairable: "Not repairable; a replacement is recommended",
    RepairOutcome.cancelled: "Cancelled",
}


def _jalali(day: date | None) -> str | None:
    return to_jalali_date_str(day) if day is not None else None


@workflow.defn
class RepairWorkflow(CaseWorkflow):
    def __init__(self) -> None:
        super().__init__()
        self._vendor: VendorOption | None = None
        self._events = 0

    @workflow.run
    async def run(self, start: RepairStart) -> str:
        self.begin_case(start.case_id, start.tracking_code)
        try:
            outcome = await self._repair(start)
        except CaseCancelled as cancelled:
            reason = cancelled.request.reason
            if self._vendor is not None:
                await self._tell_vendor(VendorNoticeKind.cancelled, reason=reason)
            await self._job(
                "لغو شد: " + reason,
                "Cancelled: " + reason,
                outcome=RepairOutcome.cancelled,
                asset_state=AssetState.in_service,
                actor=cancelled.request.actor.username,
            )
            await self._tell_requester(RequesterNoticeKind.cancelled, reason=reason)
            await self.finish(
                CaseStatus.cancelled,
                RepairOutcome.cancelled,
                {"reason": reason, "by": cancelled.request.actor.username},
            )
            return RepairOutcome.cancelled
        await self.finish(CaseStatus.closed, outcome, {})
        return outcome

    async def _repair(self, start: RepairStart) -> RepairOutcome:
        form = start.form
        facts: RepairFacts = await self.record(
            RepairActivities.look_up_asset,
            AssetQuery(
                case_id=start.case_id,
                property_number=form.property_number,
                kind=form.kind,
                on=start.submitted_at.astimezone(TEHRAN).date(),
            ),
        )
        asset = facts.asset
        context: dict[str, Any] = {
            "tracking_code": start.tracking_code,
            **form.model_dump(mode="json"),
            "kind": asset.kind.value,
            "in_register": asset.asset_id is not None,
            "make_model": asset.make_model,
            "under_warranty": asset.under_warranty,
            "warranty_end": _jalali(asset.warranty_end),
            "warranty_vendor": asset.warranty_vendor_name,
            "history": asset.history,
        }
        assessment, lead = await self.ask(ASSESS, context=context)
        if assessment.note:
            context["assessment_note"] = assessment.note

        under_warranty = asset.under_warranty and asset.warranty_vendor_id is not None
        if under_warranty or not assessment.in_house:
            await self._tell_requester(RequesterNoticeKind.assessed_outsourced)
        if under_warranty:
            assert asset.warranty_vendor_id is not None
            vendor = VendorOption(
                id=asset.warranty_vendor_id, name=asset.warranty_vendor_name or ""
            )
            dispatch, lead = await self.ask(DISPATCH_WARRANTY, context=context)
            await self._dispatch(vendor, RepairPath.warranty, dispatch, lead)
        else:
            if assessment.in_house:
                await self._job(
                    "بررسی شد: تعمیر در واحد پشتیبانی",
                    "Assessed: repaired in-house",
                    path=RepairPath.in_house,
                    actor=lead,
                )
                await self._tell_requester(RequesterNoticeKind.assessed_in_house)
                repair, technician = await self.ask(REPAIR_IN_HOUSE, context=context)
                if repair.fixed:
                    await self._job(
                        "تعمیر در واحد پشتیبانی انجام شد",
                        "Repaired in-house",
                        technician_note=_technician_note(repair),
                        cost=RepairCost(minutes=repair.minutes_spent or 0),
                        outcome=RepairOutcome.repaired_in_house,
                        asset_state=AssetState.in_service,
                        actor=technician,
                    )
                    return await self._deliver(
                        RepairOutcome.repaired_in_house, context, facts.policy
                    )
                await self._job(
                    "در واحد قابل تعمیر نبود: " + (repair.reason or ""),
                    "Could not be repaired in-house: " + (repair.reason or ""),
                    technician_note=repair.reason,
                    actor=technician,
                )
                context["technician_reason"] = repair.reason
            choice, lead = await self.ask(
                CHOOSE_VENDOR,
                context={**context, "vendors": {str(v.id): v.name for v in facts.vendors}},
                options={"vendor": [str(v.id) for v in facts.vendors]},
            )
            vendor = next(v for v in facts.vendors if str(v.id) == choice.vendor)
            await self._dispatch(vendor, RepairPath.vendor, choice, lead)

        outcome = await self._vendor_repair(start, facts, context)
        return await self._deliver(outcome, context, facts.policy)

    async def _dispatch(
        self,
        vendor: VendorOption,
        path: RepairPath,
        dispatch: VendorChoice | VendorDispatch,
        lead: str,
    ) -> None:
        self._vendor = vendor
        await self._job(
            f"ارجاع به شرکت {vendor.name} ({_jalali(dispatch.dispatched_on)}،"
            f" تحویل‌گیرنده: {dispatch.taken_by})",
            f"Sent to {vendor.name} on {dispatch.dispatched_on}, taken by {dispatch.taken_by}",
            path=path,
            vendor_id=vendor.id,
            dispatched_on=dispatch.dispatched_on,
            taken_by=dispatch.taken_by,
            actor=lead,
        )
        await self._tell_vendor(VendorNoticeKind.new_job)
        await self._tell_requester(RequesterNoticeKind.sent_to_vendor, vendor_name=vendor.name)

    async def _vendor_repair(
        self, start: RepairStart, facts: RepairFacts, context: dict[str, Any]
    ) -> RepairOutcome:
        """The vendor's job until it is accepted, or found not repairable."""
        vendor = self._vendor
        assert vendor is not None
        send_backs = 0
        while True:
            final = await self._vendor_reports(start, facts, context, send_backs)
            if final != VendorReportKind.repaired:
                return RepairOutcome.not_repairable
            inspection, lead = await self.ask(
                INSPECT, context={**context, "vendor": vendor.name, "send_backs": send_backs}
            )
            if inspection.accepted:
                cost = repair_cost(inspection, under_warranty=facts.asset.under_warranty)
                await self._job(
                    f"کار شرکت {vendor.name} بررسی و تحویل گرفته شد",
                    f"The work of {vendor.name} was inspected and accepted",
                    cost=cost,
                    outcome=RepairOutcome.repaired_by_vendor,
                    asset_state=AssetState.in_service,
                    actor=lead,
                )
                return RepairOutcome.repaired_by_vendor
            send_backs += 1
            await self._job(
                f"کار شرکت پذیرفته نشد و برگشت داده شد (بار {send_backs}): {inspection.reason}",
                f"The work was sent back to the vendor (round {send_backs}): {inspection.reason}",
                send_backs=send_backs,
                actor=lead,
            )
            await self._tell_vendor(
                VendorNoticeKind.sent_back, round=send_backs + 1, reason=inspection.reason
            )

    async def _vendor_reports(
        self, start: RepairStart, facts: RepairFacts, context: dict[str, Any], round: int
    ) -> VendorReportKind:
        """The long wait: the vendor's reports, each due by the date it promised last."""
        vendor = self._vendor
        assert vendor is not None
        promised: date | None = None
        while True:
            report, who = await self.ask(
                VENDOR_JOB,
                context={
                    "tracking_code": start.tracking_code,
                    "kind": context["kind"],
                    "make_model": context["make_model"],
                    "property_number": context["property_number"],
                    "problem": context["problem"],
                    "under_warranty": context["under_warranty"],
                    "send_backs": round,
                    "promised_date": _jalali(promised),
                },
                scope=vendor_scope(vendor.id),
                due_on=promised,
            )
            promised = report.promised_date or promised
            await self._job(
                _report_fa(vendor.name, report),
                _report_en(vendor.name, report),
                vendor_status=report.kind,
                promised_date=report.promised_date,
                quote_rials=report.quote_rials,
                actor=who,
            )
            if report.kind == VendorReportKind.diagnosed and quote_needs_approval(
                report.quote_rials, facts.policy.quote_approval_limit_rials
            ):
                approval, lead = await self.ask(
                    APPROVE_QUOTE,
                    context={
                        **context,
                        "vendor": vendor.name,
                        "quote_rials": report.quote_rials,
                        "vendor_note": report.note,
                        "limit_rials": facts.policy.quote_approval_limit_rials,
                    },
                )
                if not approval.approved:
                    await self._job(
                        f"برآورد هزینه تایید نشد: {approval.reason}",
                        f"The quote was refused: {approval.reason}",
                        quote_approved=False,
                        actor=lead,
                    )
                    await self._tell_vendor(
                        VendorNoticeKind.quote_refused, round=round + 1, reason=approval.reason
                    )
                    return VendorReportKind.unrepairable
                await self._job(
                    "برآورد هزینه تایید شد",
                    "The quote was approved",
                    quote_approved=True,
                    actor=lead,
                )
            if report.kind in FINAL_VENDOR_REPORTS:
                return report.kind

    async def _deliver(
        self, outcome: RepairOutcome, context: dict[str, Any], policy: RepairPolicy
    ) -> RepairOutcome:
        """تحویل به درخواست‌کننده: handover, then the requester's confirmation (or silence)."""
        if outcome == RepairOutcome.not_repairable:
            await self._job(
                "تجهیز قابل تعمیر نیست؛ جایگزینی آن پیشنهاد شد",
                "Not repairable; a replacement is recommended",
                outcome=outcome,
                asset_state=AssetState.replace_recommended,
            )
        await self._tell_requester(RequesterNoticeKind.ready)
        delivery_context = {**context, "result": RESULT_FA[outcome]}
        while True:
            handover, technician = await self.ask(HAND_OVER, context=delivery_context)
            await self._job(
                f"تجهیز به {handover.handed_to} تحویل شد",
                f"Handed over to {handover.handed_to}",
                handed_to=handover.handed_to,
                delivered=True,
                actor=technician,
            )
            answer = await self.ask_or_expire(
                CONFIRM_RECEIPT,
                context={"tracking_code": context["tracking_code"], "result": RESULT_FA[outcome]},
                scope=context["tracking_code"],
                working_days=policy.receipt_working_days,
            )
            if answer is None:
                await self._job(
                    "درخواست‌کننده در مهلت پاسخی نداد؛ پرونده با فرض تحویل بسته شد",
                    "No answer from the requester in time; closed as delivered",
                    closed_without_answer=True,
                )
                return outcome
            confirmation, _ = answer
            if confirmation.received:
                await self._job(
                    "درخواست‌کننده دریافت تجهیز را تایید کرد",
                    "The requester confirmed receipt",
                    receipt_confirmed=True,
                    satisfaction=confirmation.satisfaction,
                    satisfaction_comment=confirmation.comment,
                    actor="requester",
                )
                return outcome
            await self._job(
                "درخواست‌کننده دریافت را تایید نکرد: " + (confirmation.comment or ""),
                "The requester did not confirm receipt: " + (confirmation.comment or ""),
                actor="requester",
            )

    async def _job(self, text_fa: str, text_en: str, **change: Any) -> None:
        """A change to the repair record with its line on the timeline (public)."""
        self._events += 1
        await self.record(
            RepairActivities.record_job,
            JobChange(
                case_id=self._case_id,
                event_key=f"{workflow.info().workflow_id}:job:{self._events}",
                text_fa=text_fa,
                text_en=text_en,
                **change,
            ),
        )

    async def _tell_requester(self, kind: RequesterNoticeKind, **detail: Any) -> None:
        await self.call_outside(
            RepairActivities.notify_requester,
            RequesterNotice(case_id=self._case_id, kind=kind, **detail),
            start_to_close_timeout=NOTICE_TIMEOUT,
            retry_policy=RECORD_RETRY,
        )

    async def _tell_vendor(self, kind: VendorNoticeKind, **detail: Any) -> None:
        assert self._vendor is not None
        await self.call_outside(
            RepairActivities.notify_vendor,
            VendorNotice(case_id=self._case_id, vendor_id=self._vendor.id, kind=kind, **detail),
            start_to_close_timeout=NOTICE_TIMEOUT,
            retry_policy=RECORD_RETRY,
        )


def _technician_note(repair: InHouseRepair) -> str:
    parts = [repair.work_done or ""]
    if repair.parts_used:
        parts.append(f"قطعات: {repair.parts_used}")
    return " — ".join(parts)


def _report_fa(vendor: str, report: VendorReport) -> str:
    text = f"شرکت {vendor}: {VENDOR_REPORT_FA[report.kind]}"
    if report.quote_rials is not None:
        text += f"؛ برآورد {report.quote_rials:,} ریال"
    if report.promised_date is not None:
        text += f"؛ تاریخ وعده {_jalali(report.promised_date)}"
    return text + (f" — {report.note}" if report.note else "")


def _report_en(vendor: str, report: VendorReport) -> str:
    text = f"{vendor} {VENDOR_REPORT_EN[report.kind]}"
    if report.quote_rials is not None:
        text += f"; quote {report.quote_rials:,} rials"
    if report.promised_date is not None:
        text += f"; promised by {report.promised_date.isoformat()}"
    return text + (f" — {report.note}" if report.note else "")
