"""Process 3 — ایجاد کارتابل اتوماسیون اداری: a unit's appointment letter, the post created in the
office-automation system, a manager's signature and management permissions, the cartable, and
the username and password handed once to the unit's highest authority.

The password never passes through here: the admin types it on the cartable's task page and the
portal seals it at once; the case knows only that it is sealed. The head opens it once through a
one-time link (a second factor first); the page tells the case by signal that it was seen,
confirmed, or locked.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.appointment import AppointmentActivities
    from domain.appointment import (
        AppointmentFacts,
        AppointmentStart,
        AutomationCall,
        AutomationRequest,
        CartableReady,
        EndOfAppointmentStart,
        HandoverEvent,
        HandoverNews,
        HeadReminder,
        IssuedLink,
        LinkRequest,
        PostChange,
        ReissueLink,
        RevocationCall,
        RevocationChange,
        RevocationFacts,
        RevocationRequest,
    )
    from domain.calendar import to_jalali_date_str
    from domain.cases import CaseOutcome, CaseStatus, Role
    from domain.office_automation import (
        CartableDisabled,
        HandoverState,
        ManagementPermission,
        ManagerAccess,
        PermissionsRevoked,
        PostCreated,
        PostFreed,
        SignatureWithdrawn,
    )
    from domain.tasks import CancelCaseInput
    from workflows.human_task import RECORD_RETRY, CaseCancelled, CaseWorkflow, Step

CREATE_POST = Step(
    key="create_post",
    title_fa="ایجاد پست سازمانی مرتبط در واحد مربوطه",
    title_en="Create the post in the automation system",
    role=Role.automation_admin,
    decision=PostCreated,
    sla_working_days=1,
)
MANAGER_ACCESS = Step(
    key="manager_access",
    title_fa="اسکن امضاء و دادن دسترسی‌های مدیریت",
    title_en="Scan the signature and grant the management permissions",
    role=Role.automation_admin,
    decision=ManagerAccess,
    sla_working_days=1,
)
CREATE_CARTABLE = Step(
    key="create_cartable",
    title_fa="ایجاد کارتابل و دادن دسترسی‌های لازم",
    title_en="Create the cartable and grant its permissions",
    role=Role.automation_admin,
    decision=CartableReady,
    sla_working_days=1,
)
REISSUE_LINK = Step(
    key="reissue_link",
    title_fa="صدور دوباره پیوند تحویل نام کاربری و رمز",
    title_en="Issue the hand-over link again",
    role=Role.automation_admin,
    decision=ReissueLink,
    sla_working_days=1,
)

ANSWER_WORKING_DAYS = 3
"""The promise on the receipt: the cartable handed over within this many working days."""
END_WORKING_DAYS = 1
"""A departed holder's access is closed within a working day."""
NOTICE_TIMEOUT = timedelta(seconds=30)
AUTOMATION_TIMEOUT = timedelta(minutes=2)
ESCALATE_AT_REMINDER = 2
"""The reminder that also tells the IT supervisor."""


