"""Process 3 in the browser, as its people do it: the unit's secretariat sends the appointment
letter with its PDF; the automation admin creates the post and the cartable (a checklist of
permissions, the initial password typed once in a password box); the unit's head opens the
one-time link on a phone, gives a wrong national code, then the right one, sees the username and
password once, and confirms receipt. Every page is shot and checked with axe-core."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from playwright.async_api import Browser, expect
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from db.models import Case, OutboundMessage, User
from db.office_automation import Unit, unit_scope
from db.seed import national_code
from domain.cases import CaseStatus, Role
from domain.passwords import hash_password
from tests import samples
from tests.browser.helpers import log_in, new_page, open_from_cartable, shot
from tests.stack import PASSWORD, Stack

PHONE = {"width": 390, "height": 844}
HEAD = national_code("127360958")


def login(engine: Engine, role: Role, *scopes: str) -> str:
    username = f"{role.value[:8]}{uuid.uuid4().hex[:6]}"
    with Session(engine) as session:
        session.add(
            User(
                username=username,
                full_name="کاربر آزمون کارتابل",
                password_hash=hash_password(PASSWORD),
                roles=[role.value],
                scopes=list(scopes) or ["*"],
            )
        )
        session.commit()
    return username


def add_unit(engine: Engine) -> str:
    code = f"U-{uuid.uuid4().hex[:5].upper()}"
    with Session(engine) as session:
        session.add(
            Unit(
                code=code,
                name="معاونت توسعه مدیریت",
                head_name="دکتر محمود صادقی",
                head_national_code=HEAD,
                head_mobile="09121112233",
            )
        )
        session.commit()
    return code


def link_of(engine: Engine, code: str) -> str:
    with Session(engine) as session:
        sms = session.exec(
            select(OutboundMessage)
            .join(Case, col(Case.id) == col(OutboundMessage.case_id))
            .where(
                Case.tracking_code == code,
                col(OutboundMessage.message_key).endswith(":handover-link:1:sms"),
            )
        ).one()
    return "/handover/" + sms.body.split("/handover/")[1].split()[0]


async def test_a_letter_becomes_a_cartable_handed_to_the_head_on_a_phone(
    browser: Browser, stack: Stack, engine: Engine, tmp_path: Path
) -> None:
    unit = add_unit(engine)
    letter = tmp_path / "ablagh.pdf"
    letter.write_bytes(samples.pdf())

    # 1. The unit's secretariat sends the letter, its PDF chosen in the form itself.
    secretary = await new_page(browser, stack, locale="fa-IR")
    await log_in(secretary, login(engine, Role.unit_secretary, unit_scope(unit)))
    await secretary.goto("/automation/new")
    for field, value in {
        "letter_number": "1234/ص",
        "letter_date": "2026-11-30",
        "national_code": "0012345679",
        "first_name": "مریم",
        "last_name": "احمدی",
        "personnel_number": "12345",
        "mobile": "09351234567",
        "post_title": "کارشناس امور اداری",
        "unit_code": unit,
        "effective_date": "2026-12-01",
    }.items():
        await secretary.fill(f"#f-{field}", value)
    await secretary.check("input[name=is_manager][value=false]")
    await secretary.set_input_files("#f-letter_file_id", str(letter))
    await shot(secretary, "automation-letter-form")
    await secretary.click("form.form button[type=submit]")
    await expect(secretary).to_have_url(re.compile(r"/receipt/"))
    await shot(secretary, "automation-letter-receipt")
    code = secretary.url.split("/receipt/")[1].split("?")[0]

    # 2. The automation admin: the post, then the cartable with its checklist and password.
    admin = await new_page(browser, stack, locale="fa-IR")
    await log_in(admin, login(engine, Role.automation_admin))
    await open_from_cartable(admin, code, "automation-create-post")
    await admin.fill("#f-automation_code", f"P-{uuid.uuid4().hex[:6]}")
    await admin.fill("#f-permissions_group", "کارشناسان")
    await admin.click("form.form button[type=submit]")
    await expect(admin).to_have_url(re.compile(r"/cartable\?done=1"))
    await open_from_cartable(admin, code, "automation-create-cartable")
    await admin.fill("#f-username", "m.ahmadi")
    for permission in ("receive_letters", "compose_internal", "refer"):
        await admin.check(f"input[name=permissions][value={permission}]")
    password = f"Init-{uuid.uuid4().hex[:8]}"
    await admin.fill("#f-initial_password", password)
    await expect(admin.locator("#f-initial_password")).to_have_attribute("type", "password")
    await shot(admin, "automation-create-cartable-filled")
    await admin.click("form.form button[type=submit]")
    await expect(admin).to_have_url(re.compile(r"/cartable\?done=1"))

    # 3. The head, on a phone: a wrong national code, the right one, the credentials once.
    phone = await new_page(browser, stack, viewport=PHONE, locale="fa-IR", is_mobile=True)
    for _ in range(100):
        try:
            link = link_of(engine, code)
            break
        except Exception:
            await phone.wait_for_timeout(100)
    await phone.goto(link)
    await shot(phone, "fa-phone-handover")
    await phone.fill("#f-national_code", "0012345679")
    await phone.click("form.form button[type=submit]")
    await expect(phone.locator("[role=alert]")).to_contain_text("کد ملی")
    await shot(phone, "fa-phone-handover-wrong-code")
    await phone.fill("#f-national_code", HEAD)
    await phone.click("form.form button[type=submit]")
    await expect(phone.locator("code.secret")).to_have_text(password)
    await shot(phone, "fa-phone-handover-shown")
    await phone.click("form.form button[type=submit]")
    await expect(phone.locator("[role=status]")).to_contain_text("تایید شد")
    await shot(phone, "fa-phone-handover-confirmed")
    # Gone for good: the page shows it no more.
    await phone.goto(link)
    assert password not in await phone.content()
    for _ in range(100):
        with Session(engine) as session:
            case = session.exec(select(Case).where(Case.tracking_code == code)).one()
        if case.status != CaseStatus.open:
            break
        await phone.wait_for_timeout(100)
    assert case.status == CaseStatus.closed
