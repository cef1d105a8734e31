"""The SHAMS register in the browser: the IT office adds a county, the county's user uploads its
sites (a bad file first: its errors show by row and column in place), finds a site and opens
its history, on a desktop and on a phone. Every page is shot and checked with axe-core."""

from __future__ import annotations

import uuid
from urllib.parse import quote

from playwright.async_api import Browser, expect
from sqlalchemy import Engine
from sqlmodel import Session

from db.models import User
from db.shams import County, county_scope
from db.site_register import SITE_FIELD_FA
from domain.cases import Role
from domain.passwords import hash_password
from tests.api.test_shams_one_site import collect_task
from tests.browser.helpers import log_in, new_page, shot, to_fa_digits
from tests.stack import PASSWORD, Stack

PHONE = {"width": 390, "height": 844}


def county_user(engine: Engine, county: str) -> str:
    username = f"county{uuid.uuid4().hex[:6]}"
    with Session(engine) as session:
        session.add(
            User(
                username=username,
                full_name="کارشناس شبکه",
                password_hash=hash_password(PASSWORD),
                roles=[Role.county_network.value],
                scopes=[county_scope(county)],
            )
        )
        session.commit()
    return username


async def test_a_county_uploads_its_sites(browser: Browser, stack: Stack, engine: Engine) -> None:
    p = uuid.uuid4().hex[:5].upper()
    county = f"B{p}"

    office = await new_page(browser, stack, locale="fa-IR")
    await log_in(office, "e2e_admin")
    await office.click("nav a[href='/admin/shams/counties']")
    await office.fill("#f-code", county)
    await office.fill("#f-name", "شبکه بهداشت و درمان آران و بیدگل")
    await office.fill("#f-mobile", "۱۲۳")
    await office.click("form.form button[type=submit]")
    await expect(office.locator("#e-mobile")).to_be_visible()
    assert await office.input_value("#f-name") == "شبکه بهداشت و درمان آران و بیدگل"
    await shot(office, "fa-shams-county-error")
    await office.fill("#f-mobile", "۰۹۱۳۱۲۳۴۵۶۷")
    await office.click("form.form button[type=submit]")
    await expect(office.locator("table.tasks")).to_contain_text("آران و بیدگل")
    await shot(office, "fa-shams-counties")

    header = ",".join(SITE_FIELD_FA.values())
    good = f"{county},{p}-1,,خانه بهداشت قمصر,خانه بهداشت,قمصر خیابان امام,,,۳۳٫۷۴,۵۱٫۴۳,فیبر نوری"
    bad = f"{county},{p}-2,,مرکز نمونه,مرکز فضایی,نشانی مرکز,123,,51.43,33.74,ADSL"
    page = await new_page(browser, stack, locale="fa-IR")
    await log_in(page, county_user(engine, county))
    await page.click("nav a[href='/admin/shams/sites']")
    await expect(page.locator("a[href='/admin/shams/sites/template']")).to_be_visible()
    await page.set_input_files(
        "#f-file",
        {
            "name": "sites.csv",
            "mimeType": "text/csv",
            "buffer": f"{header}\n{good}\n{bad}\n".encode(),
        },
    )
    await page.click("form.form button[type=submit]:not([name])")
    errors = page.locator("#import-error-rows")
    await expect(page.locator("#import-errors")).to_be_visible()
    await expect(errors).to_contain_text("نوع نقطه شناخته نیست")
    await expect(errors).to_contain_text("عرض جغرافیایی")
    await expect(errors).to_contain_text(to_fa_digits("3"))
    await shot(page, "fa-shams-upload-errors")
    await page.set_input_files(
        "#f-file",
        {"name": "sites.csv", "mimeType": "text/csv", "buffer": f"{header}\n{good}\n".encode()},
    )
    await page.click("form.form button[type=submit]:not([name])")
    await expect(page.locator(".ok")).to_contain_text("نقاط وارد شد")
    await page.fill("#f-q", p)
    await page.click("form.filters button[type=submit]")
    await expect(page.locator("table.tasks")).to_contain_text("خانه بهداشت قمصر")
    await shot(page, "fa-shams-sites")
    await page.click(f"a[href='/shams/sites/{p}-1']")
    await expect(page.locator(".timeline")).to_contain_text("ارسال‌شده توسط شبکه")
    await shot(page, "fa-shams-site")

    phone = await new_page(browser, stack, viewport=PHONE, locale="fa-IR", is_mobile=True)
    await log_in(phone, "e2e_admin")
    for path, name in (
        (f"/admin/shams/sites?q={p}", "fa-phone-shams-sites"),
        ("/admin/shams/counties", "fa-phone-shams-counties"),
    ):
        await phone.goto(path)
        width = await phone.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{path} must fit a phone without sideways scrolling"
        await shot(phone, name)
    await phone.goto(f"/lang/en?next=/admin/shams/sites?q={p}")
    await expect(phone.locator("h1")).to_have_text("SHAMS health-network sites")
    await shot(phone, "en-phone-shams-sites")


async def test_a_county_enters_one_site_on_its_task_and_the_case_counts_the_tasks(
    browser: Browser, stack: Stack, engine: Engine
) -> None:
    county = f"T{uuid.uuid4().hex[:5].upper()}"
    with Session(engine) as session:
        session.add(County(code=county, name="شبکه بهداشت و درمان نطنز"))
        session.commit()
    task_id = collect_task(engine, county)
    code = f"{county}-1"

    page = await new_page(browser, stack, locale="fa-IR")
    await log_in(page, county_user(engine, county))
    await page.goto(f"/tasks/{quote(task_id)}")
    await expect(page.locator("#sites-title")).to_be_visible()
    await expect(page.locator("a[href='/admin/shams/sites/template']")).to_be_visible()
    await shot(page, "fa-shams-county-task")
    await page.fill("#f-site_code", code)
    await page.fill("#f-name", "خانه بهداشت ابیانه")
    await page.select_option("#f-kind", "health_house")
    await page.select_option("#f-link_type", "wireless")
    await page.fill("#f-address", "روستای ابیانه، میدان اصلی")
    await page.fill("#f-latitude", "۵۱٫۶")
    await page.fill("#f-longitude", "۳۳٫۵")
    await page.click("#sites-title ~ form button[type=submit]")
    await expect(page.locator("#one-site-problem")).to_be_visible()
    await expect(page.locator("#e-latitude")).to_be_visible()
    assert await page.input_value("#f-name") == "خانه بهداشت ابیانه"
    await shot(page, "fa-shams-county-task-site-error")
    await page.fill("#f-latitude", "۳۳٫۵")
    await page.fill("#f-longitude", "۵۱٫۶")
    await page.click("#sites-title ~ form button[type=submit]")
    await expect(page.locator("#sites-title ~ .ok")).to_contain_text(code)
    assert await page.input_value("#f-site_codes") == code
    await shot(page, "fa-shams-county-task-site-entered")

    office = await new_page(browser, stack, locale="fa-IR")
    await log_in(office, "e2e_admin")
    await office.goto(f"/cases/{task_id.split(':')[0].split('-')[1]}")
    await expect(office.locator("#part-tasks")).to_be_visible()
    await expect(office.locator("details.part-tasks a")).to_have_count(1)
    await shot(office, "fa-shams-rollout-case")
