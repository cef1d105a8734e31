"""Every kind of page under the Content-Security-Policy, in Chromium, with no violation and no
console error, and the pages still working: forms submit, and what /static/app.js does still
happens (a form sends once, a confirmation is asked, the print button shows, the error summary
takes the focus).

The pages are opened in an ordinary context (the policy enforced, as people get it). Violations
come from a `securitypolicyviolation` listener the context installs in every document before the
page's own scripts, reporting through a binding so none is lost across navigations; the listener
is shown to work by one deliberate violation. Axe-core is not run here: the other browser tests
run it under the same policy, unchanged, since it is injected with `page.evaluate` (a DevTools
evaluation, which the page's policy does not govern; `add_script_tag` would be refused).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page, expect

from api.headers import CSP
from domain.requester_link import requester_link
from tests.browser.helpers import log_in, to_fa_digits
from tests.browser.test_portal import fill_email_form
from tests.e2e.test_process_plugin import approved_loan, wait_for_requester_task
from tests.factories import form_data
from tests.stack import Stack

LISTENER = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.peygirViolation({
    page: location.href, directive: e.violatedDirective, blocked: e.blockedURI,
    source: e.sourceFile, line: e.lineNumber, sample: e.sample,
  });
});
"""


@dataclass
class Watched:
    """A context under the policy and everything its pages complained of."""

    context: BrowserContext
    page: Page
    violations: list[dict[str, Any]] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    async def goto(self, path: str, status: int = 200) -> None:
        answer = await self.page.goto(path)
        assert answer is not None and answer.status == status, (path, answer and answer.status)
        # The document really came with the policy; else this test would prove nothing.
        assert await answer.header_value("content-security-policy") == CSP, path

    def assert_clean(self) -> None:
        assert self.violations == [], self.violations
        assert self.console == [], self.console


async def watched(browser: Browser, stack: Stack, **options: Any) -> Watched:
    context = await browser.new_context(base_url=stack.base_url, **options)
    page = await context.new_page()
    seen = Watched(context, page)

    def violation(_source: Any, report: dict[str, Any]) -> None:
        seen.violations.append(report)

    def console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            seen.console.append(f"{message.type}: {message.text} ({message.location})")

    await context.expose_binding("peygirViolation", violation)
    await context.add_init_script(LISTENER)
    context.on("console", console)
    context.on("weberror", lambda error: seen.console.append(f"uncaught: {error.error}"))
    return seen


async def eventually(check: Callable[[], bool]) -> None:
    for _ in range(50):
        if check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("never happened")


STOP_AND_NOTE = """() => {
  window.submits = [];
  window.stopSubmits = (event) => {
    const form = event.target;
    const buttons = [...form.querySelectorAll("button[type=submit]")];
    window.submits.push({sent: form.dataset.sent, disabled: buttons.every((b) => b.disabled),
                         prevented: event.defaultPrevented});
    event.preventDefault();
  };
  window.addEventListener("submit", window.stopSubmits);
}"""
RELEASE = """() => {
  window.removeEventListener("submit", window.stopSubmits);
  const form = document.querySelector("form[data-once]");
  delete form.dataset.sent;
  form.querySelectorAll("button[type=submit]").forEach((b) => b.removeAttribute("disabled"));
}"""


async def sends_once(page: Page) -> None:
    """app.js's data-once: the first submit marks the form sent and disables its buttons; a second
    one is stopped. Observed by a listener on window, which hears the submit after app.js's on
    the document and keeps the page from leaving; then the form is submitted for real."""
    button = "form[data-once] button[type=submit]"
    await page.evaluate(STOP_AND_NOTE)
    await page.click(button)
    await page.evaluate("document.querySelector('form[data-once] button').disabled = false")
    await page.click(button)
    submits = await page.evaluate("window.submits")
    assert submits == [
        {"sent": "1", "disabled": True, "prevented": False},
        {"sent": "1", "disabled": False, "prevented": True},
    ], submits
    await page.evaluate(RELEASE)
    await page.click(button)


async def test_the_listener_sees_a_violation(browser: Browser, stack: Stack) -> None:
    """The harness itself: an inline script added to a page is refused and reported."""
    seen = await watched(browser, stack)
    await seen.goto("/")
    ran = await seen.page.evaluate(
        """() => new Promise((resolve) => {
             document.addEventListener("securitypolicyviolation", () => resolve(window.ranInline));
             const s = document.createElement("script");
             s.textContent = "window.ranInline = true";
             document.body.append(s);
           })"""
    )
    assert ran is None  # refused, not run
    await eventually(lambda: len(seen.violations) == 1)
    assert seen.violations[0]["directive"] == "script-src-elem"
    assert any("Content Security Policy" in line for line in seen.console), seen.console
    await seen.context.close()