@workflow.defn
class AppointmentWorkflow(CaseWorkflow):
    def __init__(self) -> None:
        super().__init__()
        self._events = 0
        self._link = 0
        """The number of the link in force."""
        self._news: dict[int, set[HandoverEvent]] = {}
        """What the page reported, by link number. Kept for any number: a signal may be
        applied before the workflow, replaying after a crash, has counted the link it is about
        (the page sees the link as soon as its activity wrote it)."""
        self._facts: AppointmentFacts | None = None
        self._username: str | None = None

    @workflow.signal
    def handover(self, news: HandoverNews) -> None:
        """The one-time page: the head saw the credentials, confirmed receipt, or the link
        locked itself after wrong second factors. News of a voided link changes nothing."""
        self._news.setdefault(news.number, set()).add(news.event)

    @workflow.run
    async def run(self, start: AppointmentStart) -> str:
        self.begin_case(start.case_id, start.tracking_code)
        try:
            await self._appoint(start)
        except CaseCancelled as cancelled:
            await self._cancelled(cancelled.request)
            return CaseOutcome.cancelled
        await self.finish(CaseStatus.closed, CaseOutcome.done, {"username": self._username})
        return CaseOutcome.done

    async def _appoint(self, start: AppointmentStart) -> None:
        form = start.form
        facts: AppointmentFacts = await self.record(
            AppointmentActivities.open_appointment, start.case_id
        )
        self._facts = facts
        context: dict[str, Any] = {
            "tracking_code": start.tracking_code,
            "full_name": form.full_name,
            "personnel_number": form.personnel_number,
            "post_title": form.post_title,
            "unit": f"{facts.unit_name} ({form.unit_code})",
            "is_manager": form.is_manager,
            "letter_number": form.letter_number,
            "letter_date": to_jalali_date_str(form.letter_date),
            "effective_date": to_jalali_date_str(form.effective_date),
            "letter_file_id": form.letter_file_id,
            "head_name": facts.head_name,
        }
        code = facts.automation_code or await self._create_post(context)
        context["automation_code"] = code
        management: list[ManagementPermission] = []
        if form.is_manager:
            access, admin = await self.ask(MANAGER_ACCESS, context=context)
            management = access.permissions
            await self._line(
                "امضا اسکن شد و دسترسی‌های مدیریت داده شد",
                "Signature scanned and management permissions granted",
                actor=admin,
                signature_file_id=access.signature_file_id,
            )
        cartable, admin = await self.ask(CREATE_CARTABLE, context=context)
        self._username = cartable.username
        await self._line(
            f"کارتابل با نام کاربری {cartable.username} ایجاد شد؛ رمز اولیه مهر و موم شد",
            f"Cartable created as {cartable.username}; its initial password is sealed",
            actor=admin,
            username=cartable.username,
            held=True,
        )
        await self._automation(
            AutomationRequest(
                case_id=start.case_id,
                call=AutomationCall.create_user,
                automation_code=code,
                username=cartable.username,
                permissions=[*cartable.permissions, *management],
            )
        )
        await self._hand_over(context)

    async def _create_post(self, context: dict[str, Any]) -> str:
        """ایجاد پست سازمانی: asked until the code is one no other post holds."""
        taken: str | None = None
        while True:
            post, admin = await self.ask(
                CREATE_POST,
                context={**context, "code_taken": taken} if taken else context,
            )
            change = self._change(
                f"پست با کد {post.automation_code} در گروه «{post.permissions_group}» ایجاد شد",
                f"Post {post.automation_code} created in the group “{post.permissions_group}”",
                actor=admin,
                automation_code=post.automation_code,
                permissions_group=post.permissions_group,
            )
            if await self.record(AppointmentActivities.claim_post_code, change):
                await self.record(AppointmentActivities.record_post, change)
                await self._automation(
                    AutomationRequest(
                        case_id=self._case_id,
                        call=AutomationCall.create_post,
                        automation_code=post.automation_code,
                    )
                )
                return post.automation_code
            taken = post.automation_code

    async def _hand_over(self, context: dict[str, Any]) -> None:
        """اعلام نام کاربری و پسورد: a link to the head until receipt is confirmed; an expired
        or locked link is issued again by the admin; once seen, the head is reminded to confirm,
        and the supervisor told."""
        facts = self._facts
        assert facts is not None
        self.enter_stage(
            "hand_over",
            "اعلام نام کاربری و پسورد به بالاترین مقام واحد",
            "Hand the username and password to the unit's head",
        )
        while True:
            self._link += 1
            issued: IssuedLink = await self.call_outside(
                AppointmentActivities.issue_link,
                LinkRequest(case_id=self._case_id, number=self._link),
                start_to_close_timeout=NOTICE_TIMEOUT,
                retry_policy=RECORD_RETRY,
            )
            await self._line(
                f"پیوند یک‌بارمصرف شماره {self._link} برای {facts.head_name} فرستاده شد",
                f"One-time link {self._link} sent to {facts.head_name}",
                handover_state=HandoverState.link_sent,
            )
            if await self._until_seen(issued.expires_at):
                break
            ended = "قفل شد" if HandoverEvent.locked in self._seen else "منقضی شد"
            await self._line(
                f"پیوند شماره {self._link} بدون مشاهده {ended}",
                f"Link {self._link} "
                + ("locked" if HandoverEvent.locked in self._seen else "expired")
                + " unseen",
                handover_state=HandoverState.expired,
            )
            await self.ask(REISSUE_LINK, context=context)
        await self._until_confirmed(facts.policy.reminder_hours)
        await self._line(
            "دریافت نام کاربری و رمز تایید شد",
            "Receipt of the username and password confirmed",
            handover_state=HandoverState.confirmed,
            actor="head",
        )

    @property
    def _seen(self) -> set[HandoverEvent]:
        """What the page reported of the link in force."""
        return self._news.get(self._link, set())

    async def _until_seen(self, expires_at: datetime) -> bool:
        """True once the head saw the credentials; False if the link expired or locked first."""
        try:
            await workflow.wait_condition(
                lambda: (
                    bool(self._seen & {HandoverEvent.viewed, HandoverEvent.locked})
                    or self._progress.cancel is not None
                ),
                timeout=max(expires_at - workflow.now(), timedelta(seconds=1)),
                timeout_summary=f"link {self._link} expires",
            )
        except TimeoutError:
            pass
        self._raise_if_cancelled()
        return HandoverEvent.viewed in self._seen

    async def _until_confirmed(self, reminder_hours: int) -> None:
        reminders = 0
        while HandoverEvent.confirmed not in self._seen:
            try:
                await workflow.wait_condition(
                    lambda: (
                        HandoverEvent.confirmed in self._seen or self._progress.cancel is not None
                    ),
                    timeout=timedelta(hours=reminder_hours),
                    timeout_summary="receipt confirmed",
                )
            except TimeoutError:
                reminders += 1
                escalated = reminders == ESCALATE_AT_REMINDER
                await self.call_outside(
                    AppointmentActivities.remind_head,
                    HeadReminder(
                        case_id=self._case_id,
                        number=reminders,
                        escalate=escalated,
                    ),
                    start_to_close_timeout=NOTICE_TIMEOUT,
                    retry_policy=RECORD_RETRY,
                )
                await self._line(
                    "یادآوری تایید دریافت به رئیس واحد"
                    + ("؛ به سرپرست فناوری اطلاعات گزارش شد" if escalated else ""),
                    "The head was reminded to confirm receipt"
                    + ("; the IT supervisor was told" if escalated else ""),
                    public=False,
                )
            self._raise_if_cancelled()

    async def _cancelled(self, request: CancelCaseInput) -> None:
        await self._line(
            "لغو شد: " + request.reason,
            "Cancelled: " + request.reason,
            actor=request.actor.username,
            released=True,
            erase_secret=True,
        )
        await self.finish(
            CaseStatus.cancelled,
            CaseOutcome.cancelled,
            {"reason": request.reason, "by": request.actor.username},
        )

    async def _automation(self, request: AutomationRequest) -> None:
        done: bool = await self.call_outside(
            AppointmentActivities.call_automation,
            request,
            start_to_close_timeout=AUTOMATION_TIMEOUT,
            retry_policy=RECORD_RETRY,
        )
        if done:
            await self._line(
                "در سامانه اتوماسیون اداری انجام شد",
                f"Done in the automation system ({request.call.value})",
                public=False,
            )

    def _change(self, text_fa: str, text_en: str, **change: Any) -> PostChange:
        self._events += 1
        return PostChange(
            case_id=self._case_id,
            event_key=f"{workflow.info().workflow_id}:post:{self._events}",
            text_fa=text_fa,
            text_en=text_en,
            **change,
        )

    async def _line(self, text_fa: str, text_en: str, **change: Any) -> None:
        await self.record(
            AppointmentActivities.record_post, self._change(text_fa, text_en, **change)
        )


