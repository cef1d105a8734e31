"""The pages as people use them, in headless Chromium (Debian's) driven by Playwright.

Screenshots of every page go to tests/output/screenshots/ (look at them); each page shot is
also checked with axe-core (WCAG rules), which must find no violation.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from playwright.async_api import Browser, Page, expect
from sqlalchemy import Engine
from sqlmodel import Session, select

from db.repair import Asset, Vendor
from domain.requester_link import requester_link
from tests.api.test_repair_register import repair_case
from tests.browser.helpers import (
    decide_in_cartable,
    log_in,
    new_page,
    open_from_cartable,
    shot,
    to_fa_digits,
    track,
)
from tests.e2e.test_process_plugin import approved_loan, wait_for_requester_task
from tests.factories import form_data
from tests.stack import Stack


async def fill_email_form(page: Page, data: dict[str, str]) -> None:
    for name in (
        "first_name",
        "last_name",
        "national_code",
        "mobile",
        "member_id",
        "unit",
        "requested_username",
        "personal_email",
    ):
        await page.fill(f"input[name={name}]", data[name])
    await page.check(f"input[name=affiliation][value={data['affiliation']}]")


async def submit_request(page: Page, data: dict[str, str], name: str) -> str:
    """The person's path: home → the e-mail service → form → receipt; returns the code."""
    await page.goto("/")
    await page.click("a[href='/email/new']")
    await fill_email_form(page, data)
    await shot(page, f"{name}-form-filled")
    await page.click("form.form button[type=submit]")
    await expect(page).to_have_url(re.compile(r"/receipt/\d{10}\?sig="))
    code = await page.get_attribute("[data-tracking-code]", "data-tracking-code")
    assert code and code.isdigit()
    await shot(page, f"{name}-receipt")
    return code


async def test_persian_request_decided_and_answered(browser: Browser, stack: Stack) -> None:
    data = form_data(first_name="مریم", last_name="کاظمی")
    data["national_code"] = to_fa_digits(data["national_code"])  # typed on a Persian keyboard
    person = await new_page(browser, stack, locale="fa-IR")
    await person.goto("/")
    assert await person.get_attribute("html", "dir") == "rtl"
    assert await person.get_attribute("html", "lang") == "fa"
    await shot(person, "fa-home")
    code = await submit_request(person, data, "fa")
    await expect(person.locator(".receipt")).to_contain_text("کد پیگیری")
    await expect(person.locator(".receipt")).to_contain_text("۱۴۰")  # a Jalali year, Persian digits

    expert = await new_page(browser, stack, locale="fa-IR")
    await log_in(expert, "e2e_email_admin")
    await decide_in_cartable(expert, code, "input[name=form_complete][value=true]", "fa-review")
    await open_from_cartable(expert, code, "fa-identity")
    # The registry check's answer, English in the task's data, is shown in Persian.
    await expect(expert.locator(".facts")).to_contain_text("در سامانه اطلاعات افراد یافت نشد")
    await expert.check("input[name=identity_confirmed][value=true]")
    await expert.click("form.form button[type=submit]")
    await expect(expert).to_have_url(re.compile(r"/cartable\?done=1"))
    await expert.goto(f"/cases/{code}")
    await expect(expert.locator(".timeline")).to_contain_text("بررسی فرم ارسالی")
    await shot(expert, "fa-case")

    for _ in range(100):
        await track(person, code, data["national_code"])
        if await person.locator(".answer").count():
            break
        await person.wait_for_timeout(100)
    answer = person.locator(".answer")
    await expect(answer).to_contain_text(f"{data['requested_username']}@")
    await shot(person, "fa-track-answer")
    await person.click(".answer form button[type=submit]")
    await expect(person.locator("code.secret")).to_have_text(re.compile(r"^\w{14}$"))
    await shot(person, "fa-password-once")


