"""SEPAS in the browser. The registers: the SEPAS expert searches the error bank, adds a pattern
(a bad one first: its error shows in place, what was typed stays), uploads an SRM export (a bad
one first: its errors show by row and column), and reads the hospitals, on a desktop and on a
phone. A case: a hospital reports, the expert classifies it from SRM's errors and the bank's
matches, the ministry's Jira (the local one) answers, the bank learns, and the answer shows on
the case and tracking pages. Every page is shot and checked with axe-core."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, Locator, expect
from sqlalchemy import Engine
from sqlmodel import Session, select

from db.models import Case, User
from db.sepas import ErrorBankEntry, Hospital, SepasCase, hospital_scope
from db.srm_import import SRM_FIELD_FA
from domain.calendar import TEHRAN
from domain.cases import Role
from domain.passwords import hash_password
from domain.sepas import match_key
from domain.sepas_process import JiraNews, SrmNews
from settings import Settings
from tests.browser.helpers import (
    log_in,
    new_page,
    open_from_cartable,
    shot,
    to_fa_digits,
    track,
)
from tests.jira_server import JiraServer
from tests.stack import PASSWORD, Stack, running_stack
from tests.workflows.test_sepas import TOKEN as JIRA_TOKEN
from tests.workflows.test_sepas import (
    add_hospital,
    errors_now,
    evidence_span,
    fixed_at,
    import_srm,
    issues_of,
    resolve_in_jira,
)
from workflows.sepas import SepasWorkflow

PHONE = {"width": 390, "height": 844}


def sepas_expert(engine: Engine) -> str:
    username = f"sepas{uuid.uuid4().hex[:6]}"
    with Session(engine) as session:
        session.add(
            User(
                username=username,
                full_name="کارشناس سپاس",
                password_hash=hash_password(PASSWORD),
                roles=[Role.sepas_expert.value],
                scopes=["*"],
            )
        )
        session.commit()
    return username


async def test_the_sepas_expert_keeps_the_bank_and_uploads_srm(
    browser: Browser, stack: Stack, engine: Engine
) -> None:
    word = uuid.uuid4().hex[:6].upper()
    expert = sepas_expert(engine)
    page = await new_page(browser, stack, locale="fa-IR")
    await log_in(page, expert)
    await page.click("nav a[href='/admin/sepas/error-bank']")
    await page.fill("#f-q", "NationalCode")
    await page.click("form.filters button[type=submit]")
    await expect(page.locator("table.tasks")).to_contain_text("NationalCode is block.")
    await expect(page.locator("table.tasks")).to_contain_text("خطای بیمارستانی")
    await shot(page, "fa-sepas-bank")

    await page.fill("#f-message", f"Element {{record}} of {word} is not Complete.")
    await page.check("#f-is_pattern")
    await page.select_option("#f-category", "software")
    await page.fill("#f-cause_fa", "عنصر کدگذاری‌شده ناقص است.")
    await page.fill("#f-cause_en", "A coded element is incomplete.")
    await page.fill("#f-remedy_fa", "شرکت پشتیبان عنصر را کامل بفرستد.")
    await page.fill("#f-remedy_en", "The vendor sends the element whole.")
    await page.click("form.form button[type=submit]")
    await expect(page.locator("#e-message")).to_contain_text("جای‌نگهدار شناخته نیست")
    assert await page.input_value("#f-cause_fa") == "عنصر کدگذاری‌شده ناقص است."
    await shot(page, "fa-sepas-bank-error")
    await page.fill("#f-message", f"Element {{code}} of {word} is not Complete.")
    await page.click("form.form button[type=submit]")
    await expect(page.locator(".ok")).to_contain_text("ذخیره شد")
    await page.fill("#f-q", word)
    await page.click("form.filters button[type=submit]")
    await expect(page.locator("table.tasks")).to_contain_text("خطای نرم‌افزاری")
    await expect(page.locator("table.tasks")).to_contain_text("کارشناس سپاس")

    header = ",".join(SRM_FIELD_FA.values())
    good = f"H{word},۱۴۰۴/۰۹/۱۰ ۱۰:۲۰,۹۸۷۶,NationalCode invalid,۲"
    bad = f"H{word},دیروز,۹۸۷۷,,۱"
    await page.click("nav a[href='/admin/sepas/srm']")
    await page.set_input_files(
        "#f-file",
        {
            "name": "srm.csv",
            "mimeType": "text/csv",
            "buffer": f"{header}\n{good}\n{bad}\n".encode(),
        },
    )
    await page.click("form.form button[type=submit]")
    errors = page.locator("#import-error-rows")
    await expect(page.locator("#import-errors")).to_be_visible()
    await expect(errors).to_contain_text("زمان معتبر نیست")
    await expect(errors).to_contain_text("پیام خطا")
    await expect(errors.locator("tbody tr td").first).to_have_text(to_fa_digits("3"))
    await shot(page, "fa-sepas-srm-errors")
    await page.set_input_files(
        "#f-file",
        {"name": "srm.csv", "mimeType": "text/csv", "buffer": f"{header}\n{good}\n".encode()},
    )
    await page.click("form.form button[type=submit]")
    await expect(page.locator(".ok")).to_contain_text("گزارش SRM وارد شد")
    await shot(page, "fa-sepas-srm-done")
    await page.click("nav a[href='/admin/sepas/hospitals']")
    await expect(page.locator("h1")).to_have_text("بیمارستان‌ها و شرکت‌های پشتیبان HIS")
    await shot(page, "fa-sepas-hospitals")

    phone = await new_page(browser, stack, viewport=PHONE, locale="fa-IR", is_mobile=True)
    await log_in(phone, expert)
    for path, name in (
        ("/admin/sepas/error-bank?q=NationalCode", "fa-phone-sepas-bank"),
        ("/admin/sepas/srm", "fa-phone-sepas-srm"),
        ("/admin/sepas/hospitals", "fa-phone-sepas-hospitals"),
    ):
        await phone.goto(path)
        width = await phone.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{path} must fit a phone without sideways scrolling"
        await shot(phone, name)
    await phone.goto("/lang/en?next=/admin/sepas/error-bank?q=SepasNode")
    await expect(phone.locator("h1")).to_have_text("SEPAS error bank")
    await shot(phone, "en-phone-sepas-bank")


@pytest.fixture(scope="module")
def jira() -> Iterator[JiraServer]:
    with JiraServer(token=JIRA_TOKEN) as server:
        yield server


@pytest.fixture(scope="module")
async def stack(
    settings: Settings,
    engine: Engine,
    tmp_path_factory: pytest.TempPathFactory,
    jira: JiraServer,
) -> AsyncIterator[Stack]:
    """The browser suite's stack, its worker speaking to the local ministry's Jira."""
    with_jira = settings.model_copy(update={"jira_base_url": jira.url, "jira_token": JIRA_TOKEN})
    async with running_stack(
        with_jira, engine, tmp_path_factory.mktemp("temporal"), "peygir-browser-sepas"
    ) as running:
        yield running


def hospital_it(engine: Engine, hospital: Hospital) -> str:
    username = f"it{uuid.uuid4().hex[:6]}"
    with Session(engine) as session:
        session.add(
            User(
                username=username,
                full_name=f"فناوری اطلاعات {hospital.name}",
                password_hash=hash_password(PASSWORD),
                roles=[Role.hospital_it.value],
                scopes=[hospital_scope(hospital.code)],
            )
        )
        session.commit()
    return username


def cases_of(engine: Engine, hospital: Hospital) -> list[SepasCase]:
    with Session(engine) as session:
        return list(session.exec(select(SepasCase).where(SepasCase.hospital_code == hospital.code)))


async def answered(answer: Locator, issue_url: str) -> None:
    """The case's answer: the cause, what was done, SRM's confirmation, the ministry's issue."""
    await expect(answer.locator("[data-answer=cause]")).to_contain_text("سرویس واژگان")
    await expect(answer.locator("[data-answer=done]")).to_contain_text("نگاشت کد")
    await expect(answer.locator("[data-answer=evidence]")).to_contain_text("۳ روز")
    await expect(answer.locator("[data-answer=jira] a")).to_have_attribute("href", issue_url)


