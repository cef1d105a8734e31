"""Process 1 over HTTP, as the person and the experts do it, on a real Temporal dev server."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from db.models import Case, DirectoryMailbox, MailAccount, OutboundMessage, Task
from domain.text import to_persian_digits
from tests.factories import form_data, register_person
from tests.stack import PASSWORD, Stack
from workflows.email_account import EmailAccountWorkflow
from workflows.search_attributes import CURRENT_STEP, PROCESS_KIND, TRACKING_CODE

SEEN_SECRETS: list[str] = []
"""National codes and mobiles used here: none may reach Temporal's database in clear."""


async def login(http: httpx.AsyncClient, username: str) -> dict[str, str]:
    answer = await http.post("/api/auth/token", data={"username": username, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


async def wait_for_task(
    http: httpx.AsyncClient,
    headers: dict[str, str],
    tracking_code: str,
    step: str,
    process: str = "email_account",
) -> dict[str, Any]:
    for _ in range(300):
        listing = await http.get("/api/tasks", headers=headers, params={"process": process})
        assert listing.status_code == 200, listing.text
        for item in listing.json()["items"]:
            if item["tracking_code"] == tracking_code and item["step"] == step:
                return item
        await asyncio.sleep(0.05)
    raise AssertionError(f"{step} of {tracking_code} never reached the cartable")


async def wait_closed(http: httpx.AsyncClient, code: str, national_code: str) -> dict[str, Any]:
    for _ in range(300):
        view = await http.get(f"/api/track/{code}", params={"national_code": national_code})
        assert view.status_code == 200, view.text
        if view.json()["status"] != "open":
            return view.json()
        await asyncio.sleep(0.05)
    raise AssertionError(f"case {code} did not close")


async def test_email_account_over_http(stack: Stack, engine: Engine) -> None:
    http = stack.http
    data = form_data(first_name="علي", last_name="كريمي")  # Arabic ي and ك: normalised
    SEEN_SECRETS.extend([data["national_code"], data["mobile"]])
    persian_digits = {**data, "national_code": to_persian_digits(data["national_code"])}
    key = str(uuid.uuid4())

    submitted = await http.post(
        "/api/email-requests", json=persian_digits, headers={"Idempotency-Key": key}
    )
    assert submitted.status_code == 201, submitted.text
    code = submitted.json()["tracking_code"]
    assert submitted.json()["answer_due_at_jalali"]
    again = await http.post(
        "/api/email-requests", json=persian_digits, headers={"Idempotency-Key": key}
    )
    assert again.status_code == 201 and again.json()["tracking_code"] == code
    assert again.headers["Idempotent-Replayed"] == "true"
    with Session(engine) as session:
        cases = session.exec(select(func.count()).where(Case.idempotency_key == key)).one()
        assert cases == 1
        case = session.exec(select(Case).where(Case.tracking_code == code)).one()
        assert case.requester_name == "علی کریمی"

    assert (await http.get("/api/tasks")).status_code == 401
    expert = await login(http, "e2e_email_admin")
    review = await wait_for_task(http, expert, code, "review_form")
    detail = (await http.get(f"/api/tasks/{review['id']}", headers=expert)).json()
    assert detail["form_schema"]["properties"]["form_complete"]["type"] == "boolean"
    assert detail["context"]["national_code"] == data["national_code"]

    technician = await login(http, "e2e_technician")
    denied = await http.post(
        f"/api/tasks/{review['id']}/complete", json={"form_complete": True}, headers=technician
    )
    assert denied.status_code == 403
    bad = await http.post(
        f"/api/tasks/{review['id']}/complete",
        json={"form_complete": False},
        headers={**expert, "Accept-Language": "en"},
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["code"] == "reason_required"
    assert bad.json()["errors"][0]["reason"] == "A reason is required when refusing."

    done = await http.post(
        f"/api/tasks/{review['id']}/complete", json={"form_complete": True}, headers=expert
    )
    assert done.status_code == 200, done.text
    assert done.json()["case_status"] == "open"

    identity = await wait_for_task(http, expert, code, "verify_identity")
    assert (
        await http.post(
            f"/api/tasks/{identity['id']}/complete",
            json={"identity_confirmed": True},
            headers=expert,
        )
    ).status_code == 200

    closed_task = await http.post(
        f"/api/tasks/{review['id']}/complete", json={"form_complete": True}, headers=expert
    )
    assert closed_task.status_code == 409

    unknown = await http.get(
        "/api/track/1234567890", params={"national_code": data["national_code"]}
    )
    wrong = await http.get(f"/api/track/{code}", params={"national_code": "0013542419"})
    assert unknown.status_code == wrong.status_code == 404
    assert unknown.json() == wrong.json()

    view = await wait_closed(http, code, to_persian_digits(data["national_code"]))
    address = f"{data['requested_username']}@{stack.settings.mail_domain}"
    assert view["answer"]["outcome"] == "done" and view["answer"]["reason"] is None
    assert [(i["key"], i["value"]) for i in view["answer"]["items"]] == [("address", address)]
    steps = [s["step"] for s in view["stages"]]
    assert steps[0] == "submitted" and "create_mailbox" in steps and "send_answer" in steps
    assert view["password_available"] is True

    wrong_reveal = await http.post(
        f"/api/track/{code}/password", json={"national_code": "0013542419"}
    )
    assert wrong_reveal.status_code == 404
    reveal = await http.post(
        f"/api/track/{code}/password", json={"national_code": data["national_code"]}
    )
    assert reveal.status_code == 200 and reveal.json()["login"] == address
    assert len(reveal.json()["password"]) >= 12
    assert (
        await http.post(
            f"/api/track/{code}/password", json={"national_code": data["national_code"]}
        )
    ).status_code == 410

    with Session(engine) as session:
        assert session.exec(select(func.count()).where(MailAccount.case_id == case.id)).one() == 1
        mailbox = session.get(DirectoryMailbox, data["requested_username"])
        assert mailbox is not None and reveal.json()["password"] not in mailbox.password_hash
        tasks = session.exec(select(Task).where(Task.case_id == case.id)).all()
        assert sorted(t.step for t in tasks) == ["review_form", "verify_identity"]
        answers = session.exec(
            select(OutboundMessage).where(OutboundMessage.case_id == case.id)
        ).all()
        assert sorted(m.channel for m in answers) == ["email", "sms"]
        assert all(reveal.json()["password"] not in m.body for m in answers)

    staff_view = (await http.get(f"/api/cases/{code}", headers=expert)).json()
    assert staff_view["status"] == "closed"
    kinds = [e["kind"] for e in staff_view["timeline"]]
    assert "task_completed" in kinds and kinds[-1] == "closed"

    handle = stack.client.get_workflow_handle_for(EmailAccountWorkflow.run, case.workflow_id)
    described = await handle.describe()
    attributes = described.typed_search_attributes
    assert attributes.get(PROCESS_KIND) == "email_account"
    assert attributes.get(TRACKING_CODE) == code
    assert attributes.get(CURRENT_STEP) == "end:done"
    found = [w.id async for w in stack.client.list_workflows(f"TrackingCode = '{code}'")]
    assert found == [case.workflow_id]


async def test_form_errors_bilingual(stack: Stack) -> None:
    bad = form_data(national_code="1111111111", mobile="12345", requested_username="9x")
    fa = await stack.http.post("/api/email-requests", json=bad)
    en = await stack.http.post("/api/email-requests", json=bad, headers={"Accept-Language": "en"})
    assert fa.status_code == en.status_code == 422
    fields = {e["field"]: e for e in en.json()["errors"]}
    assert set(fields) == {"national_code", "mobile", "requested_username"}
    assert fields["national_code"]["reason"] == "The national code is not valid."
    assert {e["field"]: e["reason"] for e in fa.json()["errors"]}["national_code"] == (
        "کد ملی معتبر نیست."
    )


async def test_registry_match_skips_identity_task(stack: Stack, engine: Engine) -> None:
    data = form_data()
    SEEN_SECRETS.extend([data["national_code"], data["mobile"]])
    register_person(engine, data)
    code = (await stack.http.post("/api/email-requests", json=data)).json()["tracking_code"]
    expert = await login(stack.http, "e2e_email_admin")
    review = await wait_for_task(stack.http, expert, code, "review_form")
    await stack.http.post(
        f"/api/tasks/{review['id']}/complete", json={"form_complete": True}, headers=expert
    )
    view = await wait_closed(stack.http, code, data["national_code"])
    assert view["answer"]["outcome"] == "done"


async def test_admin_cancel_over_http(stack: Stack) -> None:
    data = form_data()
    SEEN_SECRETS.extend([data["national_code"], data["mobile"]])
    code = (await stack.http.post("/api/email-requests", json=data)).json()["tracking_code"]
    expert = await login(stack.http, "e2e_email_admin")
    await wait_for_task(stack.http, expert, code, "review_form")
    refused = await stack.http.post(
        f"/api/cases/{code}/cancel", json={"reason": "تکراری"}, headers=expert
    )
    assert refused.status_code == 403
    admin = await login(stack.http, "e2e_admin")
    cancelled = await stack.http.post(
        f"/api/cases/{code}/cancel", json={"reason": "درخواست تکراری است"}, headers=admin
    )
    assert cancelled.status_code == 200 and cancelled.json() == "cancelled"
    view = await wait_closed(stack.http, code, data["national_code"])
    assert view["answer"]["outcome"] == "cancelled" and view["answer"]["items"] == []
    assert view["answer"]["reason"] == "درخواست تکراری است"


async def test_zz_no_personal_data_in_temporal_database(stack: Stack) -> None:
    """Runs last in this package: every national code and mobile used above stays encrypted."""
    assert SEEN_SECRETS
    blobs = b"".join(
        p.read_bytes() for p in stack.temporal_db.parent.glob(stack.temporal_db.name + "*")
    )
    assert len(blobs) > 10_000
    for secret in SEEN_SECRETS:
        assert secret.encode() not in blobs, "personal data in clear in Temporal's database"
    assert "علی".encode() not in blobs
