"""Process 3's registers in the browser: the automation admin adds a unit (a bad one first: its
errors show in place, what was typed stays), imports the units' list (a bad row first: its errors
show by row and column and nothing is written), and adds a post on the unit's page; a unit's
secretariat reads its own unit's posts, holders and hand-over states, and is refused another
unit's page. On a desktop and on a phone; every page is shot and checked with axe-core."""

from __future__ import annotations

import uuid
from datetime import date

from playwright.async_api import Browser, expect
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from db.models import User
from db.office_automation import AppointmentCase, Post, Unit, unit_scope
from db.seed import national_code
from db.stored_files import store
from db.unit_register import UNIT_FIELD_FA
from domain.cases import Role
from domain.office_automation import HandoverState, PostState
from domain.passwords import hash_password
from domain.uploads import UploadKind, check
from tests import samples
from tests.browser.helpers import log_in, new_page, shot, to_fa_digits
from tests.factories import form_data, open_case
from tests.stack import PASSWORD, Stack

PHONE = {"width": 390, "height": 844}
HEAD = national_code("127360958")


def login(engine: Engine, role: Role, *scopes: str) -> str:
    username = f"{role.value[:8]}{uuid.uuid4().hex[:6]}"
    with Session(engine) as session:
        session.add(
            User(
                username=username,
                full_name="کاربر آزمون اتوماسیون",
                password_hash=hash_password(PASSWORD),
                roles=[role.value],
                scopes=list(scopes) or ["*"],
            )
        )
        session.commit()
    return username


def held_posts(engine: Engine, stack: Stack, unit_code: str) -> None:
    """Two posts of the unit: a manager's held and handed over, an expert's whose credentials'
    link went out; and a vacant one."""
    with Session(engine) as session:
        for title, is_manager, holder, state in (
            ("مدیر امور اداری", True, "زهرا محمدی", HandoverState.confirmed),
            ("کارشناس دبیرخانه", False, "علی کریمی", HandoverState.link_sent),
        ):
            post = Post(
                unit_code=unit_code,
                title=title,
                automation_code=f"P-{uuid.uuid4().hex[:6]}",
                is_manager=is_manager,
                state=PostState.held,
                holder_name=holder,
                holder_national_code=HEAD,
                held_from=date(2026, 11, 22),
            )
            session.add(post)
            session.commit()
            case = open_case(engine, form_data())
            letter = store(
                session,
                stack.settings.file_store_dir,
                check(samples.pdf(), UploadKind.pdf),
                uploaded_by="unit_secretary",
                case_id=case.id,
            )
            first, last = holder.split()
            session.add(
                AppointmentCase(
                    case_id=case.id or 0,
                    letter_number=f"{uuid.uuid4().hex[:4]}/د",
                    letter_date=date(2026, 11, 20),
                    national_code=HEAD,
                    first_name=first,
                    last_name=last,
                    personnel_number="991203",
                    mobile="09121234567",
                    post_title=title,
                    unit_code=unit_code,
                    effective_date=date(2026, 11, 22),
                    is_manager=is_manager,
                    letter_file_id=letter.id or 0,
                    post_id=post.id,
                    handover_state=state,
                )
            )
        session.add(Post(unit_code=unit_code, title="کارشناس بودجه"))
        session.commit()


