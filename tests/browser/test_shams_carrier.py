"""The carrier's page in the browser: its report file sent, each row answered in place (here
rows the carrier cannot report on: a site never sent to it, a row without its site code), on
a desktop and on a phone. Every page is shot and checked with axe-core; the rows that are
taken are shown end to end in tests/e2e/test_shams_rollout.py."""

from __future__ import annotations

import uuid

from playwright.async_api import Browser, expect
from sqlalchemy import Engine
from sqlmodel import Session

from db.models import User
from domain.cases import Role
from domain.passwords import hash_password
from domain.shams_carrier import CARRIER_HEADERS
from tests.browser.helpers import log_in, new_page, shot
from tests.stack import PASSWORD, Stack

PHONE = {"width": 390, "height": 844}


def carrier_user(engine: Engine) -> str:
    username = f"carrier{uuid.uuid4().hex[:6]}"
    with Session(engine) as session:
        session.add(
            User(
                username=username,
                full_name="کارشناس مخابرات استان",
                password_hash=hash_password(PASSWORD),
                roles=[Role.carrier.value],
                scopes=["*"],
            )
        )
        session.commit()
    return username


async def test_the_carrier_sends_its_report_file(
    browser: Browser, stack: Stack, engine: Engine
) -> None:
    carrier = carrier_user(engine)
    header = ",".join(names[0] for names in CARRIER_HEADERS.values())
    rows = [
        "NOSITE-1,رانژه,بله,مرکز امام,fibre,,,,",
        ",رانژه,خیر,,,no_free_port,,,",
    ]
    page = await new_page(browser, stack, locale="fa-IR")
    await log_in(page, carrier)
    await page.click("nav a[href='/shams/carrier']")
    await expect(page.locator("a[href='/shams/carrier/template']")).to_be_visible()
    await shot(page, "fa-shams-carrier")
    await page.set_input_files(
        "#f-file",
        {
            "name": "carrier.csv",
            "mimeType": "text/csv",
            "buffer": ("\n".join([header, *rows]) + "\n").encode(),
        },
    )
    await page.click("form.form button[type=submit]")
    table = page.locator("#report-rows")
    await expect(page.locator("#report-summary")).to_contain_text("ثبت نشد")
    await expect(table.locator("tbody tr")).to_have_count(2)
    await expect(table).to_contain_text("پیدا نشد")
    await expect(table.locator("tr.outcome-rejected")).to_have_count(2)
    await expect(table.locator("tbody tr").nth(1).locator("td").first).to_have_text("۳")
    await expect(table.locator("tbody tr").nth(1)).to_contain_text("کد نقطه")
    await shot(page, "fa-shams-carrier-answers")

    phone = await new_page(browser, stack, viewport=PHONE, locale="fa-IR", is_mobile=True)
    await log_in(phone, carrier)
    await phone.goto("/shams/carrier")
    width = await phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], "the carrier's page must fit a phone"
    await shot(phone, "fa-phone-shams-carrier")