async def test_form_error_shown_next_to_field_and_nothing_lost(
    browser: Browser, stack: Stack
) -> None:
    page = await new_page(browser, stack, locale="fa-IR")
    data = form_data(national_code="1234567890")
    await page.goto("/email/new")
    await fill_email_form(page, data)
    await page.click("form.form button[type=submit]")
    error = page.locator("#e-national_code")
    await expect(error).to_have_text("کد ملی معتبر نیست.")
    assert await page.get_attribute("#f-national_code", "aria-invalid") == "true"
    assert await page.input_value("#f-first_name") == data["first_name"]
    assert await page.input_value("#f-requested_username") == data["requested_username"]
    await expect(page.locator("#form-errors")).to_be_visible()
    await shot(page, "fa-form-error")


async def test_english_switch_and_the_same_path(browser: Browser, stack: Stack) -> None:
    data = form_data()
    person = await new_page(browser, stack)
    await person.goto("/")
    await person.click("a.lang")
    await expect(person.locator("html")).to_have_attribute("dir", "ltr")
    await expect(person.locator("html")).to_have_attribute("lang", "en")
    await shot(person, "en-home")
    code = await submit_request(person, data, "en")
    await expect(person.locator(".receipt")).to_contain_text("Tracking code")

    expert = await new_page(browser, stack)
    await expert.goto("/lang/en?next=/login")
    await log_in(expert, "e2e_email_admin")
    await decide_in_cartable(expert, code, "input[name=form_complete][value=true]", "en-review")
    await decide_in_cartable(
        expert, code, "input[name=identity_confirmed][value=true]", "en-identity"
    )
    for _ in range(100):
        await track(person, code, data["national_code"])
        if await person.locator(".answer").count():
            break
        await person.wait_for_timeout(100)
    await expect(person.locator(".answer")).to_contain_text("Your university e-mail was created")
    await shot(person, "en-track-answer")


async def test_english_refusal_with_reason(browser: Browser, stack: Stack) -> None:
    data = form_data()
    person = await new_page(browser, stack)
    await person.goto("/lang/en?next=/")
    code = await submit_request(person, data, "en-refusal")
    expert = await new_page(browser, stack)
    await expert.goto("/lang/en?next=/login")
    await log_in(expert, "e2e_email_admin")
    await open_from_cartable(expert, code, "en-refusal")
    await expert.check("input[name=form_complete][value=false]")
    await expert.click("form.form button[type=submit]")
    await expect(expert.locator("#e-refusal_reason")).to_have_text(
        "A reason is required when refusing."
    )
    assert await expert.is_checked("input[name=form_complete][value=false]")
    await shot(expert, "en-task-error")
    await expert.fill("#f-refusal_reason", "The unit does not match your records.")
    await expert.click("form.form button[type=submit]")
    await expect(expert).to_have_url(re.compile(r"/cartable\?done=1"))

    for _ in range(100):
        await track(person, code, data["national_code"])
        if await person.locator(".answer").count():
            break
        await person.wait_for_timeout(100)
    await expect(person.locator(".answer")).to_contain_text("The unit does not match")
    await shot(person, "en-track-refused")


async def test_admin_pages_and_phone_layout(browser: Browser, stack: Stack) -> None:
    admin = await new_page(browser, stack, locale="fa-IR")
    await log_in(admin, "e2e_admin")
    await admin.goto("/admin/holidays")
    await admin.fill("#f-day", "۱۴۱۰/۰۱/۰۱")
    await admin.fill("#f-title", "نوروز")
    await admin.click("form.form button[type=submit]")
    await expect(admin.locator("table.tasks")).to_contain_text("نوروز")
    await shot(admin, "fa-admin-holidays")
    await admin.goto("/admin/users")
    await expect(admin.locator("table.tasks")).to_contain_text("e2e_email_admin")
    await shot(admin, "fa-admin-users")

    phone = await new_page(browser, stack, viewport={"width": 390, "height": 844}, locale="fa-IR")
    await phone.goto("/email/new")
    width = await phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "the form must fit a phone without sideways scrolling"
    await shot(phone, "fa-phone-form")
    await phone.keyboard.press("Tab")
    focused = await phone.evaluate("document.activeElement.className")
    assert focused == "skip"


