"""One county health network in a SHAMS rollout: it collects its sites by the letter's
deadline, the university checks them (returned ones come back to the county), and each
accepted site gets its own workflow. A county may send more sites in later rounds.

The county's state stays small (a phase, a round, the codes of one answer not yet started),
and it continues-as-new when its history grows: its sites' workflows are abandoned to run on,
and it counts them from the read model, not from one signal per site.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from activities.shams import ShamsActivities
    from db.shams import county_scope
    from domain.calendar import to_jalali_date_str
    from domain.cases import CaseStatus, Role
    from domain.shams_process import (
        CheckResult,
        CountyChange,
        CountyPhase,
        CountyQuery,
        CountySites,
        CountyStart,
        CountySubmission,
        OpenSites,
        ReturnedSite,
        SiteCheck,
        SitesTaken,
        SiteStart,
        SitesWithdrawn,
    )
    from domain.tasks import CancelCaseInput
    from workflows.human_task import CaseCancelled, Step
    from workflows.search_attributes import (
        COUNTY,
        PROCESS_KIND,
        ROLLOUT_ID,
        SITE_STEP,
        TRACKING_CODE,
    )
    from workflows.shams_common import RolloutPart
    from workflows.shams_site import RANGE_SITE, SiteWorkflow

COLLECT_SITES = Step(
    key="collect_sites",
    title_fa="جمع‌آوری و بررسی اطلاعات نقاط شهرستان و ارسال پاسخ به دانشگاه",
    title_en="Collect your sites and send them to the university",
    role=Role.county_network,
    decision=CountySites,
    sla_working_days=10,
    escalate_to=Role.it_director,
    remind_working_days_before=2,
    escalate_after_working_days=2,
)
"""Due by the letter's deadline: reminded two working days before, late after it, and the
director told two working days later; the county may still answer late."""
CORRECT_SITES = Step(
    key="correct_sites",
    title_fa="اصلاح نقاط برگشتی و ارسال دوباره",
    title_en="Correct the returned sites and send them again",
    role=Role.county_network,
    decision=CountySites,
    sla_working_days=5,
    escalate_to=Role.it_director,
)
MORE_SITES = Step(
    key="more_sites",
    title_fa="اعلام نقاط بیشتر (مرحله بعد)",
    title_en="Send more sites (another round)",
    role=Role.county_network,
    decision=CountySites,
    sla_working_days=20,
    expires=True,
)
"""Optional: unanswered, the county's rounds end."""
CHECK_SITES = Step(
    key="check_sites",
    title_fa="بررسی صحت نقاط معرفی‌شده شهرستان",
    title_en="Check the sites the county sent",
    role=Role.it_office,
    decision=SiteCheck,
    sla_working_days=3,
)
NOT_IN_REGISTER = "این کد در سامانه نقاط این شهرستان نیست یا قابل ارسال نیست"


