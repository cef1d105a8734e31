"""Side effects of process 2 (equipment repair): the register lookup, the repair record, and the
messages to the requester and the vendor.

Each write is keyed by the case (and a timeline event key), so a retry changes nothing twice;
personal data is read from the system of record by case id, not carried in activity inputs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select
from temporalio import activity

from activities.case_records import write_line
from activities.notifications import EmailSender, SmsGateway
from db.models import Case
from db.repair import Asset, RepairJob, RepairRequest, Vendor
from domain.calendar import to_jalali_date_str
from domain.outgoing import OutgoingMessage
from domain.repair import (
    ASSET_KIND_FA,
    AssetFacts,
    AssetKind,
    AssetQuery,
    AssetState,
    JobChange,
    RepairFacts,
    RepairPolicy,
    RequesterNotice,
    RequesterNoticeKind,
    VendorNotice,
    VendorNoticeKind,
    VendorOption,
    under_warranty,
    vendor_matches,
)
from domain.requester_link import requester_link
from settings import Settings

HISTORY_SHOWN = 10
"""Earlier repairs of the asset shown beside the assessment."""


def _now() -> datetime:
    return datetime.now(UTC)


class RepairActivities:
    def __init__(
        self, engine: Engine, settings: Settings, sms: SmsGateway, email: EmailSender
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._sms = sms
        self._email = email

    def _session(self) -> Session:
        return Session(self._engine, expire_on_commit=False)

    @activity.defn
    def look_up_asset(self, query: AssetQuery) -> RepairFacts:
        """The asset in the register (warranty, history), the vendors for its kind, and the
        office's policy; opens the case's repair record and marks the asset in repair."""
        with self._session() as session:
            asset = None
            if query.property_number is not None:
                asset = session.exec(
                    select(Asset).where(Asset.property_number == query.property_number)
                ).first()
            facts = self._facts(session, asset, query)
            if session.get(RepairJob, query.case_id) is None:
                session.add(
                    RepairJob(
                        case_id=query.case_id,
                        asset_id=facts.asset_id,
                        kind=facts.kind,
                        under_warranty=facts.under_warranty,
                    )
                )
                if asset is not None and asset.state == AssetState.in_service:
                    asset.state = AssetState.in_repair
                    asset.updated_at = _now()
                    session.add(asset)
                session.commit()
            vendors = session.exec(select(Vendor).order_by(col(Vendor.name))).all()
        matching = [v for v in vendors if vendor_matches(v.fields, v.is_active, facts.kind)]
        if not matching:
            matching = [v for v in vendors if v.is_active]
        return RepairFacts(
            asset=facts,
            vendors=[VendorOption(id=v.id or 0, name=v.name) for v in matching],
            policy=RepairPolicy(
                quote_approval_limit_rials=self._settings.repair_quote_approval_limit_rials,
                receipt_working_days=self._settings.repair_receipt_working_days,
            ),
        )

    def _facts(self, session: Session, asset: Asset | None, query: AssetQuery) -> AssetFacts:
        if asset is None:
            return AssetFacts(
                property_number=query.property_number, kind=query.kind or AssetKind.other
            )
        vendor = session.get(Vendor, asset.warranty_vendor_id) if asset.warranty_vendor_id else None
        earlier = session.exec(
            select(RepairJob, Case)
            .join(Case, col(Case.id) == col(RepairJob.case_id))
            .where(RepairJob.asset_id == asset.id, RepairJob.case_id != query.case_id)
            .order_by(col(Case.created_at).desc())
            .limit(HISTORY_SHOWN)
        ).all()
        names = {v.id: v.name for v in session.exec(select(Vendor))}
        return AssetFacts(
            asset_id=asset.id,
            property_number=asset.property_number,
            kind=asset.kind,
            make_model=asset.make_model,
            under_warranty=under_warranty(asset.warranty_end, query.on) and vendor is not None,
            warranty_end=asset.warranty_end,
            warranty_vendor_id=vendor.id if vendor is not None else None,
            warranty_vendor_name=vendor.name if vendor is not None else None,
            history=[
                {
                    "tracking_code": case.tracking_code,
                    "reported_on": to_jalali_date_str(case.created_at),
                    "outcome": job.outcome.value if job.outcome else case.status.value,
                    "vendor": names.get(job.vendor_id) if job.vendor_id else None,
                }
                for job, case in earlier
            ],
        )

    @activity.defn
    def record_job(self, change: JobChange) -> None:
        """Apply a change to the repair record and add its timeline line, once.

        Statements by key, no rows loaded: a case writes its record at nearly every step."""
        with self._session() as session:
            if not write_line(session, change):
                return  # written before this retry
            now = _now()
            job = session.execute(
                update(RepairJob)
                .where(col(RepairJob.case_id) == change.case_id)
                .values(**self._job_values(change, now), updated_at=now)
                .returning(col(RepairJob.asset_id))
                .execution_options(synchronize_session=False)
            ).first()
            if job is None:
                raise ValueError(f"no repair record for case {change.case_id}")
            session.execute(
                update(Case)
                .where(col(Case.id) == change.case_id)
                .values(updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if change.asset_state is not None and job.asset_id is not None:
                session.execute(
                    update(Asset)
                    .where(col(Asset.id) == job.asset_id)
                    .values(state=change.asset_state, updated_at=now)
                    .execution_options(synchronize_session=False)
                )
            session.commit()

    @staticmethod
    def _job_values(change: JobChange, now: datetime) -> dict[str, Any]:
        """The repair record's columns this change sets (what it leaves None stays)."""
        values: dict[str, Any] = {
            name: getattr(change, name)
            for name in change.model_dump(
                exclude_none=True,
                include={
                    "path",
                    "vendor_id",
                    "dispatched_on",
                    "taken_by",
                    "vendor_status",
                    "promised_date",
                    "quote_rials",
                    "quote_approved",
                    "send_backs",
                    "technician_note",
                    "outcome",
                    "handed_to",
                    "closed_without_answer",
                    "satisfaction",
                    "satisfaction_comment",
                },
            )
        }
        if change.cost is not None:
            values["cost_minutes"] = change.cost.minutes
            values["cost_time_rials"] = change.cost.time_rials
            values["cost_fixed_rials"] = change.cost.fixed_rials
            values["cost_material_rials"] = change.cost.material_rials
        if change.delivered:
            values["delivered_at"] = now
        if change.receipt_confirmed:
            values["receipt_confirmed_at"] = now
        return values

    @activity.defn
    def notify_requester(self, notice: RequesterNotice) -> None:
        """SMS to the reporter's mobile, and e-mail if they gave an address; each once."""
        with self._session() as session:
            found = session.execute(
                select(
                    Case.tracking_code,
                    Case.workflow_id,
                    RepairRequest.mobile,
                    RepairRequest.email,
                )
                .join(RepairRequest, col(RepairRequest.case_id) == col(Case.id))
                .where(Case.id == notice.case_id)
            ).first()
        if found is None:
            raise ValueError(f"no repair request for case {notice.case_id}")
        code, workflow_id, mobile, email = found
        # The signed link opens the case (and the receipt confirmation) without the identity.
        link = requester_link(self._settings.public_base_url, self._settings.secret_key, code)
        text = _requester_text(notice, code, link)
        key = f"{workflow_id}:notice:{notice.kind.value}"
        self._sms.send(
            OutgoingMessage(
                message_key=f"{key}:sms",
                case_id=notice.case_id,
                recipient=mobile,
                body=text,
            )
        )
        if email:
            self._email.send(
                OutgoingMessage(
                    message_key=f"{key}:email",
                    case_id=notice.case_id,
                    recipient=email,
                    subject=f"درخواست تعمیر {code}",
                    body=text,
                )
            )

    @activity.defn
    def notify_vendor(self, notice: VendorNotice) -> None:
        """SMS and e-mail to the vendor's contact, with a link to the job in its cartable."""
        with self._session() as session:
            case = session.get(Case, notice.case_id)
            vendor = session.get(Vendor, notice.vendor_id)
            request = session.get(RepairRequest, notice.case_id)
            if case is None or vendor is None or request is None:
                raise ValueError(f"no vendor job for case {notice.case_id}")
        kind = ASSET_KIND_FA.get(request.kind or AssetKind.other, "")
        text = _vendor_text(notice, case.tracking_code, kind, self._settings.public_base_url)
        key = f"{case.workflow_id}:vendor:{notice.vendor_id}:{notice.kind.value}:{notice.round}"
        if vendor.mobile:
            self._sms.send(
                OutgoingMessage(
                    message_key=f"{key}:sms", case_id=case.id, recipient=vendor.mobile, body=text
                )
            )
        if vendor.email:
            self._email.send(
                OutgoingMessage(
                    message_key=f"{key}:email",
                    case_id=case.id,
                    recipient=vendor.email,
                    subject=f"کار تعمیر {case.tracking_code}",
                    body=text,
                )
            )


