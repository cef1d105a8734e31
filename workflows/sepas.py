"""Process 5 — بررسی و رفع مشکلات ارسال پرونده به سپاس: a hospital's report, SRM's errors, the
bank's explanation, the expert's classification, the hospital's, the HIS vendor's or the
ministry's answer, SRM's evidence, the bank's lesson, and the announcement.

Weeks of waiting (SRM data not imported yet, the ministry's Jira, the evidence of a fix) are
durable timers woken early by signals (an SRM import, a Jira webhook); polling stays the reliable
path. A waiting phase continues as new once the history grows, carrying `SepasResume`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.case_records import CaseRecordActivities
    from activities.jira import JiraActivities
    from activities.sepas import SepasActivities
    from db.sepas import his_vendor_scope, hospital_scope
    from domain.calendar import TEHRAN, format_jalali, to_jalali_date_str
    from domain.cases import CaseStatus, Role
    from domain.jira import (
        JiraAttachmentRequest,
        JiraCommentRequest,
        JiraIssue,
        JiraIssueQuery,
        JiraIssueRequest,
        JiraIssueState,
        errors_table,
    )
    from domain.records import StagesEntered
    from domain.sepas import CATEGORY_FA, BankSource, ErrorCategory, MatchKind, SrmGroup
    from domain.sepas_process import (
        REPORT_WINDOW_DAYS,
        VERDICT_EN,
        VERDICT_FA,
        BankLesson,
        BankOption,
        Classification,
        Evidence,
        EvidenceQuery,
        EvidenceState,
        HospitalFix,
        ImportReminder,
        JiraNews,
        LessonWrite,
        NoticeKind,
        Phase,
        SepasChange,
        SepasFacts,
        SepasNotice,
        SepasOutcome,
        SepasResume,
        SepasStart,
        SrmLook,
        SrmNews,
        SrmQuery,
        VendorFix,
        Verdict,
        groups_context,
        message_keys,
        srm_extract,
    )
    from domain.tasks import CancelCaseInput
    from workflows.human_task import RECORD_RETRY, CaseCancelled, CaseWorkflow, Step

CLASSIFY = Step(
    key="classify",
    title_fa="تفسیر و دسته‌بندی خطا",
    title_en="Interpret and classify the errors",
    role=Role.sepas_expert,
    decision=Classification,
    sla_working_days=1,
)
HOSPITAL_FIX = Step(
    key="hospital_fix",
    title_fa="رفع خطا در بیمارستان",
    title_en="Correct the data at the hospital",
    role=Role.hospital_it,
    decision=HospitalFix,
    sla_working_days=3,
    escalate_to=Role.sepas_expert,
    remind_working_days_before=1,
    escalate_after_working_days=2,
)
VENDOR_FIX = Step(
    key="vendor_fix",
    title_fa="رفع خطا توسط شرکت پشتیبانی HIS",
    title_en="Fix the HIS software (vendor)",
    role=Role.his_vendor,
    decision=VendorFix,
    sla_working_days=5,
    escalate_to=Role.sepas_expert,
    remind_working_days_before=1,
    escalate_after_working_days=2,
)
LEARN = Step(
    key="learn",
    title_fa="افزودن پاسخ به بانک خطا",
    title_en="Add the answer to the error bank",
    role=Role.sepas_expert,
    decision=BankLesson,
    sla_working_days=2,
)

ANSWER_WORKING_DAYS = 10
"""The promise on the receipt; an answer that needs the ministry may take longer."""
NOTICE_TIMEOUT = timedelta(seconds=30)
JIRA_TIMEOUT = timedelta(minutes=2)


def _at_start_of(day: Any) -> datetime:
    return datetime.combine(day, time(), TEHRAN)


@workflow.defn
class SepasWorkflow(CaseWorkflow):
    def __init__(self) -> None:
        super().__init__()
        self._state: SepasResume | None = None
        self._start: SepasStart | None = None
        self._srm_news = 0
        self._jira_news = 0

    @workflow.signal
    def srm_imported(self, news: SrmNews) -> None:
        """An SRM import added data: a case waiting on SRM looks again now."""
        self._srm_news += 1

    @workflow.signal
    def jira_changed(self, news: JiraNews) -> None:
        """The ministry's Jira said the case's issue changed: it is read now, not at the next
        poll."""
        self._jira_news += 1

    @workflow.run
    async def run(self, start: SepasStart) -> str:
        self.begin_case(start.case_id, start.tracking_code)
        self._start = start
        try:
            if start.resume is None:
                facts: SepasFacts = await self.record(
                    SepasActivities.look_up_hospital, start.case_id
                )
                self._state = SepasResume(phase=Phase.srm, facts=facts)
            else:
                self._state = start.resume
                self._progress.task_numbers = dict(start.resume.task_numbers)
            outcome, detail = await self._phases(start, self._state)
        except CaseCancelled as cancelled:
            await self._cancelled(cancelled.request)
            return SepasOutcome.cancelled
        await self.finish(CaseStatus.closed, outcome, detail)
        return outcome

    async def _phases(
        self, start: SepasStart, state: SepasResume
    ) -> tuple[SepasOutcome, dict[str, Any]]:
        while True:
            match state.phase:
                case Phase.srm:
                    await self._read_srm(start, state)
                case Phase.classify:
                    if await self._classify(start, state) is Verdict.no_error:
                        return await self._no_error(state)
                case Phase.hospital:
                    await self._hospital(start, state)
                case Phase.vendor:
                    await self._vendor(start, state)
                case Phase.jira:
                    await self._jira(start, state)
                case Phase.learn:
                    await self._learn(state)
                case Phase.evidence:
                    await self._evidence(start, state)
                case Phase.announce:
                    return await self._announce(state)

    # بررسی سامانه اس آر ام
    async def _read_srm(self, start: SepasStart, state: SepasResume) -> None:
        form = start.form
        until = start.submitted_at
        since = max(
            _at_start_of(form.since), until - timedelta(days=REPORT_WINDOW_DAYS)
        ).astimezone(until.tzinfo)
        while True:
            seen = self._srm_news
            look: SrmLook = await self.record(
                SepasActivities.look_at_srm,
                SrmQuery(
                    case_id=start.case_id,
                    hospital_code=form.hospital_code,
                    since=since,
                    until=until,
                    error_text=form.error_text,
                ),
            )
            if look.covered or look.groups:
                break
            if self._progress.step_key != "srm_wait":
                await self._show_stage(
                    "srm_wait",
                    "در انتظار داده سامانه اس آر ام",
                    "Waiting for SRM data of the reported days",
                )
            now = workflow.now()
            if state.next_reminder_at is None or now >= state.next_reminder_at:
                state.reminders += 1
                state.next_reminder_at = now + timedelta(
                    hours=state.facts.policy.import_reminder_hours
                )
                await self.call_outside(
                    SepasActivities.remind_import,
                    ImportReminder(
                        case_id=start.case_id, number=state.reminders, since=since, until=until
                    ),
                    start_to_close_timeout=NOTICE_TIMEOUT,
                    retry_policy=RECORD_RETRY,
                )
            await self._continue_as_new_if_due(state)
            await self._wait_for_srm(seen, state.facts.policy.srm_check_hours)
        state.look = look
        occurrences = sum(g.count for g in look.groups)
        await self._line(
            state,
            f"خطاهای اس آر ام بررسی شد: {len(look.groups)} نوع پیام، {occurrences} مورد",
            f"SRM read: {len(look.groups)} messages, {occurrences} occurrences",
            look=look,
        )
        state.phase = Phase.classify

    # تفسیر و دسته‌بندی خطا
    async def _classify(self, start: SepasStart, state: SepasResume) -> Verdict:
        look = state.look
        assert look is not None
        hospital = state.facts.hospital
        entries = {e.entry_id: e for e in look.entries}
        best = _best_entry(look, entries)
        verdicts = [
            v for v in Verdict if v is not Verdict.software or hospital.his_vendor_id is not None
        ]
        context: dict[str, Any] = {
            **self._case_context(start, state),
            "groups": groups_context(look.groups, entries),
            "srm_data_until": format_jalali(look.data_until) if look.data_until else None,
            "bank_entries": {
                str(e.entry_id): f"#{e.entry_id} {e.message} — {CATEGORY_FA[e.category]}"
                for e in entries.values()
            },
            "best_cause": best.cause_fa if best else None,
            "best_remedy": best.remedy_fa if best else None,
            "rounds": state.rounds,
        }
        if state.evidence is not None:
            context["evidence_groups"] = groups_context(state.evidence.groups, entries)
        prefill: dict[str, Any] = {
            "verdict": (best.category.value if best is not None else Verdict.unknown.value)
        }
        if best is not None:
            prefill["bank_entry_id"] = str(best.entry_id)
        options = {
            "verdict": [v.value for v in verdicts],
            "bank_entry_id": [str(i) for i in entries],
        }
        decision, expert = await self.ask(
            CLASSIFY, context=context, options=options, prefill=prefill
        )
        verdict = decision.verdict
        entry_id = int(decision.bank_entry_id) if decision.bank_entry_id else None
        state.verdict, state.bank_entry_id, state.note = verdict, entry_id, decision.note
        state.evidence = None
        await self._line(
            state,
            f"دسته‌بندی کارشناس: {VERDICT_FA[verdict]}"
            + (f" (بانک خطا #{entry_id})" if entry_id else ""),
            f"Classified by the expert: {VERDICT_EN[verdict]}"
            + (f" (error bank #{entry_id})" if entry_id else ""),
            actor=expert,
            verdict=verdict,
            bank_entry_id=entry_id,
            count_match=entry_id is not None,
        )
        state.phase = {
            Verdict.hospital: Phase.hospital,
            Verdict.software: Phase.vendor,
            Verdict.no_error: Phase.announce,
        }.get(verdict, Phase.jira)
        return verdict

    # رفع خطا توسط بیمارستان
    async def _hospital(self, start: SepasStart, state: SepasResume) -> None:
        entry = self._chosen_entry(state)
        await self._tell_reporter(
            NoticeKind.received,
            "خطا از نوع داده‌های بیمارستان است؛ راه رفع آن در کارتابل واحد فناوری اطلاعات"
            " بیمارستان است.",
            state,
        )
        fix, who = await self.ask(
            HOSPITAL_FIX,
            context={
                **self._case_context(start, state),
                "groups": groups_context(_groups(state), _entries(state)),
                "cause": entry.cause_fa if entry else None,
                "remedy": entry.remedy_fa if entry else None,
                "expert_note": state.note,
            },
            scope=hospital_scope(state.facts.hospital.code),
        )
        if not fix.fixed:
            await self._back_to_expert(
                state,
                f"بیمارستان نتوانست خطا را رفع کند: {fix.reason}",
                f"The hospital could not correct it: {fix.reason}",
                who,
            )
            return
        await self._fixed(
            state,
            answer=fix.what_was_done or "",
            source=state.facts.hospital.name,
            actor=who,
            text_fa=f"بیمارستان خطا را رفع کرد: {fix.what_was_done}",
            text_en=f"The hospital corrected it: {fix.what_was_done}",
        )

    # رفع خطا توسط شرکت پشتیبانی
    async def _vendor(self, start: SepasStart, state: SepasResume) -> None:
        hospital = state.facts.hospital
        assert hospital.his_vendor_id is not None
        entry = self._chosen_entry(state)
        await self.call_outside(
            SepasActivities.notify,
            SepasNotice(case_id=start.case_id, kind=NoticeKind.vendor_job, number=state.rounds + 1),
            start_to_close_timeout=NOTICE_TIMEOUT,
            retry_policy=RECORD_RETRY,
        )
        fix, who = await self.ask(
            VENDOR_FIX,
            context={
                "tracking_code": start.tracking_code,
                "hospital": f"{hospital.name} ({hospital.code})",
                "his_product": hospital.his_product,
                "groups": groups_context(_groups(state), _entries(state)),
                "cause": entry.cause_fa if entry else None,
                "remedy": entry.remedy_fa if entry else None,
                "expert_note": state.note,
            },
            scope=his_vendor_scope(hospital.his_vendor_id),
        )
        if not fix.fixed:
            await self._back_to_expert(
                state,
                f"شرکت {hospital.his_vendor_name}: خطا رفع نشد — {fix.reason}",
                f"{hospital.his_vendor_name}: not fixed — {fix.reason}",
                who,
            )
            return
        await self._fixed(
            state,
            answer=f"{fix.fix} (نسخه {fix.version})",
            source=hospital.his_vendor_name or "",
            actor=who,
            text_fa=(
                f"شرکت {hospital.his_vendor_name} خطا را رفع کرد: {fix.fix} — نسخه {fix.version}"
            ),
            text_en=f"{hospital.his_vendor_name} fixed it: {fix.fix} — version {fix.version}",
            fix_version=fix.version,
        )

    # سامانه وزارتی جیرا
    async def _jira(self, start: SepasStart, state: SepasResume) -> None:
        await self._show_stage(
            "jira", "پیگیری در سامانه وزارتی جیرا", "Following up in the ministry's Jira"
        )
        if state.issue is None:
            state.issue = await self._open_issue(start, state)
            state.jira_round = state.rounds
        elif state.jira_round != state.rounds:
            await self._raise_again(state, state.issue)
        issue = state.issue
        while True:
            seen = self._jira_news
            news: JiraIssueState = await self.call_outside(
                JiraActivities.read_ministry_issue,
                JiraIssueQuery(issue_key=issue.key, comments_after=state.last_comment_id),
                start_to_close_timeout=JIRA_TIMEOUT,
                retry_policy=RECORD_RETRY,
            )
            await self._mirror(state, issue, news)
            if news.done and not state.awaiting_reply:
                break
            await self._continue_as_new_if_due(state)
            await self._wait_for_jira(seen, state.facts.policy.jira_poll_hours, issue.key)
        resolution = news.resolution or news.status
        await self._fixed(
            state,
            answer=state.reply or resolution,
            source=issue.url,
            actor=None,
            text_fa=f"موضوع {issue.key} در جیرای وزارت بسته شد: {resolution}",
            text_en=f"{issue.key} was resolved in the ministry's Jira: {resolution}",
        )

    async def _open_issue(self, start: SepasStart, state: SepasResume) -> JiraIssue:
        look = state.look
        assert look is not None
        hospital = state.facts.hospital
        groups = _groups(state)
        first = groups[0].message if groups else (start.form.error_text or start.form.what_fails)
        issue: JiraIssue = await self.call_outside(
            JiraActivities.open_ministry_issue,
            JiraIssueRequest(
                tracking_code=start.tracking_code,
                summary=f"SEPAS {hospital.code}: {first}"[:255],
                description=(
                    f"Hospital: {hospital.name} ({hospital.code}), HIS: {hospital.his_product}\n"
                    f"Reported: {start.form.what_fails}\n"
                    f"Peygir case: {start.tracking_code}\n\n{errors_table(groups)}"
                ),
            ),
            start_to_close_timeout=JIRA_TIMEOUT,
            retry_policy=RECORD_RETRY,
        )
        await self.call_outside(
            JiraActivities.attach_to_ministry_issue,
            JiraAttachmentRequest(
                issue_key=issue.key,
                file_name=f"srm-{start.tracking_code}.csv",
                content=srm_extract(groups),
            ),
            start_to_close_timeout=JIRA_TIMEOUT,
            retry_policy=RECORD_RETRY,
        )
        await self._line(
            state,
            f"موضوع {issue.key} در جیرای وزارت ثبت شد",
            f"Issue {issue.key} opened in the ministry's Jira",
            jira_key=issue.key,
            jira_url=issue.url,
        )
        await self._tell_reporter(
            NoticeKind.received,
            f"خطا برای بررسی به وزارت (جیرا {issue.key}) ارجاع شد.",
            state,
        )
        return issue

    async def _raise_again(self, state: SepasResume, issue: JiraIssue) -> None:
        """The messages came back after the ministry's fix: the same issue (its label is the
        case's) is told the new counts, and followed until the ministry answers again."""
        counts = ", ".join(f"{g.message} ×{g.count}" for g in _groups(state))
        comment = await self.call_outside(
            JiraActivities.comment_on_ministry_issue,
            JiraCommentRequest(
                issue_key=issue.key,
                body=f"Peygir {self._tracking_code}, round {state.rounds + 1}: SRM still shows"
                f" these messages after the fix: {counts}",
            ),
            start_to_close_timeout=JIRA_TIMEOUT,
            retry_policy=RECORD_RETRY,
        )
        state.last_comment_id = max(state.last_comment_id or 0, comment.id)
        state.jira_round = state.rounds
        state.awaiting_reply = True
        await self._line(
            state,
            f"خطا دوباره در جیرا ({issue.key}) مطرح شد",
            f"Raised again in Jira ({issue.key})",
        )

    async def _mirror(self, state: SepasResume, issue: JiraIssue, news: JiraIssueState) -> None:
        """Each new comment once (the last mirrored id is carried), and each status change."""
        if news.comments:
            state.awaiting_reply = False
        for comment in news.comments:
            await self._line(
                state,
                f"جیرا {issue.key} — {comment.author}: {comment.body}",
                f"Jira {issue.key} — {comment.author}: {comment.body}",
                key=f"jira:{issue.key}:comment:{comment.id}",
            )
            state.last_comment_id = comment.id
            state.reply = comment.body
        if news.status != state.jira_status:
            state.jira_status = news.status
            await self._line(
                state,
                f"وضعیت {issue.key} در جیرا: {news.status}",
                f"{issue.key} in Jira: {news.status}",
                jira_status=news.status,
            )

    # آموزش بانک خطا
    async def _learn(self, state: SepasResume) -> None:
        look = state.look
        assert look is not None
        groups = _groups(state)
        from_jira = state.issue is not None
        # The message the bank could not explain (a similar entry is only a guess).
        unexplained = [g for g in groups if g.match is None or g.match.kind is MatchKind.similar]
        first = (unexplained or groups)[:1]
        message = first[0].message if first else (self._form_error_text() or "")
        if state.verdict is not None and state.verdict.value in ErrorCategory.__members__:
            category = ErrorCategory(state.verdict.value)
        else:
            category = ErrorCategory.structural if from_jira else ErrorCategory.software
        prefill: dict[str, Any] = {
            "message": message,
            "category": category.value,
            "remedy_fa": state.reply or state.answer_fa or "",
            "source": (BankSource.jira if from_jira else BankSource.expert).value,
        }
        if state.issue is not None:
            prefill["jira_key"] = state.issue.key
        entries = {str(e.entry_id): f"#{e.entry_id} {e.message}" for e in look.entries}
        lesson, expert = await self.ask(
            LEARN,
            context={
                "tracking_code": self._tracking_code,
                "answer": state.answer_fa,
                "answer_source": state.answer_source,
                "groups": groups_context(groups, _entries(state)),
                "bank_entries": entries,
            },
            options={"entry_id": list(entries)},
            prefill=prefill,
        )
        state.events += 1
        entry_id = await self.record(
            SepasActivities.learn,
            LessonWrite(
                case_id=self._case_id,
                event_key=f"{workflow.info().workflow_id}:sepas:{state.events}",
                actor=expert,
                entry_id=int(lesson.entry_id) if lesson.entry_id else None,
                text=lesson,
            ),
        )
        state.bank_entry_id = entry_id
        state.phase = Phase.announce

    # پیگیری تا حصول نتیجه: SRM's evidence
    async def _evidence(self, start: SepasStart, state: SepasResume) -> None:
        assert state.fixed_at is not None
        keys = message_keys(_groups(state))
        if not keys:  # SRM showed nothing to watch: the answer stands on its own
            state.phase = Phase.announce
            return
        await self._show_stage(
            "evidence", "بررسی رفع خطا در سامانه اس آر ام", "Checking SRM for the fix"
        )
        while True:
            seen = self._srm_news
            evidence: Evidence = await self.record(
                SepasActivities.check_evidence,
                EvidenceQuery(
                    case_id=start.case_id,
                    hospital_code=start.form.hospital_code,
                    message_keys=keys,
                    fixed_at=state.fixed_at,
                    clean_days=state.facts.policy.clean_days,
                ),
            )
            if evidence.state is not EvidenceState.waiting:
                break
            await self._continue_as_new_if_due(state)
            await self._wait_for_srm(seen, state.facts.policy.srm_check_hours)
        state.evidence = evidence
        if evidence.state is EvidenceState.clean:
            assert evidence.data_until is not None
            await self._line(
                state,
                f"سامانه اس آر ام تا {format_jalali(evidence.data_until)} خطاهای پرونده را"
                f" {state.facts.policy.clean_days} روز نشان نداد",
                f"SRM shows none of the case's messages for {state.facts.policy.clean_days} days",
                evidence=evidence,
            )
            # An error the bank did not explain, fixed for sure now: the bank learns the answer.
            learns = state.bank_entry_id is None and state.verdict is not Verdict.hospital
            state.phase = Phase.learn if learns else Phase.announce
            return
        counts = sum(g.count for g in evidence.groups)
        await self._back_to_expert(
            state,
            f"خطاها پس از رفع هنوز در اس آر ام دیده می‌شوند ({counts} مورد)؛ برگشت به کارشناس",
            f"The messages still appear in SRM after the fix ({counts}); back to the expert",
            None,
            evidence=evidence,
        )

    # اعلام نتیجه
    async def _announce(self, state: SepasResume) -> tuple[SepasOutcome, dict[str, Any]]:
        entry = self._chosen_entry(state)
        evidence = state.evidence
        detail = {
            "verdict": VERDICT_FA[state.verdict] if state.verdict else None,
            "cause": entry.cause_fa if entry else state.note,
            "done": state.answer_fa,
            "evidence": (
                f"بدون خطا در {state.facts.policy.clean_days} روز تا"
                f" {format_jalali(evidence.data_until)}"
                if evidence is not None and evidence.data_until is not None
                else None
            ),
            "jira": state.issue.url if state.issue is not None else None,
        }
        await self._tell_reporter(
            NoticeKind.resolved, f"{detail['cause'] or ''} {detail['done'] or ''}".strip(), state
        )
        if state.issue is not None and evidence is not None:
            await self.call_outside(
                JiraActivities.comment_on_ministry_issue,
                JiraCommentRequest(
                    issue_key=state.issue.key,
                    body=(
                        f"Peygir {self._tracking_code}: SRM shows none of these messages for"
                        f" {state.facts.policy.clean_days} days up to"
                        f" {evidence.data_until.isoformat() if evidence.data_until else '-'}."
                    ),
                ),
                start_to_close_timeout=JIRA_TIMEOUT,
                retry_policy=RECORD_RETRY,
            )
        return SepasOutcome.resolved, {k: v for k, v in detail.items() if v}

    async def _no_error(self, state: SepasResume) -> tuple[SepasOutcome, dict[str, Any]]:
        await self._tell_reporter(NoticeKind.no_error, state.note or "", state)
        return SepasOutcome.no_error, {
            "verdict": VERDICT_FA[Verdict.no_error],
            "cause": state.note,
        }

    async def _cancelled(self, request: CancelCaseInput) -> None:
        state = self._state
        reason = request.reason
        if state is not None:
            await self._line(
                state,
                "لغو شد: " + reason,
                "Cancelled: " + reason,
                actor=request.actor.username,
            )
            await self._tell_reporter(NoticeKind.cancelled, reason, state)
        await self.finish(
            CaseStatus.cancelled,
            SepasOutcome.cancelled,
            {"reason": reason, "by": request.actor.username},
        )

    # ---- shared by the phases

    async def _fixed(
        self,
        state: SepasResume,
        *,
        answer: str,
        source: str,
        actor: str | None,
        text_fa: str,
        text_en: str,
        fix_version: str | None = None,
    ) -> None:
        """An answer says it is fixed: SRM's evidence is read from now."""
        state.answer_fa, state.answer_source = answer, source
        state.fixed_at = workflow.now()
        await self._line(
            state,
            text_fa,
            text_en,
            actor=actor,
            answer_fa=answer,
            answer_source=source,
            fix_version=fix_version,
            fixed_at=state.fixed_at,
        )
        state.phase = Phase.evidence

    async def _back_to_expert(
        self,
        state: SepasResume,
        text_fa: str,
        text_en: str,
        actor: str | None,
        evidence: Evidence | None = None,
    ) -> None:
        state.rounds += 1
        await self._line(
            state, text_fa, text_en, actor=actor, rounds=state.rounds, evidence=evidence
        )
        state.phase = Phase.classify

    async def _line(
        self,
        state: SepasResume,
        text_fa: str,
        text_en: str,
        *,
        key: str | None = None,
        actor: str | None = None,
        **change: Any,
    ) -> None:
        """A change to the case's SEPAS record with its line on the timeline (public)."""
        if key is None:
            state.events += 1
            key = f"sepas:{state.events}"
        await self.record(
            SepasActivities.record_sepas,
            SepasChange(
                case_id=self._case_id,
                event_key=f"{workflow.info().workflow_id}:{key}",
                text_fa=text_fa,
                text_en=text_en,
                actor=actor,
                **change,
            ),
        )

    async def _tell_reporter(self, kind: NoticeKind, detail: str, state: SepasResume) -> None:
        await self.call_outside(
            SepasActivities.notify,
            SepasNotice(case_id=self._case_id, kind=kind, number=state.rounds + 1, detail=detail),
            start_to_close_timeout=NOTICE_TIMEOUT,
            retry_policy=RECORD_RETRY,
        )

    def _chosen_entry(self, state: SepasResume) -> BankOption | None:
        if state.look is None or state.bank_entry_id is None:
            return None
        return next((e for e in state.look.entries if e.entry_id == state.bank_entry_id), None)

    def _case_context(self, start: SepasStart, state: SepasResume) -> dict[str, Any]:
        form = start.form
        hospital = state.facts.hospital
        return {
            "tracking_code": start.tracking_code,
            "hospital": f"{hospital.name} ({hospital.code})",
            "his_product": hospital.his_product,
            "his_vendor": hospital.his_vendor_name,
            "what_fails": form.what_fails,
            "since": to_jalali_date_str(form.since),
            "sample_record_ids": ", ".join(form.sample_record_ids),
            "error_text": form.error_text,
        }

    def _form_error_text(self) -> str | None:
        return self._start.form.error_text if self._start is not None else None

    async def _show_stage(self, key: str, title_fa: str, title_en: str) -> None:
        """Enter a stage the case will wait in, and write it now: the case page shows it."""
        self.enter_stage(key, title_fa, title_en)
        await self.record(
            CaseRecordActivities.record_stages,
            StagesEntered(case_id=self._case_id, stages=self._take_stages()),
        )

    async def _wait_for_srm(self, seen: int, hours: int) -> None:
        await self._wait(lambda: self._srm_news > seen, timedelta(hours=hours), "SRM import")

    async def _wait_for_jira(self, seen: int, hours: int, key: str) -> None:
        await self._wait(lambda: self._jira_news > seen, timedelta(hours=hours), f"Jira {key}")

    async def _wait(self, news: Callable[[], bool], duration: timedelta, summary: str) -> None:
        """Until `news()`, the duration, or a cancel (which raises CaseCancelled)."""
        try:
            await workflow.wait_condition(
                lambda: news() or self._progress.cancel is not None,
                timeout=duration,
                timeout_summary=summary,
            )
        except TimeoutError:
            pass
        self._raise_if_cancelled()

    async def _continue_as_new_if_due(self, state: SepasResume) -> None:
        """A long wait keeps its history flat: Temporal's suggestion, or the policy's bound."""
        info = workflow.info()
        if not (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= state.facts.policy.continue_as_new_after_events
        ):
            return
        assert self._start is not None
        await workflow.wait_condition(workflow.all_handlers_finished)
        state.task_numbers = dict(self._progress.task_numbers)
        workflow.continue_as_new(self._start.model_copy(update={"resume": state}))


def _entries(state: SepasResume) -> dict[int, BankOption]:
    return {e.entry_id: e for e in state.look.entries} if state.look is not None else {}


def _groups(state: SepasResume) -> list[SrmGroup]:
    """The messages the case is about: the latest evidence's if it came back, else SRM's."""
    if state.evidence is not None and state.evidence.groups:
        return list(state.evidence.groups)
    return list(state.look.groups) if state.look is not None else []


def _best_entry(look: SrmLook, entries: dict[int, BankOption]) -> BankOption | None:
    """The entry the bank is surest of: the most frequent message's exact or pattern match,
    else the reported text's, else the closest similar one."""
    matches = [g.match for g in look.groups if g.match is not None]
    if look.reported_match is not None:
        matches.append(look.reported_match)
    sure = [m for m in matches if m.kind is not MatchKind.similar]
    chosen = sure[0] if sure else (max(matches, key=lambda m: m.score) if matches else None)
    return entries.get(chosen.entry_id) if chosen is not None else None