DISABLE_CARTABLE = Step(
    key="disable_cartable",
    title_fa="غیرفعال‌سازی کارتابل",
    title_en="Disable the cartable",
    role=Role.automation_admin,
    decision=CartableDisabled,
    sla_working_days=1,
)
"""A departed holder's access must not linger: each step of the reverse is due in one working
day, then marked late and escalated to the IT supervisor."""
REVOKE_PERMISSIONS = Step(
    key="revoke_permissions",
    title_fa="سلب دسترسی‌ها",
    title_en="Revoke the permissions",
    role=Role.automation_admin,
    decision=PermissionsRevoked,
    sla_working_days=1,
)
WITHDRAW_SIGNATURE = Step(
    key="withdraw_signature",
    title_fa="ابطال امضا",
    title_en="Withdraw the signature",
    role=Role.automation_admin,
    decision=SignatureWithdrawn,
    sla_working_days=1,
)
FREE_POST = Step(
    key="free_post",
    title_fa="آزادسازی پست",
    title_en="Free the post",
    role=Role.automation_admin,
    decision=PostFreed,
    sla_working_days=1,
)


@workflow.defn
class EndOfAppointmentWorkflow(CaseWorkflow):
    """لغو ابلاغ: the same tasks in reverse; the signature kept for the record, usable no more,
    and the post kept, vacant, for the next appointment."""

    def __init__(self) -> None:
        super().__init__()
        self._events = 0

    @workflow.run
    async def run(self, start: EndOfAppointmentStart) -> str:
        self.begin_case(start.case_id, start.tracking_code)
        try:
            await self._revoke(start)
        except CaseCancelled as cancelled:
            await self._line(
                "لغو شد: " + cancelled.request.reason,
                "Cancelled: " + cancelled.request.reason,
                actor=cancelled.request.actor.username,
            )
            await self.finish(
                CaseStatus.cancelled,
                CaseOutcome.cancelled,
                {"reason": cancelled.request.reason, "by": cancelled.request.actor.username},
            )
            return CaseOutcome.cancelled
        await self.finish(CaseStatus.closed, CaseOutcome.done, {})
        return CaseOutcome.done

    async def _revoke(self, start: EndOfAppointmentStart) -> None:
        facts: RevocationFacts = await self.record(
            AppointmentActivities.open_end_of_appointment, start.case_id
        )
        context: dict[str, Any] = {
            "tracking_code": start.tracking_code,
            "post_title": facts.post_title,
            "automation_code": facts.automation_code,
            "username": facts.username,
            "holder_name": facts.holder_name,
            "is_manager": facts.is_manager,
            "letter_number": start.form.letter_number,
            "end_date": to_jalali_date_str(start.form.end_date),
        }
        steps: list[tuple[Step[Any], str, str, RevocationCall | None]] = [
            (
                DISABLE_CARTABLE,
                "کارتابل غیرفعال شد",
                "Cartable disabled",
                RevocationCall.disable_user,
            ),
            (
                REVOKE_PERMISSIONS,
                "دسترسی‌ها گرفته شد",
                "Permissions revoked",
                RevocationCall.revoke_permissions,
            ),
        ]
        if facts.is_manager:
            steps.append((WITHDRAW_SIGNATURE, "امضا ابطال شد", "Signature withdrawn", None))
        steps.append((FREE_POST, "پست آزاد شد", "Post freed", RevocationCall.free_post))
        for step, text_fa, text_en, call in steps:
            _, admin = await self.ask(step, context=context)
            await self._line(
                text_fa,
                text_en,
                actor=admin,
                withdraw_signature=step is WITHDRAW_SIGNATURE,
                free_post=step is FREE_POST,
            )
            if (
                call is not None
                and facts.automation_code
                and (facts.username or call is RevocationCall.free_post)
            ):
                await self.call_outside(
                    AppointmentActivities.call_revocation,
                    RevocationRequest(
                        case_id=start.case_id,
                        call=call,
                        automation_code=facts.automation_code,
                        username=facts.username,
                        is_manager=facts.is_manager,
                    ),
                    start_to_close_timeout=AUTOMATION_TIMEOUT,
                    retry_policy=RECORD_RETRY,
                )

    async def _line(self, text_fa: str, text_en: str, **change: Any) -> None:
        self._events += 1
        await self.record(
            AppointmentActivities.record_revocation,
            RevocationChange(
                case_id=self._case_id,
                event_key=f"{workflow.info().workflow_id}:revoke:{self._events}",
                text_fa=text_fa,
                text_en=text_en,
                **change,
            ),
        )
