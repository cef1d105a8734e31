"""One SHAMS site, for weeks: ranging by the carrier (رانژه), the line, the entry in SHAMS and
the connection check, until it is connected or closed as not feasible.

Each site is its own workflow (`shams-<rollout>-<county>-<site>`), started by its county and
left running when the county continues-as-new. Every state change goes to the read model
(the site's state and history line) through one idempotent activity.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.shams import ShamsActivities
    from db.shams import exchange_scope
    from domain.calendar import TEHRAN, format_jalali
    from domain.cases import ALL_SCOPES, CaseStatus, Role
    from domain.shams import LINK_TYPE_FA, NOT_FEASIBLE_FA, SiteState
    from domain.shams_process import (
        PROBE_TIMEOUT_SECONDS,
        LineInstalled,
        NotFeasibleAction,
        NotFeasibleChoice,
        ProbeDeadline,
        ProbeResult,
        ProbeWindow,
        RangingReport,
        ShamsEntry,
        SiteChange,
        SiteOutcome,
        SiteStart,
    )
    from workflows.human_task import CaseCancelled, Step
    from workflows.search_attributes import SITE_STEP
    from workflows.shams_common import RolloutPart
    from workflows.task_queues import waits_queue

RANGE_SITE = Step(
    key="range_site",
    title_fa="بررسی امکان ارتباط نقطه توسط مخابرات (رانژه)",
    title_en="Range the site (carrier)",
    role=Role.carrier,
    decision=RangingReport,
    sla_working_days=10,
    escalate_to=Role.it_director,
    notify=False,
    on_case_timeline=False,
)
"""The long wait; the carrier's reminders come as one digest per rollout (not per site)."""
DECIDE_NOT_FEASIBLE = Step(
    key="decide_not_feasible",
    title_fa="تصمیم درباره نقطه فاقد امکان ارتباط",
    title_en="Decide on a site that cannot be connected",
    role=Role.it_office,
    decision=NotFeasibleChoice,
    sla_working_days=3,
    on_case_timeline=False,
)
INSTALL_LINE = Step(
    key="install_line",
    title_fa="نصب خط و اعلام آن به دانشگاه",
    title_en="Install the line (carrier)",
    role=Role.carrier,
    decision=LineInstalled,
    sla_working_days=10,
    escalate_to=Role.it_director,
    remind_working_days_before=1,
    escalate_after_working_days=2,
    notify=False,
    on_case_timeline=False,
)
"""Due by the date the carrier gave when ranging (else in ten working days)."""
ENTER_IN_SHAMS = Step(
    key="enter_in_shams",
    title_fa="ورود اطلاعات نقطه در سامانه شبکه ملی سلامت",
    title_en="Enter the site in SHAMS",
    role=Role.it_office,
    decision=ShamsEntry,
    sla_working_days=2,
    notify=False,
    on_case_timeline=False,
)
REPAIR_LINE = Step(
    key="repair_line",
    title_fa="رفع خرابی ارتباط نقطه (مخابرات)",
    title_en="Repair the site's link (carrier)",
    role=Role.carrier,
    decision=LineInstalled,
    sla_working_days=3,
    escalate_to=Role.it_director,
    notify=False,
    on_case_timeline=False,
)
PROBE = "probe"
"""The connection check's step (no task: an activity in attempt windows)."""