def _requester_text(notice: RequesterNotice, code: str, link: str) -> str:
    match notice.kind:
        case RequesterNoticeKind.assessed_in_house:
            return f"درخواست تعمیر {code} بررسی شد و در واحد پشتیبانی تعمیر می‌شود.\nپیگیری: {link}"
        case RequesterNoticeKind.assessed_outsourced:
            return (
                f"درخواست تعمیر {code} بررسی شد و برای تعمیر به شرکت پیمانکار سپرده می‌شود."
                f"\nپیگیری: {link}"
            )
        case RequesterNoticeKind.sent_to_vendor:
            return (
                f"تجهیز درخواست {code} برای تعمیر به شرکت {notice.vendor_name} سپرده شد."
                f"\nپیگیری: {link}"
            )
        case RequesterNoticeKind.ready:
            return (
                f"تجهیز درخواست {code} آماده تحویل است. پس از دریافت، لطفاً آن را در صفحه"
                f" پیگیری تایید کنید: {link}"
            )
        case RequesterNoticeKind.cancelled:
            return f"درخواست تعمیر {code} لغو شد: {notice.reason}\nپیگیری: {link}"


def _vendor_text(notice: VendorNotice, code: str, kind: str, base_url: str) -> str:
    cartable = f"{base_url}/tasks"
    match notice.kind:
        case VendorNoticeKind.new_job:
            return f"کار تعمیر جدید ({kind})، پرونده {code}. گزارش کار در کارتابل: {cartable}"
        case VendorNoticeKind.sent_back:
            return (
                f"کار تعمیر پرونده {code} در بازبینی پذیرفته نشد و برگشت داده شد:"
                f" {notice.reason}\n{cartable}"
            )
        case VendorNoticeKind.quote_refused:
            return (
                f"برآورد هزینه پرونده {code} تایید نشد: {notice.reason}. لطفاً تجهیز را بدون"
                " تعمیر بازگردانید."
            )
        case VendorNoticeKind.cancelled:
            return f"کار تعمیر پرونده {code} لغو شد: {notice.reason}. لطفاً تجهیز را بازگردانید."
