"""The SHAMS rollout board in the browser: the director reads it on a desktop and on a phone
(late counties first and marked, the progress chart with its table of figures), opens a
county and one of its sites; a county's user sees its own county only. Every page is shot and
checked with axe-core."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, time, timedelta

from playwright.async_api import Browser, expect
from sqlalchemy import Engine
from sqlmodel import Session, select

from db.models import User
from db.shams import Site, SiteEvent, county_scope
from db.shams_board import tehran_today
from domain.calendar import TEHRAN
from domain.cases import Role
from domain.passwords import hash_password
from domain.shams import SiteState
from tests.browser.helpers import log_in, new_page, shot
from tests.browser.test_shams import PHONE
from tests.db.test_shams_board import Rollout, seed_rollout
from tests.stack import PASSWORD, Stack


def user(engine: Engine, role: Role, *scopes: str) -> str:
    username = f"{role.value[:6]}{uuid.uuid4().hex[:6]}"
    with Session(engine) as session:
        session.add(
            User(
                username=username,
                full_name="مدیر فناوری اطلاعات",
                password_hash=hash_password(PASSWORD),
                roles=[role.value],
                scopes=list(scopes or ("*",)),
            )
        )
        session.commit()
    return username


def with_history(engine: Engine, seeded: Rollout) -> None:
    """The rollout's connected sites connected on days of the last weeks, for the chart."""
    today = tehran_today()
    with Session(engine) as session:
        connected = session.exec(
            select(Site).where(
                Site.rollout_id == seeded.rollout_id, Site.state == SiteState.connected
            )
        ).all()
        for n, site in enumerate(sorted(connected, key=lambda s: s.site_code)):
            day = today - timedelta(days=20 - 8 * n)
            at = datetime.combine(day, time(10), TEHRAN)
            session.add(
                SiteEvent(site_id=site.id or 0, state=SiteState.sent_to_carrier, at=at, actor="x")
            )
            session.add(
                SiteEvent(
                    site_id=site.id or 0,
                    state=SiteState.connected,
                    at=at + timedelta(days=3),
                    actor="system",
                )
            )
        session.commit()


async def test_the_director_reads_the_board(browser: Browser, stack: Stack, engine: Engine) -> None:
    seeded = seed_rollout(engine, tehran_today())
    with_history(engine, seeded)
    director = user(engine, Role.it_director)
    board = f"/shams/board?rollout={seeded.rollout_id}"

    page = await new_page(browser, stack, locale="fa-IR")
    await log_in(page, director)
    await page.click("nav a[href='/shams/board']")
    await page.select_option("#f-rollout", seeded.rollout_id)
    await page.click("form.filters button[type=submit]")
    await expect(page).to_have_url(re.compile(re.escape(board) + "$"))
    first = page.locator("table.board tbody tr").first
    await expect(first).to_contain_text(f"شبکه بهداشت {seeded.silent_longer}")
    await expect(first.locator(".badge.late")).to_have_text("دیرکرد")
    await expect(page.locator("figure.chart svg polyline")).to_have_count(1)
    await page.click("details > summary")
    await shot(page, "fa-shams-board")

    await page.click(f"a[href='/shams/board/counties/{seeded.busy}?rollout={seeded.rollout_id}']")
    await expect(page.locator("h1")).to_contain_text(f"شبکه بهداشت {seeded.busy}")
    await page.select_option("#f-state", "sent_to_carrier")
    await page.click("form.filters button[type=submit]")
    await expect(page.locator("table.tasks tbody tr")).to_have_count(3)
    await shot(page, "fa-shams-board-county")
    await page.locator("table.tasks tbody a.code").first.click()
    await expect(page.locator(".facts")).to_contain_text("ارسال به مخابرات")

    phone = await new_page(browser, stack, viewport=PHONE, locale="fa-IR", is_mobile=True)
    await log_in(phone, director)
    for path, name in (
        (board, "fa-phone-shams-board"),
        (
            f"/shams/board/counties/{seeded.busy}?rollout={seeded.rollout_id}",
            "fa-phone-shams-board-county",
        ),
        (f"/lang/en?next={board.replace('?', '%3F').replace('=', '%3D')}", "en-phone-shams-board"),
    ):
        await phone.goto(path)
        await expect(phone.locator("h1")).to_be_visible()
        width = await phone.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{path} must fit a phone without sideways scrolling"
        await shot(phone, name)
    await expect(phone.locator("h1")).to_have_text("SHAMS rollout progress")


async def test_a_county_sees_its_own_row(browser: Browser, stack: Stack, engine: Engine) -> None:
    seeded = seed_rollout(engine, tehran_today())
    page = await new_page(browser, stack, locale="fa-IR")
    await log_in(page, user(engine, Role.county_network, county_scope(seeded.silent)))
    await page.goto(f"/shams/board?rollout={seeded.rollout_id}")
    rows = page.locator("table.board tbody tr")
    await expect(rows).to_have_count(1)
    await expect(rows.first.locator(".badge.late")).to_be_visible()
    await shot(page, "fa-shams-board-county-user")
    answer = await page.goto(f"/shams/board/counties/{seeded.busy}")
    assert answer is not None and answer.status == 403