async def test_public_pages_work_under_the_policy(browser: Browser, stack: Stack) -> None:
    seen = await watched(browser, stack, locale="fa-IR")
    page = seen.page
    await seen.goto("/")
    await expect(page.locator("li.card")).to_have_count(3)  # e-mail, repair, the tests' loan

    # Each start form; the e-mail one refused once (the summary takes the focus), then sent.
    for path in ("/repair/new", "/loan/new", "/email/new"):
        await seen.goto(path)
        await expect(page.locator("form[data-once]")).to_be_visible()
    data = form_data()
    await fill_email_form(page, {**data, "national_code": "1234567890"})
    await page.click("form.form button[type=submit]")
    await expect(page.locator("#e-national_code")).to_be_visible()
    await expect(page.locator("#form-errors")).to_be_focused()
    seen.console = [c for c in seen.console if "status of 422" not in c]  # the refusal itself
    await page.fill("#f-national_code", data["national_code"])
    await sends_once(page)
    await expect(page).to_have_url(re.compile(r"/receipt/\d{10}\?sig="))
    await expect(page.locator("button[data-print]")).to_be_visible()  # app.js un-hid it
    code = await page.get_attribute("[data-tracking-code]", "data-tracking-code")
    assert code

    # Tracking: the empty form, then a case opened from its signed link with a task for the
    # requester, which keeps its stricter Referrer-Policy and its form submits.
    await seen.goto("/track")
    loan, _ = await approved_loan(stack)
    link = requester_link(stack.base_url, stack.settings.secret_key, loan)
    await wait_for_requester_task(stack.http, loan, token=link.split("?k=")[1])
    answer = await page.goto(link)
    assert answer is not None and await answer.header_value("referrer-policy") == "no-referrer"
    assert await answer.header_value("content-security-policy") == CSP
    form = page.locator("form.requester-task")
    await form.locator("input[name=received][value=true]").check()
    await form.locator("button[type=submit]").click()
    await expect(page.locator("#task-decided")).to_be_visible()

    await page.goto("/lang/en?next=/")
    await expect(page.locator("html")).to_have_attribute("dir", "ltr")
    await seen.goto("/receipt/1234567890?sig=wrong", status=404)
    seen.console = [c for c in seen.console if "status of 404" not in c]  # the page asked for
    seen.assert_clean()
    await seen.context.close()


async def test_staff_and_admin_pages_work_under_the_policy(browser: Browser, stack: Stack) -> None:
    code = (await stack.http.post("/api/email-requests", json=form_data())).json()["tracking_code"]
    expert = await watched(browser, stack, locale="fa-IR")
    page = expert.page
    await expert.goto("/login")
    await log_in(page, "e2e_email_admin")  # the login form submits
    row = page.locator("table.tasks tr", has_text=re.compile(f"{code}|{to_fa_digits(code)}"))
    for _ in range(100):
        await expert.goto("/cartable")
        if await row.count():
            break
        await page.wait_for_timeout(100)
    await row.locator("td a").first.click()
    await expect(page).to_have_url(re.compile(r"/tasks/[^/]+$"))
    await page.check("input[name=form_complete][value=true]")
    await sends_once(page)
    await expect(page).to_have_url(re.compile(r"/cartable\?done=1"))
    expert.assert_clean()
    await expert.context.close()

    admin = await watched(browser, stack, locale="fa-IR")
    page = admin.page
    await admin.goto("/login")
    await log_in(page, "e2e_admin")
    await admin.goto(f"/cases/{code}")
    # app.js asks before a cancel: declined, nothing is sent and the case stays open.
    asked: list[str] = []

    async def decline(dialog: Any) -> None:
        asked.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", decline)
    await page.fill("#f-reason", "درخواست تکراری است")
    await page.click(".form.danger button[type=submit]")
    await eventually(lambda: len(asked) == 1)
    assert asked[0] == await page.get_attribute(".form.danger", "data-confirm")
    await expect(page.locator(".form.danger")).to_be_visible()
    await expect(page).to_have_url(re.compile(f"/cases/{code}$"))

    pages = ("/admin/users", "/admin/holidays", "/admin/assets", "/admin/shams/sites")
    for path in (*pages, "/admin/shams/counties", "/shams/board", "/admin/vendors"):
        await admin.goto(path)
        await expect(page.locator("h1")).to_be_visible()
    vendor = f"پارس {uuid.uuid4().hex[:5]}"
    await page.fill("#f-name", vendor)
    await page.check("input[name=fields][value=laptop]")
    await page.fill("#f-mobile", "09123456789")
    await page.click("form.form button[type=submit]")
    await expect(page.locator("table.tasks")).to_contain_text(vendor)
    admin.assert_clean()
    await admin.context.close()
