"""The SEPAS registers in the browser: the SEPAS expert searches the error bank, adds a pattern
(a bad one first: its error shows in place, what was typed stays), uploads an SRM export (a bad
one first: its errors show by row and column), and reads the hospitals, on a desktop and on a
phone. Every page is shot and checked with axe-core."""

from __future__ import annotations

import uuid

from playwright.async_api import Browser, expect
from sqlalchemy import Engine
from sqlmodel import Session

from db.models import User
from db.srm_import import SRM_FIELD_FA
from domain.cases import Role
from domain.passwords import hash_password
from tests.browser.helpers import log_in, new_page, shot, to_fa_digits
from tests.stack import PASSWORD, Stack

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
