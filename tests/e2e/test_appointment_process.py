"""Process 3 over HTTP on the dev server, as the unit's secretariat, the automation admin and
the unit's head do it: the letter with its PDF, the post and cartable, the one-time hand-over;
then the end of the appointment frees the post, and the next letter re-uses it."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from db.models import Case, OutboundMessage
from db.office_automation import Post, Unit, unit_scope
from domain.cases import Role
from domain.office_automation import PostState
from tests import samples
from tests.e2e.test_email_process import login, wait_for_task
from tests.e2e.test_sepas_process import add_login
from tests.factories import national_code
from tests.stack import Stack

HEAD = national_code(424242)


def add_unit(engine: Engine) -> str:
    code = f"E-{uuid.uuid4().hex[:5].upper()}"
    with Session(engine) as session:
        session.add(
            Unit(
                code=code,
                name="معاونت آموزشی",
                head_name="دکتر علی نادری",
                head_national_code=HEAD,
                head_mobile="09121112233",
            )
        )
        session.commit()
    return code


async def letter_file(http: httpx.AsyncClient, headers: dict[str, str]) -> int:
    kept = await http.post(
        "/api/files",
        data={"kind": "pdf"},
        files={"file": ("letter.pdf", samples.pdf(), "application/pdf")},
        headers=headers,
    )
    assert kept.status_code == 201, kept.text
    return int(kept.json()["id"])


async def decide(
    http: httpx.AsyncClient,
    headers: dict[str, str],
    code: str,
    step: str,
    process: str,
    decision: dict[str, Any],
) -> None:
    task = await wait_for_task(http, headers, code, step, process)
    answer = await http.post(f"/api/tasks/{task['id']}/complete", json=decision, headers=headers)
    assert answer.status_code == 200, answer.text


async def link_of(engine: Engine, code: str) -> str:
    for _ in range(300):
        with Session(engine) as session:
            sms = session.exec(
                select(OutboundMessage)
                .join(Case, col(Case.id) == col(OutboundMessage.case_id))
                .where(
                    Case.tracking_code == code,
                    col(OutboundMessage.message_key).endswith(":handover-link:1:sms"),
                )
            ).first()
        if sms is not None:
            return sms.body.split("/handover/")[1].split()[0]
        await asyncio.sleep(0.1)
    raise AssertionError(f"no link for {code}")


async def closed(http: httpx.AsyncClient, code: str, identity: str) -> dict[str, Any]:
    for _ in range(300):
        view = (await http.get(f"/api/track/{code}", params={"identity": identity})).json()
        if view["status"] != "open":
            return view
        await asyncio.sleep(0.1)
    raise AssertionError(f"case {code} did not close")


async def test_a_post_its_cartable_its_hand_over_and_its_end_over_http(
    stack: Stack, engine: Engine
) -> None:
    http = stack.http
    unit = add_unit(engine)
    secretary = await login(http, add_login(engine, Role.unit_secretary, unit_scope(unit)))
    admin = await login(http, add_login(engine, Role.automation_admin, "*"))
    person = national_code(515151)
    letter = {
        "letter_number": "2001/ص",
        "letter_date": "1405/09/09",
        "national_code": person,
        "first_name": "سارا",
        "last_name": "رحیمی",
        "personnel_number": "34567",
        "mobile": "09351234567",
        "post_title": "مدیر آموزش",
        "unit_code": unit,
        "effective_date": "1405/09/10",
        "is_manager": True,
        "letter_file_id": await letter_file(http, secretary),
    }
    sent = await http.post("/api/appointment-letters", json=letter, headers=secretary)
    assert sent.status_code == 201, sent.text
    code = sent.json()["tracking_code"]

    post_code = f"E2E-{uuid.uuid4().hex[:6]}"
    await decide(
        http,
        admin,
        code,
        "create_post",
        "automation_cartable",
        {"automation_code": post_code, "permissions_group": "مدیران"},
    )
    signature = await http.post(
        "/api/files",
        data={"kind": "signature"},
        files={"file": ("sign.png", samples.png(600, 200), "image/png")},
        headers=admin,
    )
    assert signature.status_code == 201, signature.text
    await decide(
        http,
        admin,
        code,
        "manager_access",
        "automation_cartable",
        {"signature_file_id": signature.json()["id"], "permissions": ["sign_letters"]},
    )
    await decide(
        http,
        admin,
        code,
        "create_cartable",
        "automation_cartable",
        {"username": "s.rahimi", "permissions": ["refer"], "initial_password": "Start-2026-x"},
    )
    token = await link_of(engine, code)
    opened = await http.post(f"/api/handover/{token}", json={"national_code": HEAD})
    assert opened.status_code == 200, opened.text
    assert opened.json()["credentials"]["password"] == "Start-2026-x"
    confirm = {"confirm_key": opened.json()["confirm_key"]}
    assert (await http.post(f"/api/handover/{token}/confirm", json=confirm)).status_code == 204
    view = await closed(http, code, person)
    assert [item["value"] for item in view["answer"]["items"]] == ["s.rahimi"]

    # The appointment ends: the post is freed, kept for the next one.
    ending = {
        "letter_number": "2002/ص",
        "letter_date": "1405/09/11",
        "national_code": person,
        "unit_code": unit,
        "post_code": post_code,
        "end_date": "1405/09/12",
        "letter_file_id": await letter_file(http, secretary),
    }
    sent = await http.post("/api/end-of-appointment-letters", json=ending, headers=secretary)
    assert sent.status_code == 201, sent.text
    end_code = sent.json()["tracking_code"]
    for step, done in (
        ("disable_cartable", ["user_disabled", "sessions_ended", "open_letters_referred"]),
        (
            "revoke_permissions",
            [
                "cartable_permissions_revoked",
                "management_permissions_revoked",
                "delegations_cancelled",
            ],
        ),
        ("withdraw_signature", ["removed_from_system", "signed_drafts_checked"]),
        ("free_post", ["holder_detached", "post_kept"]),
    ):
        await decide(http, admin, end_code, step, "automation_revocation", {"done": done})
    await closed(http, end_code, person)
    with Session(engine) as session:
        post = session.exec(select(Post).where(Post.automation_code == post_code)).one()
    assert post.state == PostState.vacant