async def test_the_automation_admin_keeps_the_units_and_a_secretariat_reads_its_own(
    browser: Browser, stack: Stack, engine: Engine
) -> None:
    word = uuid.uuid4().hex[:5].upper()
    mine, other = f"U{word}", f"V{word}"
    admin = login(engine, Role.automation_admin)
    page = await new_page(browser, stack, locale="fa-IR")
    await log_in(page, admin)
    await page.click("nav a[href='/admin/automation/units']")
    await expect(page.locator("h1")).to_have_text("واحدهای سازمانی (اتوماسیون اداری)")

    await page.fill("#f-code", mine)
    await page.fill("#f-name", f"معاونت پشتیبانی {word}")
    await page.fill("#f-head_name", "دکتر رضایی")
    await page.fill("#f-head_national_code", "۱۲۳۴۵۶۷۸۹۰")
    await page.fill("#f-head_mobile", "۰۹۱۲۱۲۳۴۵۶۷")
    await page.click("#unit-form ~ form button[type=submit]")
    await expect(page.locator("#e-head_national_code")).to_be_visible()
    assert await page.input_value("#f-name") == f"معاونت پشتیبانی {word}"
    await shot(page, "fa-automation-unit-error")
    await page.fill("#f-head_national_code", HEAD)
    await page.click("#unit-form ~ form button[type=submit]")
    await expect(page.locator(".ok")).to_contain_text("واحد ذخیره شد")

    header = ",".join(UNIT_FIELD_FA[f] for f in UNIT_FIELD_FA if f not in ("head_email", "active"))
    good = f"{other},دانشکده پزشکی {word},{mine},دکتر احمدی,{HEAD},09121234568"
    no_mobile = f"W{word},دانشکده دندان‌پزشکی,{mine},دکتر کاظمی,{HEAD},0912"
    no_parent = f"X{word},دانشکده داروسازی,NOWHERE,دکتر کاظمی,{HEAD},09121234569"
    bad = f"{header}\n{good}\n{no_mobile}\n{no_parent}\n"
    await page.set_input_files(
        "#f-file", {"name": "units.csv", "mimeType": "text/csv", "buffer": bad.encode()}
    )
    await page.click("#import-title ~ form button[type=submit]")
    errors = page.locator("#import-errors + .table-wrap")
    await expect(page.locator("#import-errors")).to_be_visible()
    await expect(errors).to_contain_text("کد واحد بالادستی")
    await expect(errors).to_contain_text("تلفن همراه بالاترین مقام")
    await expect(errors.locator("tbody tr")).to_have_count(2)
    await expect(errors.locator("tbody tr td").first).to_have_text(to_fa_digits("3"))
    await shot(page, "fa-automation-units-import-errors")
    with Session(engine) as session:
        codes = [other, f"W{word}", f"X{word}"]
        assert session.exec(select(Unit).where(col(Unit.code).in_(codes))).first() is None
    await page.set_input_files(
        "#f-file",
        {"name": "units.csv", "mimeType": "text/csv", "buffer": f"{header}\n{good}\n".encode()},
    )
    await page.click("#import-title ~ form button[type=submit]")
    await expect(page.locator(".ok")).to_contain_text("فهرست وارد شد")
    await expect(page.locator("table.tasks")).to_contain_text(f"دانشکده پزشکی {word}")
    await shot(page, "fa-automation-units")

    held_posts(engine, stack, mine)
    await page.click(f"table.tasks a[href='/admin/automation/units/{mine}']")
    await page.fill("#f-title", "معاون آموزشی")
    await page.check("#f-is_manager")
    await page.click("#post-form ~ form button[type=submit]")
    await expect(page.locator(".ok")).to_contain_text("پست افزوده شد")
    posts = page.locator("table.tasks")
    await expect(posts).to_contain_text("معاون آموزشی")
    await expect(posts).to_contain_text("دریافت تایید شد")
    await expect(posts).to_contain_text("پیوند یک‌بارمصرف ارسال شد")
    await shot(page, "fa-automation-unit-admin")

    secretary = login(engine, Role.unit_secretary, unit_scope(mine))
    desk = await new_page(browser, stack, locale="fa-IR")
    await log_in(desk, secretary)
    await desk.click("nav a[href='/admin/automation/units']")
    rows = desk.locator("table.tasks tbody tr")
    await expect(rows).to_have_count(1)
    await expect(desk.locator("#unit-form")).to_have_count(0)
    await desk.click(f"table.tasks a[href='/admin/automation/units/{mine}']")
    await expect(desk.locator("table.tasks")).to_contain_text("زهرا محمدی")
    await expect(desk.locator("table.tasks")).to_contain_text("دارای متصدی")
    await expect(desk.locator("#post-form")).to_have_count(0)
    await shot(desk, "fa-automation-unit-secretary")
    refused = await desk.goto(f"/admin/automation/units/{other}")
    assert refused is not None and refused.status == 403
    await shot(desk, "fa-automation-unit-other-refused")

    phone = await new_page(browser, stack, viewport=PHONE, locale="fa-IR", is_mobile=True)
    await log_in(phone, secretary)
    await phone.goto(f"/admin/automation/units/{mine}")
    width = await phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], "the unit's page must fit a phone without sideways scrolling"
    await shot(phone, "fa-phone-automation-unit")
    await phone.goto(f"/lang/en?next=/admin/automation/units/{mine}")
    await expect(phone.locator("#posts-title")).to_have_text("Posts and holders")
    await expect(phone.locator("table.tasks")).to_contain_text("Receipt confirmed")
    await shot(phone, "en-phone-automation-unit")
