"""What the SHAMS rollout's three workflows share: pausing on a durable timer that a cancel
interrupts, knowing when to continue-as-new, and (for a county or a site) being a part of the
rollout's case rather than a case of its own."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import SearchAttributeKey

with workflow.unsafe.imports_passed_through():
    from domain.cases import CaseStatus
    from domain.shams_process import ShamsPolicy
    from domain.tasks import CancelCaseInput
    from workflows.human_task import CaseWorkflow
    from workflows.search_attributes import PROCESS_KIND


class ShamsWorkflow(CaseWorkflow):
    async def pause(self, duration: timedelta, summary: str) -> None:
        """A durable wait that ends early, raising CaseCancelled, when the case is cancelled."""
        try:
            await workflow.wait_condition(
                lambda: self._progress.cancel is not None,
                timeout=max(duration, timedelta(seconds=1)),
                timeout_summary=summary,
            )
        except TimeoutError:
            return
        self._raise_if_cancelled()

    @staticmethod
    def continue_as_new_due(policy: ShamsPolicy) -> bool:
        """Temporal suggests it (history near 4 K events or 4 MB), or the policy's bound."""
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= policy.continue_as_new_after_events
        )

    @staticmethod
    def searchable() -> bool:
        """Started with our search attributes (by the API, or by a parent that was): the
        time-skipping test server registers none, so its workflows set none."""
        return workflow.info().typed_search_attributes.get(PROCESS_KIND) is not None


class RolloutPart(ShamsWorkflow):
    """A county's or a site's workflow: its tasks belong to the rollout's case (they show in
    its cartables and close with it), but it is not the case itself.

    Thousands of parts share one case, so their stages would make the case's timeline and
    current step meaningless: a part shows its step only in the Temporal UI, and writes its
    own history through its activities (the site's history, the county's row)."""

    step_attribute: SearchAttributeKey[str] | None = None
    """Where the step also shows (SiteStep for a site)."""

    def enter_stage(self, key: str, title_fa: str, title_en: str, *, public: bool = True) -> None:
        self._progress.step_key = key
        self._progress.step_title = title_fa
        self.show(key)
        workflow.set_current_details(f"**{title_fa}**\n\n{title_en}")

    def show(self, key: str) -> None:
        if self.searchable():
            self._show_step(key)
            if self.step_attribute is not None:
                workflow.upsert_search_attributes([self.step_attribute.value_set(key)])

    @workflow.signal
    def wind_down(self, request: CancelCaseInput) -> None:
        """The parent is cancelled: end with its reason (a second request changes nothing)."""
        if self._progress.cancel is None and self._progress.status == CaseStatus.open:
            self._progress.cancel = request

    async def end(self, status: CaseStatus, outcome: str) -> None:
        """The part ends; the case goes on. Update handlers still running finish first."""
        self._progress.status = status
        self._progress.step_key = None
        self._progress.step_title = None
        self.show(f"end:{outcome}")
        workflow.set_current_details(f"**پایان: {outcome}**")
        await workflow.wait_condition(workflow.all_handlers_finished)