@workflow.defn
class CountyWorkflow(RolloutPart):
    def __init__(self) -> None:
        super().__init__()
        self._start: CountyStart | None = None

    @workflow.run
    async def run(self, start: CountyStart) -> CaseStatus:
        self.begin_case(start.rollout.case_id, start.rollout.rollout_id)
        self._progress.task_numbers = dict(start.task_numbers)
        self._progress.cancel = start.cancel
        self._start = start
        try:
            self._raise_if_cancelled()
            if start.to_start:
                await self._start_sites()
            while self._state.phase != CountyPhase.wait:
                await self._round()
            await self._record(CountyPhase.wait)
            await self._wait_for_sites()
        except CaseCancelled as cancelled:
            await self._wind_down(cancelled.request)
            await self.end(CaseStatus.cancelled, "cancelled")
            return CaseStatus.cancelled
        await self._record(None, ended=True)
        await self.end(CaseStatus.closed, "done")
        return CaseStatus.closed

    @property
    def _state(self) -> CountyStart:
        assert self._start is not None
        return self._start

    async def _round(self) -> None:
        """One answer of the county, the university's check, and the accepted sites started."""
        state = self._state
        asked = await self._ask_county()
        if asked is None or asked[0].no_sites:
            state.phase = CountyPhase.wait
            return
        answer, county_user = asked
        taken: SitesTaken = await self.record(
            ShamsActivities.take_sites,
            CountySubmission(
                rollout_id=state.rollout.rollout_id,
                county_code=state.county_code,
                site_codes=answer.site_codes,
                event_key=self._key("sent"),
                actor=county_user,
            ),
        )
        returned = [ReturnedSite(site_code=c, reason=NOT_IN_REGISTER) for c in taken.unknown]
        accepted: list[str] = []
        if taken.known:
            check, office = await self.ask(
                CHECK_SITES,
                context={**self._context(), "sites": taken.known, "round": state.round},
            )
            sent = set(taken.known)
            # Only the county's own sites of this answer can be returned; other codes are
            # not the office's to touch and are left out.
            by_office = [r for r in check.returned if r.site_code in sent]
            back = {r.site_code for r in by_office}
            accepted = [c for c in taken.known if c not in back]
            await self.record(
                ShamsActivities.record_check,
                CheckResult(
                    rollout_id=state.rollout.rollout_id,
                    county_code=state.county_code,
                    accepted=accepted,
                    returned=by_office,
                    event_key=self._key("checked"),
                    actor=office,
                ),
            )
            returned = by_office + returned
        state.returned = returned
        state.phase = CountyPhase.correct if returned else CountyPhase.more
        state.round += 1
        await self._record(state.phase)
        state.to_start = accepted
        await self._start_sites()

    async def _ask_county(self) -> tuple[CountySites, str] | None:
        """The county's answer in its phase: the first (by the letter's deadline), the
        corrected sites, or a further round (None once that task expires unanswered)."""
        state = self._state
        scope = county_scope(state.county_code)
        context = self._context()
        if state.phase == CountyPhase.collect:
            return await self.ask(
                COLLECT_SITES, context=context, scope=scope, due_on=state.answer_by
            )
        if state.phase == CountyPhase.correct:
            returned = [r.model_dump() for r in state.returned]
            return await self.ask(
                CORRECT_SITES, context={**context, "returned": returned}, scope=scope
            )
        return await self.ask_or_expire(MORE_SITES, context=context, scope=scope)

    async def _start_sites(self) -> None:
        """Start the accepted sites' workflows in batches; continue-as-new between batches
        when the history grows, carrying the codes not started yet."""
        state = self._state
        policy = state.rollout.policy
        while state.to_start:
            if self.continue_as_new_due(policy):
                await self._continue_as_new()
            batch = state.to_start[: policy.site_batch]
            await asyncio.gather(*(self._start_site(code) for code in batch))
            state.to_start = state.to_start[len(batch) :]

    async def _start_site(self, code: str) -> None:
        state = self._state
        kind = workflow.info().typed_search_attributes.get(PROCESS_KIND)
        attributes = None
        if kind is not None:  # our attributes are registered (see RolloutPart.searchable)
            attributes = TypedSearchAttributes(
                [
                    SearchAttributePair(PROCESS_KIND, kind),
                    SearchAttributePair(TRACKING_CODE, state.rollout.rollout_id),
                    SearchAttributePair(ROLLOUT_ID, state.rollout.rollout_id),
                    SearchAttributePair(COUNTY, state.county_code),
                    SearchAttributePair(SITE_STEP, RANGE_SITE.key),
                ]
            )
        try:
            await workflow.start_child_workflow(
                SiteWorkflow.run,
                SiteStart(rollout=state.rollout, county_code=state.county_code, site_code=code),
                id=f"{workflow.info().workflow_id}-{code}",
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                search_attributes=attributes,
                static_summary=f"نقطه {code} — شهرستان {state.county_name}",
                static_details=f"SHAMS site {code}, county {state.county_code}",
            )
        except WorkflowAlreadyStartedError:
            pass  # started by an earlier run of this county, which continued-as-new meanwhile

    async def _wait_for_sites(self) -> None:
        """Until every site of the county ended, read from the read model now and then."""
        policy = self._state.rollout.policy
        while (await self._open_sites()).open:
            if self.continue_as_new_due(policy):
                await self._continue_as_new()
            await self.pause(timedelta(minutes=policy.progress_check_minutes), "county progress")

    async def _wind_down(self, request: CancelCaseInput) -> None:
        """Cancelled: every open site is told the reason, sites never started end here, and
        the county ends at once: a signal delivered is a site that will wind down."""
        state = self._state
        withdrawn = [*state.withdrawn, *state.to_start]
        state.to_start = []
        after = state.told_until or ""
        while True:
            page = await self._open_sites(after, state.rollout.policy.site_batch)
            if not page.codes:
                break
            told = await asyncio.gather(*(self._tell_site(code, request) for code in page.codes))
            withdrawn += [code for code, ok in zip(page.codes, told, strict=True) if not ok]
            after = page.codes[-1]
            if self.continue_as_new_due(state.rollout.policy):
                # Thousands of sites are thousands of signals: the rest is told by the next run.
                state.told_until, state.withdrawn = after, withdrawn
                await self._continue_as_new()
        if withdrawn:
            await self.record(
                ShamsActivities.withdraw_sites,
                SitesWithdrawn(
                    rollout_id=state.rollout.rollout_id,
                    county_code=state.county_code,
                    site_codes=withdrawn,
                    reason=request.reason,
                    actor=request.actor.username,
                    event_key=self._key("withdrawn"),
                ),
            )
        await self.record(
            ShamsActivities.record_county,
            CountyChange(
                rollout_id=state.rollout.rollout_id,
                county_code=state.county_code,
                ended=True,
                cancelled=True,
                close_tasks_of=workflow.info().workflow_id,
            ),
        )

    async def _tell_site(self, code: str, request: CancelCaseInput) -> bool:
        """False if the site's workflow is not running (it never started, or ended)."""
        site = workflow.get_external_workflow_handle_for(
            SiteWorkflow.run, f"{workflow.info().workflow_id}-{code}"
        )
        try:
            await site.signal(SiteWorkflow.wind_down, request)
        except ApplicationError:
            return False
        return True

    async def _open_sites(self, after: str = "", limit: int = 0) -> OpenSites:
        state = self._state
        sites: OpenSites = await self.record(
            ShamsActivities.open_sites,
            CountyQuery(
                rollout_id=state.rollout.rollout_id,
                county_code=state.county_code,
                after=after,
                limit=limit,
            ),
        )
        return sites

    async def _continue_as_new(self) -> None:
        await workflow.wait_condition(workflow.all_handlers_finished)
        state = self._state.model_copy(
            update={
                "task_numbers": dict(self._progress.task_numbers),
                "cancel": self._progress.cancel,
            }
        )
        workflow.continue_as_new(state)

    async def _record(self, phase: CountyPhase | None, *, ended: bool = False) -> None:
        state = self._state
        await self.record(
            ShamsActivities.record_county,
            CountyChange(
                rollout_id=state.rollout.rollout_id,
                county_code=state.county_code,
                phase=phase,
                ended=ended,
            ),
        )

    def _context(self) -> dict[str, Any]:
        state = self._state
        return {
            "rollout": state.rollout.rollout_id,
            "county": state.county_name,
            "county_code": state.county_code,
            "answer_by": to_jalali_date_str(state.answer_by),
            "letter": state.letter_text,
        }

    def _key(self, what: str) -> str:
        return f"{workflow.info().workflow_id}:{what}:{self._state.round}"
