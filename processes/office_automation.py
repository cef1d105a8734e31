"""Process 3 — ایجاد کارتابل اتوماسیون اداری: a unit's appointment letter; the automation admin
creates the post, a manager's signature and permissions, and the cartable; its username and
password reach the unit's head once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import APIRouter

from db.handover import CaseSecret, HandoverLink
from db.office_automation import (
    AppointmentCase,
    Post,
    Signature,
    Unit,
    appointment_problems,
    unit_scope,
)
from domain.appointment import AppointmentStart
from domain.cases import Role
from domain.office_automation import (
    CARTABLE_PERMISSION_EN,
    CARTABLE_PERMISSION_FA,
    HANDOVER_STATE_EN,
    HANDOVER_STATE_FA,
    MANAGEMENT_PERMISSION_EN,
    MANAGEMENT_PERMISSION_FA,
    AppointmentLetter,
    CartablePermission,
    HandoverState,
    ManagementPermission,
)
from processes.declaration import AnswerField, Process, Requester, Text, WorkerResources
from workflows.appointment import ANSWER_WORKING_DAYS, AppointmentWorkflow


def _requester(form: AppointmentLetter) -> Requester:
    return Requester(
        name=form.full_name,
        identity=form.national_code,
        contact=form.mobile,
        unit=form.unit_code,
    )


def _activities(worker: WorkerResources) -> Sequence[Callable[..., Any]]:
    from activities.appointment import AppointmentActivities
    from activities.office_automation import office_automation

    appointment = AppointmentActivities(
        worker.engine,
        worker.settings,
        worker.sms,
        worker.email,
        office_automation(worker.settings),
    )
    return [
        appointment.open_appointment,
        appointment.claim_post_code,
        appointment.record_post,
        appointment.issue_link,
        appointment.remind_head,
        appointment.call_automation,
    ]


def _routes() -> Sequence[APIRouter]:
    # Imported when the API asks: the worker, which reads this declaration too, loads no API.
    from api.office_automation import office_automation_routes

    return office_automation_routes()


APPOINTMENT: Process[AppointmentLetter] = Process(
    kind="automation_cartable",
    title=Text("ابلاغ و ایجاد کارتابل اتوماسیون اداری", "Appointment: office-automation cartable"),
    description=Text(
        "ایجاد پست سازمانی، امضا و دسترسی‌های مدیر، کارتابل و تحویل نام کاربری و رمز به"
        " بالاترین مقام واحد",
        "The post in the automation system, a manager's signature and permissions, the cartable,"
        " and its username and password handed to the unit's head",
    ),
    workflow=AppointmentWorkflow,
    workflow_input=AppointmentStart,
    start_form=AppointmentLetter,
    form_table=AppointmentCase,
    tables=(AppointmentCase, Unit, Post, Signature, CaseSecret, HandoverLink),
    requester=_requester,
    activities=_activities,
    routes=_routes,
    workflow_id_prefix="cartable",
    api_path="/api/appointment-letters",
    web_path="/automation/new",
    answer_working_days=ANSWER_WORKING_DAYS,
    starters=frozenset({Role.unit_secretary, Role.automation_admin}),
    scoped_starters=frozenset({Role.unit_secretary}),
    case_scope=lambda form: unit_scope(form.unit_code),
    overseers=frozenset({Role.automation_admin}),
    start_check=appointment_problems,
    identity_field="national_code",
    answer_fields=(AnswerField("username", Text("نام کاربری کارتابل", "Cartable username"), True),),
    done_text=Text(
        "کارتابل ایجاد و نام کاربری و رمز به بالاترین مقام واحد تحویل شد؛ رمز را در نخستین ورود"
        " تغییر دهید.",
        "The cartable is ready and its username and password were handed to the unit's head;"
        " change the password at the first login.",
    ),
    labels={
        "letter_number": Text("شماره ابلاغ", "Letter number"),
        "letter_date": Text("تاریخ ابلاغ", "Letter date"),
        "national_code": Text("کد ملی", "National code"),
        "first_name": Text("نام", "First name"),
        "last_name": Text("نام خانوادگی", "Last name"),
        "full_name": Text("نام و نام خانوادگی", "Full name"),
        "personnel_number": Text("شماره پرسنلی", "Personnel number"),
        "mobile": Text("تلفن همراه", "Mobile"),
        "post_title": Text("عنوان پست", "Post title"),
        "unit_code": Text("کد واحد", "Unit code"),
        "unit": Text("واحد", "Unit"),
        "effective_date": Text("تاریخ اجرا", "Effective date"),
        "is_manager": Text("پست مدیریتی است؟", "A manager's post?"),
        "letter_file_id": Text("فایل ابلاغ (PDF)", "The letter (PDF)"),
        "head_name": Text("بالاترین مقام واحد", "The unit's head"),
        "automation_code": Text("کد پست در سامانه اتوماسیون", "Post code in the system"),
        "code_taken": Text("این کد از آنِ پست دیگری است", "This code is another post's"),
        "permissions_group": Text("گروه دسترسی", "Permissions group"),
        "signature_file_id": Text("امضای اسکن‌شده (تصویر)", "Scanned signature (image)"),
        "permissions": Text("دسترسی‌های داده‌شده", "Permissions granted"),
        "username": Text("نام کاربری در سامانه اتوماسیون", "Username in the system"),
        "initial_password": Text(
            "رمز اولیه (همان که در سامانه گذاشتید؛ یک بار، مهر و موم می‌شود)",
            "Initial password (as set in the system; typed once, sealed)",
        ),
        "note": Text("توضیحات", "Note"),
        "handover_state": Text("وضعیت تحویل", "Hand-over"),
        **{
            f"permissions.{p.value}": Text(MANAGEMENT_PERMISSION_FA[p], MANAGEMENT_PERMISSION_EN[p])
            for p in ManagementPermission
        },
        **{
            f"permissions.{p.value}": Text(CARTABLE_PERMISSION_FA[p], CARTABLE_PERMISSION_EN[p])
            for p in CartablePermission
        },
        **{
            f"handover_state.{s.value}": Text(HANDOVER_STATE_FA[s], HANDOVER_STATE_EN[s])
            for s in HandoverState
        },
    },
    receipt_steps=(
        Text(
            "کارشناس اتوماسیون پست سازمانی و کارتابل را در سامانه ایجاد می‌کند.",
            "The automation admin creates the post and the cartable in the system.",
        ),
        Text(
            "نام کاربری و رمز اولیه با پیوندی یک‌بارمصرف به بالاترین مقام واحد تحویل می‌شود.",
            "The username and initial password reach the unit's head by a one-time link.",
        ),
    ),
)
