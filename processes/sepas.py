"""Process 5 — بررسی و رفع مشکلات ارسال پرونده به سپاس: a hospital's IT unit reports that its
records do not reach SEPAS; the university's SEPAS expert finds the cause and follows the fix."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import APIRouter
from sqlmodel import Session, select

from db.sepas import (
    HOSPITAL_SCOPE,
    ErrorBankEntry,
    HisVendor,
    Hospital,
    SepasCase,
    SrmError,
    SrmImport,
    hospital_scope,
)
from domain.cases import Role
from domain.sepas import (
    CATEGORY_EN,
    CATEGORY_FA,
    SOURCE_EN,
    SOURCE_FA,
    BankSource,
    ErrorCategory,
)
from domain.sepas_process import (
    OUTCOME_EN,
    OUTCOME_FA,
    VERDICT_EN,
    VERDICT_FA,
    SepasOutcome,
    SepasReportForm,
    SepasStart,
    Verdict,
)
from processes.declaration import AnswerField, Process, Requester, Text, WorkerResources
from workflows.sepas import ANSWER_WORKING_DAYS, SepasWorkflow


def _requester(form: SepasReportForm) -> Requester:
    return Requester(
        name=form.reporter_name,
        identity=form.mobile,
        contact=form.mobile,
        unit=f"بیمارستان {form.hospital_code}",
    )


def _hospital_known(session: Session, form: SepasReportForm) -> list[tuple[str, str]]:
    active = session.exec(
        select(Hospital.active).where(Hospital.code == form.hospital_code)
    ).first()
    return [] if active else [("hospital_code", "hospital_unknown")]


def _own_hospital(scopes: Sequence[str]) -> dict[str, str]:
    """A hospital's IT unit reports for its own hospital: its code, when it holds one."""
    codes = [s.removeprefix(HOSPITAL_SCOPE) for s in scopes if s.startswith(HOSPITAL_SCOPE)]
    return {"hospital_code": codes[0]} if len(codes) == 1 else {}


def _activities(worker: WorkerResources) -> Sequence[Callable[..., Any]]:
    from activities.jira import JiraActivities, JiraClient
    from activities.sepas import SepasActivities

    sepas = SepasActivities(worker.engine, worker.settings, worker.sms, worker.email)
    jira = JiraActivities(JiraClient.from_settings(worker.settings))
    return [
        sepas.look_up_hospital,
        sepas.look_at_srm,
        sepas.record_sepas,
        sepas.check_evidence,
        sepas.learn,
        sepas.notify,
        sepas.remind_import,
        jira.open_ministry_issue,
        jira.attach_to_ministry_issue,
        jira.comment_on_ministry_issue,
        jira.read_ministry_issue,
    ]


def _routes() -> Sequence[APIRouter]:
    # Imported when the API asks: the worker, which reads this declaration too, loads no API.
    from api.sepas import sepas_routes

    return sepas_routes()


