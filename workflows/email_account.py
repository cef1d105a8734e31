"""Process 1 — ایجاد ایمیل دانشگاهی (university e-mail account), all ten boxes of the chart."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.email_account import EmailAccountActivities
    from domain.cases import CaseOutcome, CaseStatus, Role
    from domain.email_account import (
        USERNAME_TAKEN,
        AnswerKind,
        EmailAccountInput,
        EmailAnswer,
        FormReview,
        IdentityCheck,
        MailboxCreated,
        MailboxRequest,
        UsernameChoice,
        UsernameQuery,
    )
    from workflows.human_task import RECORD_RETRY, CaseCancelled, CaseWorkflow, Step

REVIEW = Step(
    key="review_form",
    title_fa="بررسی فرم ارسالی",
    title_en="Review the submitted form",
    role=Role.email_admin,
    decision=FormReview,
    sla_working_days=2,
)
IDENTITY = Step(
    key="verify_identity",
    title_fa="تایید هویت کاربر",
    title_en="Verify the person's identity",
    role=Role.email_admin,
    decision=IdentityCheck,
    sla_working_days=2,
)
CHOOSE_USERNAME = Step(
    key="choose_username",
    title_fa="انتخاب نام کاربری جایگزین",
    title_en="Choose another username",
    role=Role.email_admin,
    decision=UsernameChoice,
    sla_working_days=1,
)

ANSWER_WORKING_DAYS = 5
"""The promise made on the receipt: the final answer within this many working days."""

MAILBOX_TIMEOUT = timedelta(seconds=30)
ANSWER_TIMEOUT = timedelta(seconds=30)
MAILBOX_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=[USERNAME_TAKEN],
)


class _Refused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@workflow.defn
class EmailAccountWorkflow(CaseWorkflow):
    @workflow.run
    async def run(self, start: EmailAccountInput) -> str:
        self.begin_case(start.case_id, start.tracking_code)
        try:
            address = await self._create_account(start)
        except _Refused as refused:
            await self._answer(start, AnswerKind.refused, reason=refused.reason)
            await self.finish(CaseStatus.closed, CaseOutcome.refused, {"reason": refused.reason})
            return CaseOutcome.refused
        except CaseCancelled as cancelled:
            reason = cancelled.request.reason
            await self._answer(start, AnswerKind.cancelled, reason=reason)
            await self.finish(
                CaseStatus.cancelled,
                CaseOutcome.cancelled,
                {"reason": reason, "by": cancelled.request.actor.username},
            )
            return CaseOutcome.cancelled
        await self._answer(start, AnswerKind.created, address=address)
        await self.finish(CaseStatus.closed, CaseOutcome.done, {"address": address})
        return CaseOutcome.done

    async def _create_account(self, start: EmailAccountInput) -> str:
        form = start.form
        context: dict[str, Any] = {
            "tracking_code": start.tracking_code,
            **form.model_dump(mode="json"),
        }
        review, _ = await self.ask(REVIEW, context=context)
        if not review.form_complete:
            raise _Refused(review.refusal_reason or "")

        checks = await self.record(EmailAccountActivities.check_request, start.case_id)
        if checks.registry.found:
            self.enter_stage(
                IDENTITY.key,
                "هویت با سامانه اطلاعات افراد تایید شد",
                "Identity matched the registry",
            )
        else:
            identity, _ = await self.ask(
                IDENTITY, context={**context, "registry": checks.registry.detail}
            )
            if not identity.identity_confirmed:
                raise _Refused(identity.refusal_reason or "")

        username = form.requested_username
        # Checked with the registry; a name taken since is caught when the mailbox is made.
        check = checks.username
        while True:
            if check.available:
                self.enter_stage("create_mailbox", "ایجاد ایمیل", "Create the mailbox")
                try:
                    created: MailboxCreated = await self.call_outside(
                        EmailAccountActivities.create_mailbox,
                        MailboxRequest(
                            case_id=start.case_id,
                            tracking_code=start.tracking_code,
                            username=username,
                        ),
                        start_to_close_timeout=MAILBOX_TIMEOUT,
                        retry_policy=MAILBOX_RETRY,
                    )
                    return created.address
                except ActivityError as error:
                    # Someone else took the name between the check and the creation.
                    cause = error.cause
                    if not (isinstance(cause, ApplicationError) and cause.type == USERNAME_TAKEN):
                        raise
            else:
                choice, _ = await self.ask(
                    CHOOSE_USERNAME,
                    context={**context, "taken_username": username},
                    options={"username": check.alternatives},
                )
                username = choice.username
            check = await self.record(
                EmailAccountActivities.check_username,
                UsernameQuery(
                    case_id=start.case_id, tracking_code=start.tracking_code, username=username
                ),
            )

    async def _answer(
        self,
        start: EmailAccountInput,
        kind: AnswerKind,
        *,
        address: str | None = None,
        reason: str | None = None,
    ) -> None:
        if kind == AnswerKind.refused:
            self.enter_stage("refused", "عدم ایجاد ایمیل", "No mailbox created")
        self.enter_stage("send_answer", "ارسال پاسخ به کاربر", "Send the answer")
        await self.call_outside(
            EmailAccountActivities.send_answer,
            EmailAnswer(
                case_id=start.case_id,
                tracking_code=start.tracking_code,
                kind=kind,
                address=address,
                reason=reason,
            ),
            start_to_close_timeout=ANSWER_TIMEOUT,
            retry_policy=RECORD_RETRY,
        )