async def test_admin_reassigns_and_cancels_on_the_case_page(browser: Browser, stack: Stack) -> None:
    data = form_data()
    code = (await stack.http.post("/api/email-requests", json=data)).json()["tracking_code"]
    admin = await new_page(browser, stack, locale="fa-IR")
    await log_in(admin, "e2e_admin")
    for _ in range(100):
        await admin.goto(f"/cases/{code}")
        if await admin.locator("details.reassign").count():
            break
        await admin.wait_for_timeout(100)
    await admin.click("details.reassign summary")
    await admin.fill("details.reassign input[name=assignee]", "e2e_technician")
    await admin.fill("details.reassign input[name=reason]", "مرخصی کارشناس")
    await admin.click("details.reassign button[type=submit]")
    await expect(admin.locator(".alert")).to_be_visible()  # a technician cannot hold this step
    await admin.click("details.reassign summary")
    await admin.fill("details.reassign input[name=assignee]", "e2e_email_admin")
    await admin.fill("details.reassign input[name=reason]", "مرخصی کارشناس")
    await admin.click("details.reassign button[type=submit]")
    await expect(admin.locator(".timeline")).to_contain_text("سپرده شد")

    await admin.click(".form.danger button[type=submit]")  # empty reason: the browser refuses
    await admin.evaluate("document.querySelector('#f-reason').removeAttribute('required')")
    admin.on("dialog", lambda dialog: dialog.accept())
    await admin.fill("#f-reason", "x")
    await admin.click(".form.danger button[type=submit]")
    await expect(admin.locator("#e-reason")).to_be_visible()
    assert await admin.input_value("#f-reason") == "x"
    await admin.fill("#f-reason", "درخواست تکراری است")
    await admin.click(".form.danger button[type=submit]")
    await expect(admin.locator(".badge.cancelled").first).to_be_visible()
    await shot(admin, "fa-case-cancelled")


async def test_a_second_request_is_refused_beside_the_national_code(
    browser: Browser, stack: Stack
) -> None:
    data = form_data()
    assert (await stack.http.post("/api/email-requests", json=data)).status_code == 201
    page = await new_page(browser, stack, locale="fa-IR")
    await page.goto("/email/new")
    await fill_email_form(page, {**data, "requested_username": "another.name"})
    await page.click("form.form button[type=submit]")
    await expect(page.locator("#e-national_code")).to_contain_text("در حال رسیدگی")
    assert await page.get_attribute("#f-national_code", "aria-invalid") == "true"
    assert await page.input_value("#f-requested_username") == "another.name"
    await shot(page, "fa-form-in-progress")


async def test_a_decision_typed_while_another_tab_decided_is_kept(
    browser: Browser, stack: Stack
) -> None:
    data = form_data()
    code = (await stack.http.post("/api/email-requests", json=data)).json()["tracking_code"]
    expert = await new_page(browser, stack, locale="fa-IR")
    await log_in(expert, "e2e_email_admin")
    await open_from_cartable(expert, code, "fa-kept")
    other_tab = await expert.context.new_page()
    await decide_in_cartable(other_tab, code, "input[name=form_complete][value=true]", "fa-other")
    await expert.check("input[name=form_complete][value=false]")
    await expert.fill("#f-refusal_reason", "واحد با سوابق یکی نیست")
    await expert.click("form.form button[type=submit]")
    await expect(expert.locator("#task-problem")).to_have_text("این کار دیگر باز نیست.")
    assert await expert.is_checked("input[name=form_complete][value=false]")
    assert await expert.input_value("#f-refusal_reason") == "واحد با سوابق یکی نیست"
    await shot(expert, "fa-task-closed-meanwhile")


async def test_pages_without_a_flow_of_their_own(browser: Browser, stack: Stack) -> None:
    """The login form, the empty tracking form and an error page pass axe-core too."""
    for lang in ("fa", "en"):
        page = await new_page(browser, stack)
        await page.goto(f"/lang/{lang}?next=/login")
        await shot(page, f"{lang}-login")
        await page.goto("/track")
        await shot(page, f"{lang}-track-form")
        missing = await page.goto("/receipt/1234567890?sig=wrong")
        assert missing is not None and missing.status == 404
        await shot(page, f"{lang}-error")


