"""Process 4 — برقراری ارتباط سرویس اینترانت نقاط شبکه ملی سلامت (شمس): the rollout's case.

The IT office drafts the letter and the IT director approves it (a rejection returns it with
comments, as often as it takes). The letter then goes to every county addressed: one
`CountyWorkflow` each, which collects its sites and starts one `SiteWorkflow` per accepted
site. The rollout itself stays small: it reads its progress from the read model now and
then, reminds the carrier while sites wait for ranging, and ends when every county has.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.case_records import CaseRecordActivities
    from activities.shams import ShamsActivities
    from domain.calendar import to_jalali_date_str
    from domain.cases import CaseOutcome, CaseStatus, Role
    from domain.records import StagesEntered
    from domain.shams_process import (
        CountyNotice,
        CountyRef,
        CountyStart,
        LetterApproval,
        LetterDraft,
        RolloutOpened,
        RolloutOpening,
        RolloutProgress,
        RolloutQuery,
        RolloutRef,
        RolloutResume,
        RolloutStart,
    )
    from domain.tasks import CancelCaseInput
    from workflows.human_task import RECORD_RETRY, CaseCancelled, Step
    from workflows.search_attributes import COUNTY, PROCESS_KIND, ROLLOUT_ID, TRACKING_CODE
    from workflows.shams_common import ShamsWorkflow
    from workflows.shams_county import CountyWorkflow

DRAFT_LETTER = Step(
    key="draft_letter",
    title_fa="تنظیم نامه",
    title_en="Draft the letter",
    role=Role.it_office,
    decision=LetterDraft,
    sla_working_days=2,
)
APPROVE_LETTER = Step(
    key="approve_letter",
    title_fa="تایید / عدم تایید نامه",
    title_en="Approve the letter",
    role=Role.it_director,
    decision=LetterApproval,
    sla_working_days=2,
)
ANSWER_WORKING_DAYS = 60
"""What the office is told at the start: a rollout runs for weeks."""
NOTICE_TIMEOUT = timedelta(seconds=30)


@workflow.defn
class RolloutWorkflow(ShamsWorkflow):
    def __init__(self) -> None:
        super().__init__()
        self._start: RolloutStart | None = None
        self._resume: RolloutResume | None = None

    @workflow.run
    async def run(self, start: RolloutStart) -> str:
        self.begin_case(start.case_id, start.tracking_code)
        self._start = start
        self._resume = start.resume
        if start.resume is None and self.searchable():
            # The API starts every case alike; the rollout is found by RolloutId as its parts are.
            workflow.upsert_search_attributes([ROLLOUT_ID.value_set(start.tracking_code)])
        try:
            if self._resume is None:
                self._resume = await self._send_letter(start)
            else:
                self._progress.task_numbers = dict(self._resume.task_numbers)
            progress = await self._watch()
        except CaseCancelled as cancelled:
            await self._wind_down(cancelled.request)
            await self.finish(
                CaseStatus.cancelled,
                CaseOutcome.cancelled,
                {"reason": cancelled.request.reason, "by": cancelled.request.actor.username},
            )
            return CaseOutcome.cancelled
        await self.finish(
            CaseStatus.closed,
            CaseOutcome.done,
            {
                "sites": progress.sites_total,
                "connected": progress.sites_connected,
                "closed_not_feasible": progress.sites_closed,
            },
        )
        return CaseOutcome.done

    async def _send_letter(self, start: RolloutStart) -> RolloutResume:
        """Boxes 1–3: the letter, drafted until approved, then one workflow per county."""
        comments: str | None = None
        rounds = 0
        while True:
            draft, _ = await self.ask(
                DRAFT_LETTER,
                context={"title": start.form.title, "round": rounds + 1, "comments": comments},
            )
            approval, _ = await self.ask(
                APPROVE_LETTER,
                context={
                    "title": start.form.title,
                    "text": draft.text,
                    "counties": draft.counties or "همه شهرستان‌ها",
                    "answer_by": to_jalali_date_str(draft.answer_by),
                    "attachment_file_id": draft.attachment_file_id,
                },
            )
            if approval.approved:
                break
            rounds += 1
            comments = approval.comments
            # Each round stays on the timeline, written with the next draft's task.
            self.enter_stage(
                "letter_returned",
                f"نامه برای اصلاح برگشت (دور {rounds}): {comments}",
                f"The letter was returned for changes (round {rounds}): {comments}",
            )
        self.enter_stage(
            "letter_sent", "ارسال نامه به شبکه‌های بهداشت", "The letter goes to the counties"
        )
        opened: RolloutOpened = await self.record(
            ShamsActivities.open_rollout,
            RolloutOpening(
                case_id=start.case_id,
                rollout_id=start.tracking_code,
                title=start.form.title,
                counties=draft.counties,
                answer_by=draft.answer_by,
                attachment_file_id=draft.attachment_file_id,
            ),
        )
        rollout = RolloutRef(
            case_id=start.case_id, rollout_id=start.tracking_code, policy=opened.policy
        )
        await asyncio.gather(*(self._start_county(rollout, c, draft) for c in opened.counties))
        for county in opened.counties:
            await self.call_outside(
                ShamsActivities.notify_county,
                CountyNotice(
                    rollout_id=start.tracking_code,
                    case_id=start.case_id,
                    county_code=county.code,
                    answer_by=draft.answer_by,
                ),
                start_to_close_timeout=NOTICE_TIMEOUT,
                retry_policy=RECORD_RETRY,
            )
        self.enter_stage("counties", "جمع‌آوری نقاط در شبکه‌ها", "The counties collect their sites")
        # Written now: the rollout's next write may be weeks away (its closing).
        await self.record(
            CaseRecordActivities.record_stages,
            StagesEntered(case_id=start.case_id, stages=self._take_stages()),
        )
        return RolloutResume(
            rollout_id=start.tracking_code,
            counties=[c.code for c in opened.counties],
            next_carrier_reminder=None,
            policy=opened.policy,
            task_numbers={},
        )

    async def _start_county(
        self, rollout: RolloutRef, county: CountyRef, draft: LetterDraft
    ) -> None:
        kind = workflow.info().typed_search_attributes.get(PROCESS_KIND)
        attributes = None
        if kind is not None:  # our attributes are registered (see ShamsWorkflow.searchable)
            attributes = TypedSearchAttributes(
                [
                    SearchAttributePair(PROCESS_KIND, kind),
                    SearchAttributePair(TRACKING_CODE, rollout.rollout_id),
                    SearchAttributePair(ROLLOUT_ID, rollout.rollout_id),
                    SearchAttributePair(COUNTY, county.code),
                ]
            )
        await workflow.start_child_workflow(
            CountyWorkflow.run,
            CountyStart(
                rollout=rollout,
                county_code=county.code,
                county_name=county.name,
                answer_by=draft.answer_by,
                letter_text=draft.text,
            ),
            id=self._county_id(county.code),
            parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            search_attributes=attributes,
            static_summary=f"شمس — شبکه بهداشت {county.name}",
            static_details=f"SHAMS rollout {rollout.rollout_id}, county {county.code}",
        )

    async def _watch(self) -> RolloutProgress:
        """Until every county ended: progress from the read model, the carrier's reminders."""
        resume = self._resume
        assert resume is not None
        while True:
            progress: RolloutProgress = await self.record(
                ShamsActivities.rollout_progress,
                RolloutQuery(
                    rollout_id=resume.rollout_id,
                    now=workflow.now(),
                    next_carrier_reminder=resume.next_carrier_reminder,
                    carrier_reminder_working_days=resume.policy.carrier_reminder_working_days,
                ),
            )
            resume.next_carrier_reminder = progress.next_carrier_reminder
            if progress.remind_carrier_now:
                await self.call_outside(
                    ShamsActivities.remind_carrier,
                    progress,
                    start_to_close_timeout=NOTICE_TIMEOUT,
                    retry_policy=RECORD_RETRY,
                )
            workflow.set_current_details(_details(progress))
            if not progress.counties_open:
                return progress
            if self.continue_as_new_due(resume.policy):
                await self._continue_as_new()
            await self.pause(
                timedelta(minutes=resume.policy.progress_check_minutes), "rollout progress"
            )

    async def _continue_as_new(self) -> None:
        resume = self._resume
        assert resume is not None
        assert self._start is not None
        await workflow.wait_condition(workflow.all_handlers_finished)
        resume = resume.model_copy(update={"task_numbers": dict(self._progress.task_numbers)})
        workflow.continue_as_new(self._start.model_copy(update={"resume": resume}))

    async def _wind_down(self, request: CancelCaseInput) -> None:
        """Cancelled: each county is told, and tells its sites; each part then closes its own
        open tasks as it ends, so the case need not wait for thousands of them."""
        resume = self._resume
        if resume is not None:  # else still drafting the letter: no county was started
            await asyncio.gather(*(self._tell_county(c, request) for c in resume.counties))

    async def _tell_county(self, code: str, request: CancelCaseInput) -> None:
        county = workflow.get_external_workflow_handle_for(
            CountyWorkflow.run, self._county_id(code)
        )
        try:
            await county.signal(CountyWorkflow.wind_down, request)
        except ApplicationError:
            pass  # the county's workflow already ended

    @staticmethod
    def _county_id(code: str) -> str:
        return f"{workflow.info().workflow_id}-{code}"


def _details(progress: RolloutProgress) -> str:
    return (
        f"**شهرستان‌های باز: {progress.counties_open}**\n\n"
        f"نقاط: {progress.sites_total} — متصل: {progress.sites_connected} — "
        f"بسته بدون امکان ارتباط: {progress.sites_closed} — "
        f"در انتظار رانژه: {progress.awaiting_ranging}"
    )
