"""Process 2 in the browser, through the real pages: a member of HQ staff reports a faulty
printer, the support lead sends it to a vendor, the vendor reports from a phone, the lead sends
the work back once and then accepts it, the technician hands it over and the person confirms
receipt from the SMS link. Every page is shot and checked with axe-core."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta

from playwright.async_api import Browser, Page, expect
from sqlalchemy import Engine
from sqlmodel import Session

from db.repair import Asset
from domain.calendar import TEHRAN, to_jalali_date_str
from domain.cases import Role
from domain.repair import AssetKind
from domain.requester_link import requester_link
from tests.browser.helpers import log_in, new_page, open_from_cartable, shot, to_fa_digits, track
from tests.e2e.test_process_plugin import wait_for_requester_task
from tests.e2e.test_repair_process import add_staff, add_vendor_with_login
from tests.stack import Stack

PHONE = {"width": 390, "height": 844}
PERSONNEL_NUMBER = "۸۷۶۵۴۳"  # typed on a Persian keyboard


async def fits_the_phone(page: Page) -> None:
    """Nothing wider than the screen: no sideways scrolling."""
    width = await page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width}px wide on a {PHONE['width']}px phone"


async def submitted(page: Page) -> None:
    await page.click("form.form button[type=submit]")
    await expect(page).to_have_url(re.compile(r"/cartable\?done=1"))


async def vendor_reports(
    phone: Page, code: str, name: str, status: str, promised: str | None = None
) -> None:
    """The vendor, on its phone: the job in its cartable, its form, one report."""
    row = phone.locator("table.tasks tr", has_text=to_fa_digits(code))
    for _ in range(100):
        await phone.goto("/cartable")
        if await row.count():
            break
        await phone.wait_for_timeout(100)
    await fits_the_phone(phone)
    await shot(phone, f"{name}-cartable")
    await row.locator("td a").first.click()
    await expect(phone.locator("form.form")).to_be_visible()
    await expect(phone.locator("label[for=f-kind]")).to_contain_text("وضعیت کار")
    await phone.select_option("#f-kind", status)
    if promised is not None:
        await phone.fill("#f-promised_date", promised)
    await fits_the_phone(phone)
    for field in ("#f-kind", "#f-note", "#f-promised_date", "form.form button[type=submit]"):
        box = await phone.locator(field).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    await shot(phone, f"{name}-task")
    await submitted(phone)


async def test_a_printer_repaired_by_a_vendor(
    browser: Browser, stack: Stack, engine: Engine
) -> None:
    p = uuid.uuid4().hex[:5].upper()
    vendor, vendor_login = add_vendor_with_login(engine, f"رایان چاپ V{p}")
    property_number = f"PR-{p}"
    with Session(engine) as session:
        session.add(
            Asset(property_number=property_number, kind=AssetKind.printer, make_model="HP M404")
        )
        session.commit()
    lead_login = add_staff(engine, Role.support_lead)

    # 1. The person reports the fault from the home page and keeps the receipt.
    person = await new_page(browser, stack, locale="fa-IR")
    await person.goto("/")
    card = person.locator("li.card", has_text="اعلام خرابی تجهیزات رایانه‌ای")
    await card.locator("a").click()
    await expect(person.locator("h1")).to_have_text("اعلام خرابی تجهیزات رایانه‌ای")
    await person.fill("#f-personnel_number", PERSONNEL_NUMBER)
    await person.fill("#f-mobile", "۰۹۳۵۱۱۱۲۲۳۳")
    await person.fill("#f-full_name", "مریم احمدی")
    await person.fill("#f-unit", "امور مالی")
    await person.fill("#f-property_number", property_number)
    await person.fill("#f-location", "ستاد، اتاق ۲۰۴")
    await person.fill("#f-problem", "چاپگر کاغذ را گیر می‌اندازد و خط می‌اندازد")
    await person.check("input[name=urgency][value=high]")
    await shot(person, "repair-form-filled")
    await person.click("form.form button[type=submit]")
    await expect(person).to_have_url(re.compile(r"/receipt/\d{10}\?sig="))
    code = await person.get_attribute("[data-tracking-code]", "data-tracking-code")
    assert code and code.isdigit()
    receipt = person.locator(".receipt")
    await expect(receipt).to_contain_text("کد پیگیری")
    await expect(receipt.locator(".facts div", has_text="پاسخ")).to_contain_text("۱۴۰")
    await shot(person, "repair-receipt")

    # 2. The support lead assesses it (not in-house) and chooses the vendor.
    lead = await new_page(browser, stack, locale="fa-IR")
    await log_in(lead, lead_login)
    await open_from_cartable(lead, code, "repair-assess")
    facts = lead.locator(".facts")
    await expect(facts).to_contain_text("HP M404")
    await expect(facts.locator("div", has_text="در گارانتی")).to_contain_text("خیر")
    await expect(facts.locator("div", has_text="نوع تجهیز")).to_contain_text("چاپگر")
    await expect(lead.locator("form.form legend")).to_contain_text("در واحد پشتیبانی تعمیر")
    await lead.check("input[name=in_house][value=false]")
    await submitted(lead)
    await open_from_cartable(lead, code, "repair-choose-vendor")
    # The vendors offered are ids in the form's schema: the page shows their names (a few as
    # radio buttons, more in a list).
    if await lead.locator("select#f-vendor").count():
        await lead.select_option("#f-vendor", label=vendor.name)
    else:
        await lead.get_by_role("radio", name=vendor.name).check()
    assert await lead.get_attribute("#f-dispatched_on", "type") == "date"
    await lead.fill("#f-dispatched_on", datetime.now(TEHRAN).date().isoformat())
    await lead.fill("#f-taken_by", "آقای رضایی")
    await shot(lead, "repair-choose-vendor-filled")
    await submitted(lead)

    # 3. The vendor works from a phone: received (with a promised date), then repaired.
    phone = await new_page(browser, stack, viewport=PHONE, locale="fa-IR", is_mobile=True)
    await log_in(phone, vendor_login)
    promised = datetime.now(TEHRAN).date() + timedelta(days=7)
    await vendor_reports(phone, code, "repair-phone-received", "received", promised.isoformat())
    await vendor_reports(phone, code, "repair-phone-repaired", "repaired")

    # 4. The person sees the vendor's updates among the stages.
    await track(person, code, PERSONNEL_NUMBER)
    stages = person.locator(".timeline")
    await expect(stages).to_contain_text(vendor.name)
    await expect(stages).to_contain_text("تجهیز را تحویل گرفت")
    await expect(stages).to_contain_text(to_fa_digits(to_jalali_date_str(promised)))
    await expect(stages).to_contain_text("تعمیر را تمام کرد")
    await shot(person, "repair-track-vendor")
    english = await new_page(browser, stack)
    await english.goto("/lang/en?next=/track")
    await track(english, code, "876543")
    await expect(english.locator(".timeline")).to_contain_text("finished the repair")
    await shot(english, "en-repair-track-vendor")

    # 5. The lead sends it back (a reason left out is asked for beside its field, nothing
    # typed is lost), the vendor repairs it again, the lead accepts it with its cost.
    await open_from_cartable(lead, code, "repair-inspect")
    await lead.check("input[name=accepted][value=false]")
    await lead.fill("#f-minutes", "30")
    await lead.click("form.form button[type=submit]")
    await expect(lead.locator("#e-reason")).to_be_visible()
    assert await lead.get_attribute("#f-reason", "aria-invalid") == "true"
    assert await lead.is_checked("input[name=accepted][value=false]")
    assert await lead.input_value("#f-minutes") == "30"
    await shot(lead, "repair-inspect-error")
    await lead.fill("#f-reason", "هنوز روی کاغذ خط می‌اندازد")
    await submitted(lead)
    await vendor_reports(phone, code, "repair-phone-repaired-again", "repaired")
    await open_from_cartable(lead, code, "repair-inspect-again")
    await expect(lead.locator(".facts")).to_contain_text("۱")  # sent back once
    await lead.check("input[name=accepted][value=true]")
    await lead.fill("#f-minutes", "40")
    await lead.fill("#f-cost_material_rials", "9000000")
    await submitted(lead)

    # 6. The technician hands the printer over.
    technician = await new_page(browser, stack, locale="fa-IR")
    await log_in(technician, "e2e_technician")
    await open_from_cartable(technician, code, "repair-hand-over")
    await technician.fill("#f-handed_to", "مریم احمدی")
    await submitted(technician)

    # 7. The person opens the SMS link, confirms receipt with a score; the case closes.
    link = requester_link(stack.base_url, stack.settings.secret_key, code)
    await wait_for_requester_task(stack.http, code, token=link.split("?k=")[1])
    await person.goto(link)
    form = person.locator("form.requester-task")
    await expect(form.locator("h4")).to_have_text("تایید دریافت تجهیز")
    await form.locator("input[name=received][value=true]").check()
    await form.locator("#f-satisfaction").fill("5")
    await shot(person, "repair-confirm")
    await form.locator("button[type=submit]").click()
    await expect(person.locator("#task-decided")).to_be_visible()
    for _ in range(100):
        await person.goto(link)
        if await person.locator(".answer").count():
            break
        await person.wait_for_timeout(100)
    await expect(person.locator(".answer")).to_contain_text("تعمیر شد (توسط شرکت)")
    await expect(person.locator(".badge.closed")).to_be_visible()
    await shot(person, "repair-closed")

    await lead.goto(f"/cases/{code}")
    await expect(lead.locator(".timeline")).to_contain_text("دریافت تجهیز را تایید کرد")
    await shot(lead, "repair-case")
