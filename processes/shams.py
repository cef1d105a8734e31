"""Process 4 — برقراری ارتباط سرویس اینترانت نقاط شبکه ملی سلامت (شمس): the IT office starts
a rollout; counties, the university and the carrier bring each site onto the intranet."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import APIRouter

from db.shams import County, Site, SiteEvent
from db.shams_progress import CountyRun, RolloutRequest, SiteRun
from domain.cases import Role
from domain.shams import (
    LINK_TYPE_EN,
    LINK_TYPE_FA,
    NOT_FEASIBLE_EN,
    NOT_FEASIBLE_FA,
    SITE_KIND_EN,
    SITE_KIND_FA,
    LinkType,
    NotFeasibleReason,
    SiteKind,
)
from domain.shams_process import NotFeasibleAction, RolloutForm, RolloutStart
from processes.declaration import Process, Requester, Text, WorkerResources
from workflows.shams import ANSWER_WORKING_DAYS, RolloutWorkflow
from workflows.shams_county import (
    COLLECT_SITES,
    CORRECT_SITES,
    MORE_SITES,
    CountyWorkflow,
)
from workflows.shams_site import SiteWorkflow


def _requester(form: RolloutForm) -> Requester:
    return Requester(name=form.title, unit="اداره فناوری اطلاعات")


def _routes() -> Sequence[APIRouter]:
    # Imported when the API asks: the worker, which reads this declaration too, loads no API.
    from api.shams import shams_routes

    return shams_routes()


def _activities(worker: WorkerResources) -> Sequence[Callable[..., Any]]:
    from activities.shams import ShamsActivities

    shams = ShamsActivities(worker.engine, worker.settings, worker.sms, worker.email)
    return [
        shams.open_rollout,
        shams.notify_county,
        shams.record_county,
        shams.take_sites,
        shams.record_check,
        shams.record_site,
        shams.withdraw_sites,
        shams.open_sites,
        shams.rollout_progress,
        shams.remind_carrier,
        shams.probe_deadline,
        shams.probe,
    ]


ACTIONS = {
    NotFeasibleAction.close: Text("بسته شود (بدون امکان ارتباط)", "Close it (not feasible)"),
    NotFeasibleAction.re_range: Text("رانژه دوباره در تاریخی دیگر", "Range it again later"),
    NotFeasibleAction.other_link: Text("رانژه برای نوع ارتباط دیگر", "Range another link type"),
}

SHAMS: Process[RolloutForm] = Process(
    kind="shams_rollout",
    title=Text("اتصال نقاط شبکه بهداشت به شبکه ملی سلامت (شمس)", "SHAMS intranet rollout"),
    description=Text(
        "نامه به شبکه‌های بهداشت شهرستان‌ها، جمع‌آوری و بررسی نقاط، رانژه و نصب خط توسط مخابرات"
        " و ثبت و اتصال هر نقطه در سامانه شمس",
        "A letter to the county health networks, their sites checked, ranged and connected by"
        " the carrier, and each site entered and brought up in SHAMS",
    ),
    workflow=RolloutWorkflow,
    child_workflows=(CountyWorkflow, SiteWorkflow),
    workflow_input=RolloutStart,
    start_form=RolloutForm,
    form_table=RolloutRequest,
    tables=(RolloutRequest, CountyRun, SiteRun, County, Site, SiteEvent),
    requester=_requester,
    activities=_activities,
    routes=_routes,
    workflow_id_prefix="shams",
    api_path="/api/shams-rollouts",
    web_path="/shams/new",
    answer_working_days=ANSWER_WORKING_DAYS,
    starters=frozenset({Role.it_office}),
    task_panels={
        step.key: "shams/county_sites.html" for step in (COLLECT_SITES, CORRECT_SITES, MORE_SITES)
    },
    labels={
        "title": Text("عنوان مرحله اتصال", "Rollout title"),
        "round": Text("دور", "Round"),
        "comments": Text("نظر مدیر", "Director's comments"),
        "text": Text("متن نامه", "Letter text"),
        "counties": Text("شهرستان‌ها", "Counties"),
        "answer_by": Text("مهلت پاسخ شهرستان‌ها", "Counties' deadline"),
        "attachment_file_id": Text("پیوست", "Attachment"),
        "approved": Text("نامه تایید می‌شود؟", "Approve the letter?"),
        "rollout": Text("کد پیگیری مرحله", "Rollout"),
        "county": Text("شهرستان", "County"),
        "county_code": Text("کد شهرستان", "County code"),
        "letter": Text("نامه دانشگاه", "The university's letter"),
        "returned": Text("نقاط برگشتی و دلیل آن", "Returned sites and why"),
        "no_sites": Text("نقطه (دیگری) ندارد", "No (more) sites"),
        "site_codes": Text("کد نقاط ثبت‌شده در سامانه", "Codes of the sites entered"),
        "sites": Text("نقاط ارسالی شهرستان", "Sites the county sent"),
        "site_code": Text("کد نقطه", "Site code"),
        "note": Text("توضیحات", "Note"),
        "feasible": Text("امکان ارتباط دارد؟", "Feasible?"),
        "exchange": Text("مرکز مخابراتی", "Exchange"),
        "link_type": Text("نوع ارتباط", "Link type"),
        "reason": Text("دلیل", "Reason"),
        "range_site.reason": Text("دلیل عدم امکان", "Why not feasible"),
        "expected_on": Text("تاریخ پیش‌بینی‌شده", "Expected date"),
        "action": Text("اقدام", "What now?"),
        "re_range_on": Text("تاریخ رانژه دوباره", "Range again on"),
        "circuit_id": Text("شماره مدار", "Circuit id"),
        "registration_number": Text("شماره ثبت در سامانه شمس", "SHAMS registration number"),
        "router_host": Text("نشانی روتر نقطه", "Router address"),
        "router_port": Text("درگاه (پورت) روتر", "Router port"),
        **{f"link_type.{k.value}": Text(LINK_TYPE_FA[k], LINK_TYPE_EN[k]) for k in LinkType},
        **{f"kind.{k.value}": Text(SITE_KIND_FA[k], SITE_KIND_EN[k]) for k in SiteKind},
        **{
            f"reason.{r.value}": Text(NOT_FEASIBLE_FA[r], NOT_FEASIBLE_EN[r])
            for r in NotFeasibleReason
        },
        **{f"action.{a.value}": text for a, text in ACTIONS.items()},
    },
    receipt_steps=(
        Text(
            "نامه تنظیم و پس از تایید مدیر به شبکه‌ها فرستاده می‌شود.",
            "The letter is drafted, approved by the director and sent to the counties.",
        ),
        Text(
            "هر شبکه نقاط خود را اعلام می‌کند و دانشگاه آن‌ها را بررسی می‌کند.",
            "Each county sends its sites and the university checks them.",
        ),
        Text(
            "مخابرات هر نقطه را رانژه و خط آن را نصب می‌کند؛ نقطه در شمس ثبت و متصل می‌شود.",
            "The carrier ranges each site and installs its line; the site is entered in SHAMS"
            " and connected.",
        ),
    ),
)