async def test_a_start_form_drawn_from_its_declaration(browser: Browser, stack: Stack) -> None:
    """A process without a page of its own (the tests' laptop loan) gets its form from its start
    model and its labels, in both languages, with errors beside the fields."""
    person = await new_page(browser, stack)
    await person.goto("/loan/new")
    await expect(person.locator("h1")).to_have_text("امانت لپ‌تاپ")
    await person.fill("#f-personnel_number", "۱۲۳۴۵۶۷۸")
    await person.fill("#f-full_name", "مریم کاظمی")
    await person.fill("#f-unit", "معاونت آموزشی")
    await person.check("input[name=device][value=projector]")
    await person.fill("#f-days", "40")
    await person.click("button[type=submit]")
    await expect(person.locator("#e-days")).to_be_visible()
    await expect(person.locator("#f-full_name")).to_have_value("مریم کاظمی")
    await shot(person, "fa-start-form-error")
    await person.fill("#f-days", "5")
    await person.click("button[type=submit]")
    await expect(person.locator(".receipt")).to_contain_text("کارشناس پشتیبانی")
    await shot(person, "fa-start-form-receipt")
    await person.goto("/lang/en?next=/loan/new")
    await expect(person.locator("label[for=f-personnel_number]")).to_contain_text(
        "Personnel number"
    )
    await shot(person, "en-start-form")


async def test_the_equipment_register_and_the_vendors(
    browser: Browser, stack: Stack, engine: Engine
) -> None:
    """An admin adds a vendor, uploads the property office's file (a bad row first: its error
    shows in place), and opens an asset's page with its warranty and repair history."""
    p = uuid.uuid4().hex[:5].upper()
    vendor_name = f"پارس سرویس {p}"
    admin = await new_page(browser, stack, locale="fa-IR")
    await log_in(admin, "e2e_admin")
    await admin.click("nav a[href='/admin/vendors']")
    await admin.fill("#f-name", vendor_name)
    await admin.click("form.form button[type=submit]")
    await expect(admin.locator("#e-fields")).to_be_visible()
    await shot(admin, "fa-vendors-error")
    await admin.check("input[name=fields][value=laptop]")
    await admin.check("input[name=fields][value=pc]")
    await admin.fill("#f-mobile", "۰۹۱۲۳۴۵۶۷۸۹")
    await admin.click("form.form button[type=submit]")
    await expect(admin.locator("table.tasks")).to_contain_text(vendor_name)
    await shot(admin, "fa-vendors")

    header = "شماره اموال,سریال,نوع,مدل,واحد,اتاق,تحویل‌گیرنده,تاریخ خرید,پایان گارانتی,شرکت گارانتی"
    good = (
        f"{p}-1,SN{p},لپ‌تاپ,Lenovo T14,معاونت آموزشی,۲۱۲,مریم حسینی,"
        f"۱۴۰۳/۰۵/۱۲,۱۴۹۹/۰۵/۱۲,{vendor_name}"
    )
    bad = f"{p}-2,,فضاپیما,,,,,۱۴۰۳/۱۳/۰۱,,"
    await admin.click("nav a[href='/admin/assets']")
    await admin.set_input_files(
        "#f-file",
        {
            "name": "amval.csv",
            "mimeType": "text/csv",
            "buffer": f"{header}\n{good}\n{bad}\n".encode(),
        },
    )
    await admin.click("form.form button[type=submit]:not([name])")
    await expect(admin.locator("#import-errors")).to_be_visible()
    await expect(admin.locator("table.tasks").first).to_contain_text("نوع تجهیز شناخته نیست")
    await shot(admin, "fa-assets-import-errors")
    await admin.set_input_files(
        "#f-file",
        {"name": "amval.csv", "mimeType": "text/csv", "buffer": f"{header}\n{good}\n".encode()},
    )
    await admin.click("form.form button[type=submit]:not([name])")
    await expect(admin.locator("p.ok, .ok")).to_contain_text("فهرست وارد شد")
    await admin.fill("#f-q", p)
    await admin.click("form.filters button[type=submit]")
    with Session(engine) as session:
        asset = session.exec(select(Asset).where(Asset.property_number == f"{p}-1")).one()
        vendor = session.exec(select(Vendor).where(Vendor.name == vendor_name)).one()
    assert asset.id is not None and vendor.id is not None
    assert asset.warranty_vendor_id == vendor.id
    await shot(admin, "fa-assets")
    repair_case(
        engine,
        asset.id,
        vendor.id,
        created_at=datetime(2025, 6, 1, 8, tzinfo=UTC),
        path="vendor",
        outcome="repaired_by_vendor",
        cost_material_rials=2_500_000,
    )
    await admin.click(f"a[href='/assets/{p}-1']")
    await expect(admin.locator("h1")).to_contain_text(to_fa_digits(f"{p}-1"))
    await expect(admin.locator("main")).to_contain_text("زیر گارانتی تا")
    await expect(admin.locator("main")).to_contain_text(vendor_name)
    await shot(admin, "fa-asset")

    phone = await new_page(browser, stack, viewport={"width": 390, "height": 844}, locale="fa-IR")
    await log_in(phone, "e2e_technician")
    for path, name in ((f"/assets/{p}-1", "fa-phone-asset"), ("/admin/assets", "fa-phone-assets")):
        await phone.goto(path)
        width = await phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} must fit a phone without sideways scrolling"
        await shot(phone, name)
    await phone.goto("/lang/en?next=/admin/vendors")
    await expect(phone.locator("h1")).to_have_text("Repair vendors")
    await shot(phone, "en-phone-vendors")