async def test_a_hospital_reports_and_the_expert_follows_it_to_the_ministry(
    browser: Browser, stack: Stack, engine: Engine, jira: JiraServer
) -> None:
    hospital, _ = add_hospital(engine)
    unknown = f"Terminology lookup refused: {uuid.uuid4().hex}{uuid.uuid4().hex}"
    errors_now(engine, hospital, (unknown, 40), ("NationalCode invalid", 3))
    with Session(engine) as session:
        known = session.exec(
            select(ErrorBankEntry).where(
                ErrorBankEntry.match_key == match_key("NationalCode invalid")
            )
        ).one()

    # 1. The hospital's IT unit reports: its hospital is filled in; a bad mobile and another
    # hospital's code are answered beside their fields, and nothing is written.
    it = await new_page(browser, stack, locale="fa-IR")
    await log_in(it, hospital_it(engine, hospital))
    await it.click("nav a[href='/']")
    await it.locator("li.card", has_text="گزارش مشکل ارسال پرونده به سپاس").locator("a").click()
    await expect(it.locator("h1")).to_have_text("گزارش مشکل ارسال پرونده به سپاس")
    assert await it.input_value("#f-hospital_code") == hospital.code
    assert await it.get_attribute("#f-since", "type") == "date"
    await shot(it, "sepas-report-form")
    await it.fill("#f-hospital_code", "H0")
    await it.fill("#f-reporter_name", "علی رضایی")
    await it.fill("#f-mobile", "۰۹۱۲۳")
    await it.fill("#f-what_fails", "پرونده‌های بستری از دیروز به سپاس نمی‌رسد")
    await it.fill("#f-since", (datetime.now(TEHRAN) - timedelta(days=2)).date().isoformat())
    await it.fill("#f-sample_record_ids", "1001\n1002")
    await it.click("form.form button[type=submit]")
    await expect(it.locator("#e-mobile")).to_contain_text("شماره تلفن همراه معتبر نیست")
    assert await it.get_attribute("#f-mobile", "aria-invalid") == "true"
    await shot(it, "sepas-report-bad-mobile")
    await it.fill("#f-mobile", "۰۹۱۲۱۲۳۴۵۶۷")
    await it.click("form.form button[type=submit]")
    await expect(it.locator("#e-hospital_code")).to_contain_text("از آنِ واحد شما نیست")
    assert await it.input_value("#f-what_fails") == "پرونده‌های بستری از دیروز به سپاس نمی‌رسد"
    await shot(it, "sepas-report-other-hospital")
    assert not cases_of(engine, hospital)
    await it.fill("#f-hospital_code", hospital.code)
    await it.click("form.form button[type=submit]")
    await expect(it).to_have_url(re.compile(r"/receipt/\d{10}\?sig="))
    code = await it.get_attribute("[data-tracking-code]", "data-tracking-code")
    assert code and code.isdigit()
    await expect(it.locator(".receipt")).to_contain_text("اس آر ام")
    await shot(it, "sepas-report-receipt")
    [report] = cases_of(engine, hospital)
    assert report.mobile == "09121234567" and report.sample_record_ids == ["1001", "1002"]

    # 2. The expert reads SRM's errors with the bank's matches, the form pre-filled from the
    # bank; the main message is unknown to it, so the expert sends it to the ministry.
    expert = await new_page(browser, stack, locale="fa-IR")
    expert_login = sepas_expert(engine)
    await log_in(expert, expert_login)
    await open_from_cartable(expert, code, "sepas-classify")
    groups = expert.locator("table[data-records=groups]")
    await expect(groups.locator("thead")).to_contain_text("پیام خطا")
    await expect(groups.locator("thead")).to_contain_text("تطبیق با بانک خطا")
    await expect(groups.locator("thead")).to_contain_text("امتیاز تطبیق")
    first, second = groups.locator("tbody tr").first, groups.locator("tbody tr").nth(1)
    await expect(first).to_contain_text(unknown)
    await expect(first.locator("td").nth(1)).to_have_text("۴۰")
    await expect(second).to_contain_text("NationalCode invalid")
    await expect(second).to_contain_text("۱۰۰")
    await expect(second).to_contain_text("عین پیام")
    await expect(second).to_contain_text("خطای بیمارستانی")
    facts = expert.locator(".facts")
    await expect(facts.locator("div", has_text="علت (به گفته بانک خطا)")).to_contain_text(
        known.cause_fa[:20]
    )
    await expect(facts.locator("div", has_text="راه رفع (به گفته بانک خطا)")).to_contain_text(
        known.remedy_fa[:20]
    )
    await expect(facts).not_to_contain_text("مدخل‌های بانک خطا")
    assert await expert.input_value("#f-verdict") == "hospital"
    entry = expert.get_by_role("radio", name=re.compile(f"#{known.id} NationalCode invalid"))
    await expect(entry).to_be_checked()
    await expert.select_option("#f-verdict", "unknown")
    await expert.get_by_role("radio", name="هیچ‌کدام").check()
    await expert.fill("#f-note", "خطای سرویس واژگان سپاس در بانک نیست؛ از وزارت پرسیده می‌شود")
    await shot(expert, "sepas-classify-unknown")
    task_url = urlsplit(expert.url).path
    phone = await new_page(browser, stack, viewport=PHONE, locale="fa-IR", is_mobile=True)
    await log_in(phone, expert_login)
    await phone.goto(task_url)
    width = await phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], "the classification must fit a phone"
    await shot(phone, "sepas-phone-classify")
    await phone.goto(f"/lang/en?next={task_url}")
    await expect(phone.locator("table[data-records=groups] thead")).to_contain_text("Message")
    await shot(phone, "en-phone-sepas-classify")
    await expert.click("form.form button[type=submit]")
    await expect(expert).to_have_url(re.compile(r"/cartable\?done=1"))

    # 3. The ministry answers in its Jira; SRM shows the message gone for the clean days.
    with Session(engine) as session:
        case = session.exec(select(Case).where(Case.tracking_code == code)).one()
    handle = stack.client.get_workflow_handle(case.workflow_id)
    for _ in range(200):
        if issues_of(jira, case):
            break
        await asyncio.sleep(0.05)
    [key] = issues_of(jira, case)
    jira.comment_as(key, "کارشناس وزارت", "نگاشت کد در سرویس واژگان اصلاح شد؛ دوباره ارسال کنید")
    await resolve_in_jira(jira, key)
    await handle.signal(SepasWorkflow.jira_changed, JiraNews(issue_key=key, event="updated"))
    since, until = evidence_span(engine, await fixed_at(engine, case))
    import_srm(
        engine,
        [("OTHER-HOSPITAL", until - timedelta(days=1), "NationalCode is block.", 1)],
        since,
        until,
    )
    await handle.signal(SepasWorkflow.srm_imported, SrmNews(source_name="srm-export.xlsx"))

    # 4. The bank learns the ministry's answer: the lesson's form comes filled in from it.
    await open_from_cartable(expert, code, "sepas-learn")
    assert await expert.input_value("#f-message") == unknown
    await expect(expert.get_by_role("radio", name="خطای ساختاری")).to_be_checked()
    assert "نگاشت کد" in await expert.input_value("#f-remedy_fa")
    assert await expert.input_value("#f-jira_key") == key
    await expect(expert.get_by_role("radio", name="هیچ‌کدام")).to_be_checked()
    await expect(expert.get_by_role("radio", name="جیرای وزارت")).to_be_checked()
    assert await expert.get_attribute("#f-message", "dir") == "ltr"
    assert await expert.get_attribute("#f-remedy_fa", "dir") is None
    await expect(expert.locator(".facts a", has_text=f"/browse/{key}")).to_be_visible()
    await expert.fill("#f-cause_fa", "نگاشت کد در سرویس واژگان سپاس ناقص بود")
    await expert.fill("#f-cause_en", "SEPAS's terminology service lacked the code's mapping")
    await expert.fill("#f-remedy_en", "The ministry fixed the mapping; send the records again")
    await shot(expert, "sepas-learn-filled")
    await expert.click("form.form button[type=submit]")
    await expect(expert).to_have_url(re.compile(r"/cartable\?done=1"))
    assert await handle.result() == "resolved"

    # 5. The answer, on the expert's case page and on the hospital's tracking page.
    await expert.goto(f"/cases/{code}")
    await answered(expert.locator(".facts").first, f"{jira.url}/browse/{key}")
    # SRM's errors by message, from the case's own record, as a table of their own.
    errors = expert.locator('table[data-records="groups"] tbody tr')
    await expect(errors).to_have_count(2)
    await expect(expert.locator("#own-record")).to_be_visible()
    await shot(expert, "sepas-case-resolved")
    await track(it, code, "09121234567")
    await answered(it.locator(".answer"), f"{jira.url}/browse/{key}")
    await shot(it, "sepas-track-resolved")