SEPAS: Process[SepasReportForm] = Process(
    kind="sepas_error",
    title=Text("گزارش مشکل ارسال پرونده به سپاس", "Report a SEPAS record-sending problem"),
    description=Text(
        "خطاهای ارسال پرونده الکترونیک سلامت بیمارستان به سپاس: بررسی در سامانه اس آر ام، بانک"
        " خطا، ارجاع به بیمارستان، شرکت پشتیبانی HIS یا جیرای وزارت و پیگیری تا رفع",
        "A hospital's health records that SEPAS refuses: read in SRM, explained by the error"
        " bank, sent to the hospital, its HIS vendor or the ministry's Jira, and followed until"
        " fixed",
    ),
    workflow=SepasWorkflow,
    workflow_input=SepasStart,
    start_form=SepasReportForm,
    form_table=SepasCase,
    tables=(SepasCase, Hospital, HisVendor, ErrorBankEntry, SrmImport, SrmError),
    requester=_requester,
    activities=_activities,
    routes=_routes,
    workflow_id_prefix="sepas",
    api_path="/api/sepas-reports",
    web_path="/sepas/new",
    answer_working_days=ANSWER_WORKING_DAYS,
    starters=frozenset({Role.hospital_it, Role.sepas_expert}),
    scoped_starters=frozenset({Role.hospital_it}),
    case_scope=lambda form: hospital_scope(form.hospital_code),
    scope_field="hospital_code",
    starter_defaults=_own_hospital,
    overseers=frozenset({Role.sepas_expert}),
    start_check=_hospital_known,
    identity_field="mobile",
    answer_fields=(
        AnswerField("verdict", Text("نوع خطا", "Kind of error")),
        AnswerField("cause", Text("علت", "Cause")),
        AnswerField("done", Text("اقدام انجام‌شده", "What was done")),
        AnswerField("evidence", Text("تایید سامانه اس آر ام", "SRM's confirmation")),
        AnswerField("jira", Text("موضوع در جیرای وزارت", "The ministry's Jira issue"), True),
    ),
    done_text=Text("نتیجه بررسی پرونده:", "The result:"),
    outcome_texts={o.value: Text(OUTCOME_FA[o], OUTCOME_EN[o]) for o in SepasOutcome},
    labels={
        "hospital_code": Text("کد بیمارستان (سپاس)", "Hospital code (SEPAS)"),
        "reporter_name": Text("نام گزارش‌دهنده", "Reporter's name"),
        "mobile": Text("تلفن همراه", "Mobile"),
        "email": Text("ایمیل (اختیاری)", "E-mail (optional)"),
        "what_fails": Text("چه چیزی ارسال نمی‌شود", "What fails"),
        "since": Text("از چه تاریخی", "Since when"),
        "sample_record_ids": Text("شناسه چند پرونده نمونه", "Sample record ids"),
        "error_text": Text("متن خطا (در صورت وجود)", "The error text, if you have it"),
        "hospital": Text("بیمارستان", "Hospital"),
        "his_product": Text("نرم‌افزار HIS", "HIS product"),
        "his_vendor": Text("شرکت پشتیبانی HIS", "HIS vendor"),
        "groups": Text("خطاهای اس آر ام (به تفکیک پیام)", "SRM errors by message"),
        "evidence_groups": Text("خطاهای دیده‌شده پس از رفع", "Errors seen after the fix"),
        "message": Text("پیام خطا", "Message"),
        "count": Text("تعداد", "Count"),
        "records": Text("پرونده‌ها", "Records"),
        "sample_records": Text("پرونده‌های نمونه", "Sample records"),
        "match": Text("تطبیق با بانک خطا (امتیاز)", "Bank match (score)"),
        "category": Text("دسته خطا", "Category"),
        "srm_data_until": Text("داده اس آر ام تا", "SRM data until"),
        "bank_entries": Text("مدخل‌های بانک خطا", "Error bank entries"),
        "best_cause": Text("علت (به گفته بانک خطا)", "Cause (the bank's)"),
        "best_remedy": Text("راه رفع (به گفته بانک خطا)", "Remedy (the bank's)"),
        "cause": Text("علت", "Cause"),
        "remedy": Text("راه رفع", "Remedy"),
        "expert_note": Text("توضیح کارشناس سپاس", "The SEPAS expert's note"),
        "rounds": Text("دفعات برگشت به کارشناس", "Times back to the expert"),
        "answer": Text("پاسخ", "The answer"),
        "answer_source": Text("منبع پاسخ", "Where the answer came from"),
        "verdict": Text("دسته‌بندی", "Classification"),
        "bank_entry_id": Text("مدخل بانک خطا", "Error bank entry"),
        "note": Text("توضیحات", "Note"),
        "fixed": Text("رفع شد؟", "Fixed?"),
        "what_was_done": Text("اقدام انجام‌شده", "What was done"),
        "reason": Text("دلیل", "Reason"),
        "fix": Text("شرح اصلاح", "The fix"),
        "version": Text("نسخه دارای اصلاح", "Version with the fix"),
        "entry_id": Text("به‌روزرسانی این مدخل (به جای مدخل تازه)", "Update this entry instead"),
        "is_pattern": Text("الگو است (با جای‌خالی)", "A pattern (with placeholders)"),
        "cause_fa": Text("علت (فارسی)", "Cause (Persian)"),
        "cause_en": Text("علت (انگلیسی)", "Cause (English)"),
        "remedy_fa": Text("راه رفع (فارسی)", "Remedy (Persian)"),
        "remedy_en": Text("راه رفع (انگلیسی)", "Remedy (English)"),
        "source": Text("منبع", "Source"),
        "jira_key": Text("کلید موضوع جیرا", "Jira issue key"),
        **{f"verdict.{v.value}": Text(VERDICT_FA[v], VERDICT_EN[v]) for v in Verdict},
        **{f"category.{c.value}": Text(CATEGORY_FA[c], CATEGORY_EN[c]) for c in ErrorCategory},
        **{f"outcome.{o.value}": Text(OUTCOME_FA[o], OUTCOME_EN[o]) for o in SepasOutcome},
        **{f"source.{s.value}": Text(SOURCE_FA[s], SOURCE_EN[s]) for s in BankSource},
    },
    receipt_steps=(
        Text(
            "خطاهای بیمارستان در سامانه اس آر ام بررسی و با بانک خطا تطبیق داده می‌شود.",
            "The hospital's errors are read in SRM and matched against the error bank.",
        ),
        Text(
            "کارشناس سپاس خطا را دسته‌بندی و به بیمارستان، شرکت پشتیبانی یا وزارت ارجاع می‌دهد.",
            "The SEPAS expert classifies it and sends it to the hospital, the HIS vendor or the"
            " ministry.",
        ),
        Text(
            "پرونده تا رفع خطا و تایید آن در اس آر ام پیگیری و نتیجه با پیامک اعلام می‌شود.",
            "The case is followed until SRM confirms the fix; the result is sent by SMS.",
        ),
    ),
)
