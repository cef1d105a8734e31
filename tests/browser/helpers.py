"""What the browser tests share: how a page is opened, shot and checked with axe-core, and
the staff's and the person's usual paths (log in, open a task from the cartable, track)."""

from __future__ import annotations

import re
from pathlib import Path

from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, expect

from tests.stack import PASSWORD, Stack

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SHOTS = Path(__file__).parent.parent / "output" / "screenshots"
AXE = Axe()


async def new_page(browser: Browser, stack: Stack, **options: object) -> Page:
    context = await browser.new_context(base_url=stack.base_url, **options)  # type: ignore[arg-type]
    return await context.new_page()


async def shot(page: Page, name: str) -> None:
    """A screenshot to look at, and axe-core's verdict on the page as shown."""
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    results = await AXE.run(page)
    assert results.violations_count == 0, f"{name}:\n{results.generate_report()}"


async def log_in(page: Page, username: str) -> None:
    await page.goto("/login")
    await page.fill("#f-username", username)
    await page.fill("#f-password", PASSWORD)
    await page.click("form.form button[type=submit]")
    await expect(page).to_have_url(re.compile(r"/cartable"))


async def open_from_cartable(page: Page, code: str, name: str) -> None:
    """The expert's path: find the case's task in the cartable and open it."""
    row = page.locator("table.tasks tr", has_text=re.compile(f"{code}|{to_fa_digits(code)}"))
    for _ in range(100):
        await page.goto("/cartable")
        if await row.count():
            break
        await page.wait_for_timeout(100)
    await shot(page, f"{name}-cartable")
    await row.locator("td a").first.click()
    await expect(page.locator("form.form")).to_be_visible()
    await shot(page, f"{name}-task")


async def decide_in_cartable(page: Page, code: str, choice: str, name: str) -> None:
    await open_from_cartable(page, code, name)
    await page.check(choice)
    await page.click("form.form button[type=submit]")
    await expect(page).to_have_url(re.compile(r"/cartable\?done=1"))


def to_fa_digits(text: str) -> str:
    return text.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))


async def track(page: Page, code: str, national_code: str) -> None:
    await page.goto("/track")
    await page.fill("#f-tracking_code", code)
    await page.fill("#f-national_code", national_code)
    await page.click("form.form button[type=submit]")
