"""Process 1 — ایجاد ایمیل دانشگاهی: the public asks for a university mailbox."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from db.models import CredentialReveal, EmailRequest, MailAccount
from domain.email_account import EmailAccountInput, EmailRequestForm
from processes.declaration import AnswerField, Process, Requester, Text, WorkerResources
from workflows.email_account import ANSWER_WORKING_DAYS, EmailAccountWorkflow


def _requester(form: EmailRequestForm) -> Requester:
    return Requester(
        name=form.full_name, identity=form.national_code, contact=form.mobile, unit=form.unit
    )


def _activities(worker: WorkerResources) -> Sequence[Callable[..., Any]]:
    # Imported here: only the worker loads the directory's client library.
    from activities.email_account import EmailAccountActivities
    from activities.mail_directory import make_mail_directory

    account = EmailAccountActivities(
        worker.engine,
        worker.settings,
        make_mail_directory(worker.settings, worker.engine),
        worker.sms,
        worker.email,
    )
    return [
        account.check_request,
        account.check_username,
        account.create_mailbox,
        account.send_answer,
    ]


EMAIL_ACCOUNT: Process[EmailRequestForm] = Process(
    kind="email_account",
    title=Text("ایجاد ایمیل دانشگاهی", "University e-mail account"),
    description=Text(
        "صندوق ایمیل با دامنه دانشگاه برای دانشجویان، کارکنان و اعضای هیئت علمی",
        "A university mailbox for students, staff and faculty",
    ),
    workflow=EmailAccountWorkflow,
    workflow_input=EmailAccountInput,
    start_form=EmailRequestForm,
    form_table=EmailRequest,
    tables=(EmailRequest, MailAccount, CredentialReveal),
    requester=_requester,
    activities=_activities,
    workflow_id_prefix="email",
    api_path="/api/email-requests",
    web_path="/email/new",
    answer_working_days=ANSWER_WORKING_DAYS,
    identity_field="national_code",
    one_open_case_per_requester=True,
    answer_fields=(AnswerField("address", Text("نشانی ایمیل", "Address"), left_to_right=True),),
    done_text=Text("ایمیل دانشگاهی شما ساخته شد:", "Your university e-mail was created:"),
    reveals_credentials=True,
    labels={
        # The registry check's answers, shown beside the identity task.
        "registry.not in the registry": Text(
            "در سامانه اطلاعات افراد یافت نشد", "Not in the person registry"
        ),
        "registry.inactive in the registry": Text(
            "در سامانه اطلاعات افراد غیرفعال است", "Inactive in the person registry"
        ),
        "registry.affiliation differs from the registry": Text(
            "نوع وابستگی با سامانه اطلاعات افراد یکی نیست",
            "Affiliation differs from the person registry",
        ),
    },
    receipt_steps=(
        Text(
            "کارشناس ایمیل فرم شما را بررسی می‌کند.",
            "An e-mail administrator reviews your form.",
        ),
        Text(
            "هویت شما با سامانه‌های دانشگاه تطبیق داده می‌شود.",
            "Your identity is checked against the university's records.",
        ),
        Text(
            "پاسخ با پیامک (و ایمیل شخصی) فرستاده می‌شود؛"
            " گذرواژه اولیه را یک بار در صفحه پیگیری می‌بینید.",
            "The answer is sent by SMS (and to your personal e-mail); you see the initial password"
            " once on the tracking page.",
        ),
    ),
    form_template="email_form.html",
)