@workflow.defn
class SiteWorkflow(RolloutPart):
    step_attribute = SITE_STEP
    cancelled_by = frozenset({Role.admin, Role.it_office})
    """The IT office stops one site (with a reason) while the rollout goes on."""

    def __init__(self) -> None:
        super().__init__()
        self._site: SiteStart | None = None
        self._state = SiteState.accepted
        self._changes = 0

    @workflow.run
    async def run(self, start: SiteStart) -> SiteOutcome:
        self.begin_case(start.rollout.case_id, start.rollout.rollout_id)
        self._site = start
        try:
            outcome = await self._connect()
        except CaseCancelled as cancelled:
            await self._change(
                self._state,
                "end:withdrawn",
                note_fa=f"خاتمه پیگیری نقطه: {cancelled.request.reason}",
                actor=cancelled.request.actor.username,
                outcome=SiteOutcome.withdrawn,
                close_tasks_of=workflow.info().workflow_id,
            )
            await self.end(CaseStatus.cancelled, SiteOutcome.withdrawn)
            return SiteOutcome.withdrawn
        await self.end(CaseStatus.closed, outcome)
        return outcome

    async def _connect(self) -> SiteOutcome:
        site = self._site
        assert site is not None
        context: dict[str, Any] = {
            "rollout": site.rollout.rollout_id,
            "county": site.county_code,
            "site_code": site.site_code,
        }
        await self._change(SiteState.sent_to_carrier, RANGE_SITE.key)
        while True:
            report, carrier = await self.ask(RANGE_SITE, context=context, scope=ALL_SCOPES)
            if report.feasible:
                break
            assert report.reason is not None
            reason = NOT_FEASIBLE_FA[report.reason]
            await self._change(
                SiteState.not_feasible,
                DECIDE_NOT_FEASIBLE.key,
                note_fa=f"فاقد امکان ارتباط: {reason}" + _more(report.note),
                actor=carrier,
            )
            choice, office = await self.ask(
                DECIDE_NOT_FEASIBLE, context={**context, "reason": reason, "note": report.note}
            )
            if choice.action == NotFeasibleAction.close:
                await self._change(
                    SiteState.closed_not_feasible,
                    "end:closed_not_feasible",
                    note_fa=f"بسته شد بدون امکان ارتباط: {reason}" + _more(choice.note),
                    actor=office,
                    outcome=SiteOutcome.closed_not_feasible,
                )
                return SiteOutcome.closed_not_feasible
            await self._range_again(choice, office)
        assert report.exchange is not None and report.link_type is not None
        await self._change(
            SiteState.feasible,
            INSTALL_LINE.key,
            note_fa=f"دارای امکان ارتباط: {LINK_TYPE_FA[report.link_type]}، مرکز {report.exchange}",
            actor=carrier,
            exchange=report.exchange,
            link_type=report.link_type,
        )
        area = exchange_scope(report.exchange)
        context["exchange"] = report.exchange
        _, carrier = await self.ask(
            INSTALL_LINE, context=context, scope=area, due_on=report.expected_on
        )
        await self._change(SiteState.line_installed, ENTER_IN_SHAMS.key, actor=carrier)
        entry, office = await self.ask(ENTER_IN_SHAMS, context=context)
        await self._change(
            SiteState.entered_in_shams,
            PROBE,
            note_fa=f"ثبت در شمس با شماره {entry.registration_number}",
            actor=office,
            router_host=entry.router_host,
            router_port=entry.router_port,
            registration_number=entry.registration_number,
        )
        while not await self._probe(entry):
            _, carrier = await self.ask(REPAIR_LINE, context=context, scope=area)
            await self._change(
                SiteState.entered_in_shams, PROBE, note_fa="مخابرات رفع خرابی را اعلام کرد"
            )
        await self._change(SiteState.connected, "end:connected", outcome=SiteOutcome.connected)
        return SiteOutcome.connected

    async def _range_again(self, choice: NotFeasibleChoice, office: str) -> None:
        """Another ranging: on a later day (after the exchange's upgrade), or for another link."""
        if choice.re_range_on is not None:
            await self._change(
                self._state,
                RANGE_SITE.key,
                note_fa=f"رانژه دوباره در {format_jalali(_morning(choice.re_range_on))}",
                actor=office,
            )
            await self.pause(_morning(choice.re_range_on) - workflow.now(), "re-range")
        link = choice.link_type if choice.action == NotFeasibleAction.other_link else None
        await self._change(
            SiteState.sent_to_carrier,
            RANGE_SITE.key,
            note_fa="ارسال دوباره به مخابرات"
            + (f" برای {LINK_TYPE_FA[link]}" if link is not None else ""),
            actor=office,
            link_type=link,
        )

    async def _probe(self, entry: ShamsEntry) -> bool:
        """The connection check in attempt windows, each one line of the site's history, until
        it connects (True) or the working days of the policy pass (False: a fault)."""
        site = self._site
        assert site is not None
        policy = site.rollout.policy
        give_up_at: datetime = await self.record(
            ShamsActivities.probe_deadline,
            ProbeDeadline(start=workflow.now(), working_days=policy.probe_give_up_working_days),
        )
        window = ProbeWindow(
            host=entry.router_host,
            port=entry.router_port,
            seconds=policy.probe_window_seconds,
            first_retry_seconds=policy.probe_first_retry_seconds,
            max_retry_seconds=policy.probe_max_retry_seconds,
        )
        attempt = 0
        while True:
            attempt += 1
            opened = workflow.now()
            result = await self._probe_window(window)
            span = f"{format_jalali(opened)} تا {format_jalali(workflow.now())}"
            if result.connected:
                await self._change(
                    SiteState.entered_in_shams, PROBE, note_fa=f"نوبت {attempt} ({span}): وصل شد"
                )
                return True
            gave_up = workflow.now() >= give_up_at
            await self._change(
                SiteState.entered_in_shams,
                REPAIR_LINE.key if gave_up else PROBE,
                note_fa=f"نوبت {attempt} ({span}): {result.probes} بار بی‌پاسخ"
                + ("؛ به مخابرات به عنوان خرابی ارجاع شد" if gave_up else ""),
            )
            if gave_up:
                return False
            pause = timedelta(minutes=policy.probe_pause_minutes)
            await self.pause(min(pause, give_up_at - workflow.now()), "next probe window")

    async def _probe_window(self, window: ProbeWindow) -> ProbeResult:
        """One window as a heartbeating activity, abandoned at once if the site is wound down."""
        heartbeat = window.max_retry_seconds + PROBE_TIMEOUT_SECONDS + 30
        probe = workflow.start_activity_method(
            ShamsActivities.probe,
            window,
            task_queue=waits_queue(workflow.info().task_queue),
            start_to_close_timeout=timedelta(seconds=window.seconds + heartbeat),
            heartbeat_timeout=timedelta(seconds=heartbeat),
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=5)),
        )
        await workflow.wait_condition(lambda: probe.done() or self._progress.cancel is not None)
        if not probe.done():
            probe.cancel()
            self._raise_if_cancelled()
        return await probe

    async def _change(self, state: SiteState, step: str, **change: Any) -> None:
        """The site's new state and its history line, keyed by this workflow's id."""
        site = self._site
        assert site is not None
        self._state = state
        self._changes += 1
        self.show(step)
        # The run in the key: a site sent again after it closed runs again under its id.
        info = workflow.info()
        await self.record(
            ShamsActivities.record_site,
            SiteChange(
                event_key=f"{info.workflow_id}:{info.run_id}:{self._changes}",
                rollout_id=site.rollout.rollout_id,
                county_code=site.county_code,
                site_code=site.site_code,
                state=state,
                step=step,
                **change,
            ),
        )


def _morning(day: date) -> datetime:
    """Eight in the morning, Tehran time, of `day`."""
    return datetime.combine(day, time(8), TEHRAN)


def _more(note: str | None) -> str:
    return f" — {note}" if note else ""