async def test_the_borrower_confirms_receipt_from_the_signed_link(
    browser: Browser, stack: Stack
) -> None:
    """The SMS link opens the case with its task, no identity asked; an answer left out comes
    back with the reason beside the field and the note kept; then the case moves on."""
    code, _ = await approved_loan(stack)
    link = requester_link(stack.base_url, stack.settings.secret_key, code)
    await wait_for_requester_task(stack.http, code, token=link.split("?k=")[1])
    person = await new_page(browser, stack, locale="fa-IR")
    await person.goto(link)
    form = person.locator("form.requester-task")
    await expect(form.locator("h4")).to_have_text("تایید تحویل گرفتن وسیله")
    await expect(person.locator("#f-tracking_code")).to_have_count(0)
    await shot(person, "fa-requester-task")
    await person.fill("#f-note", "کیف همراهش نبود")
    await form.locator("button[type=submit]").click()
    await expect(person.locator("#e-received")).to_have_text("پر کردن این فیلد الزامی است.")
    assert await person.input_value("#f-note") == "کیف همراهش نبود"
    await shot(person, "fa-requester-task-error")
    english = await new_page(browser, stack)
    await english.goto("/lang/en?next=/")
    await english.goto(link)
    await expect(english.locator("form.requester-task h4")).to_have_text(
        "Confirm you received the device"
    )
    await expect(english.locator("form.requester-task legend")).to_contain_text(
        "Did you receive the device?"
    )
    await shot(english, "en-requester-task")
    await person.check("input[name=received][value=true]")
    await person.locator("form.requester-task button[type=submit]").click()
    await expect(person.locator("#task-decided")).to_have_text("پاسخ شما ثبت شد.")
    await expect(person.locator("form.requester-task")).to_have_count(0)
    await shot(person, "fa-requester-task-done")
    for _ in range(100):
        await person.goto(link)
        if await person.locator(".answer").count():
            break
        await person.wait_for_timeout(100)
    await expect(person.locator(".answer")).to_contain_text("B-")
    await person.goto(f"/lang/en?next=/track/{code}")
    await expect(person.locator("#f-tracking_code")).to_have_value(code)
    await person.goto(link)
    await expect(person.locator("html")).to_have_attribute("dir", "ltr")
    await shot(person, "en-requester-answer")
