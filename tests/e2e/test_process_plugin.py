"""A process declared only in the tests (loan_process.py) runs end to end through the generic
API and web pages: start form, receipt, cartable, task form, tracking with its own answer, and
a task the borrower decides from the tracking page (with their identity or the signed link)."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from domain.requester_link import requester_link, requester_link_token
from tests.e2e.test_email_process import login, wait_closed, wait_for_task
from tests.stack import Stack
from workflows.search_attributes import CURRENT_STEP, PROCESS_KIND


def _csrf(page: httpx.Response) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, "no CSRF token on the page"
    return match.group(1)


def _loan(**overrides: Any) -> dict[str, Any]:
    data = {
        "personnel_number": str(uuid.uuid4().int % 10**8).rjust(8, "1"),
        "full_name": "مریم کاظمی",
        "unit": "معاونت آموزشی",
        "device": "laptop",
        "days": 3,
    }
    data.update(overrides)
    return data


async def wait_for_requester_task(
    http: httpx.AsyncClient, code: str, **opened_by: str
) -> dict[str, Any]:
    """The first open task the case asks of its requester, as the tracking answer lists it."""
    for _ in range(300):
        view = await http.get(f"/api/track/{code}", params=opened_by)
        assert view.status_code == 200, view.text
        if view.json()["tasks"]:
            task: dict[str, Any] = view.json()["tasks"][0]
            return task
        await asyncio.sleep(0.05)
    raise AssertionError(f"case {code} never asked its requester")


async def approved_loan(stack: Stack) -> tuple[str, dict[str, Any]]:
    """A loan the technician approved: its tracking code and its form."""
    data = _loan()
    submitted = await stack.http.post("/api/loan-requests", json=data)
    assert submitted.status_code == 201, submitted.text
    code: str = submitted.json()["tracking_code"]
    staff = await login(stack.http, "e2e_technician")
    task = await wait_for_task(stack.http, staff, code, "approve_loan", "test_laptop_loan")
    done = await stack.http.post(
        f"/api/tasks/{task['id']}/complete", json={"approved": True}, headers=staff
    )
    assert done.status_code == 200, done.text
    return code, data


async def test_a_process_declared_in_the_tests_runs_through_the_api(stack: Stack) -> None:
    http = stack.http
    data = _loan()
    bad = await http.post("/api/loan-requests", json={**data, "days": 90})
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["days"]

    submitted = await http.post(
        "/api/loan-requests", json=data, headers={"Idempotency-Key": str(uuid.uuid4())}
    )
    assert submitted.status_code == 201, submitted.text
    receipt = submitted.json()
    code = receipt["tracking_code"]
    assert receipt["process"] == "test_laptop_loan"

    staff = await login(http, "e2e_technician")
    task = await wait_for_task(http, staff, code, "approve_loan", "test_laptop_loan")
    assert task["step"] == "approve_loan" and task["title_fa"] == "تایید امانت"
    detail = (await http.get(f"/api/tasks/{task['id']}", headers=staff)).json()
    assert detail["context"]["device"] == "laptop"
    assert set(detail["form_schema"]["properties"]) == {"approved", "note"}

    handle = stack.client.get_workflow_handle(f"loan-{code}")
    # The task row is written by a local activity, before the workflow task that sets the
    # step's search attribute completes: the Temporal UI may show it a moment later.
    for _ in range(100):
        described = await handle.describe()
        if described.typed_search_attributes.get(CURRENT_STEP) == "approve_loan":
            break
        await asyncio.sleep(0.1)
    assert described.typed_search_attributes.get(PROCESS_KIND) == "test_laptop_loan"
    assert described.typed_search_attributes.get(CURRENT_STEP) == "approve_loan"

    wrong = await http.post(
        f"/api/tasks/{task['id']}/complete", json={"approved": "perhaps"}, headers=staff
    )
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "approved"
    done = await http.post(
        f"/api/tasks/{task['id']}/complete", json={"approved": True}, headers=staff
    )
    assert done.status_code == 200, done.text

    asked = await wait_for_requester_task(http, code, identity=data["personnel_number"])
    assert asked["step"] == "confirm_receipt" and asked["title_fa"] == "تایید تحویل گرفتن وسیله"
    assert set(asked["form_schema"]["properties"]) == {"received", "note"}
    assert asked["due_at_jalali"]
    confirmed = await http.post(
        f"/api/track/{code}/tasks/{asked['id']}",
        json={"identity": data["personnel_number"], "decision": {"received": True}},
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["task_id"] == asked["id"]

    view = await wait_closed(http, code, data["personnel_number"])
    assert view["process_title_en"] == "Laptop loan"
    assert view["answer"]["outcome"] == "done"
    assert [(i["key"], i["label_fa"]) for i in view["answer"]["items"]] == [("room", "محل تحویل")]
    assert view["password_available"] is False
    assert (
        await http.get(f"/api/track/{code}", params={"identity": "99999999"})
    ).status_code == 404
    assert await handle.result() == "done"


async def test_a_process_declared_in_the_tests_runs_through_the_web_pages(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as browser:
        home = await browser.get("/")
        assert 'href="/loan/new"' in home.text and "امانت لپ‌تاپ" in home.text

        form_page = await browser.get("/loan/new")
        assert form_page.status_code == 200
        assert "شماره پرسنلی" in form_page.text and "ویدئوپروژکتور" in form_page.text
        data = _loan()
        posted = {k: str(v) for k, v in data.items()}
        token = str(uuid.uuid4())
        refused = await browser.post(
            "/loan/new",
            data={**posted, "days": "0", "csrf_token": _csrf(form_page), "form_token": token},
        )
        assert refused.status_code == 422
        assert 'id="e-days"' in refused.text and data["full_name"] in refused.text

        accepted = await browser.post(
            "/loan/new",
            data={**posted, "csrf_token": _csrf(refused), "form_token": token},
        )
        assert accepted.status_code == 303, accepted.text
        receipt = await browser.get(accepted.headers["location"])
        code = re.search(r'data-tracking-code="(\d+)"', receipt.text)
        assert code and "کارشناس پشتیبانی درخواست را تایید می‌کند." in receipt.text
        tracking_code = code.group(1)

        login_page = await browser.get("/login")
        logged_in = await browser.post(
            "/login",
            data={
                "username": "e2e_technician",
                "password": "e2e-password-1",
                "next": "/cartable",
                "csrf_token": _csrf(login_page),
            },
        )
        assert logged_in.status_code == 303
        task = await wait_for_task(
            stack.http,
            await login(stack.http, "e2e_technician"),
            tracking_code,
            "approve_loan",
            "test_laptop_loan",
        )
        cartable = await browser.get("/cartable", params={"process": "test_laptop_loan"})
        assert f"/tasks/{quote(task['id'])}" in cartable.text and "امانت لپ‌تاپ" in cartable.text

        task_page = await browser.get(f"/tasks/{task['id']}")
        assert "امانت تایید می‌شود؟" in task_page.text and "لپ‌تاپ" in task_page.text
        decided = await browser.post(
            f"/tasks/{task['id']}",
            data={"approved": "false", "note": "موجود نیست", "csrf_token": _csrf(task_page)},
        )
        assert decided.status_code == 303, decided.text

        view = await wait_closed(stack.http, tracking_code, data["personnel_number"])
        assert view["answer"]["outcome"] == "refused" and view["answer"]["items"] == []
        assert view["answer"]["reason"] == "موجود نیست" and view["answer"]["text_fa"] is None
        track_page = await browser.get("/track")
        shown = await browser.post(
            "/track",
            data={
                "tracking_code": tracking_code,
                "national_code": data["personnel_number"],
                "csrf_token": _csrf(track_page),
            },
        )
        assert shown.status_code == 200 and "موجود نیست" in shown.text


async def test_the_borrower_alone_confirms_receipt_and_a_refusal_keeps_it_open(
    stack: Stack,
) -> None:
    http = stack.http
    code, data = await approved_loan(stack)
    identity = data["personnel_number"]
    asked = await wait_for_requester_task(http, code, identity=identity)
    url = f"/api/track/{code}/tasks/{asked['id']}"

    wrong = await http.post(url, json={"identity": "99999999", "decision": {"received": True}})
    unknown = await http.post(
        f"/api/track/9999999999/tasks/{asked['id']}",
        json={"identity": identity, "decision": {"received": True}},
    )
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.json() == unknown.json()
    no_factor = await http.post(url, json={"decision": {"received": True}})
    assert no_factor.status_code == 404 and no_factor.json() == unknown.json()

    # Staff cannot decide it: not even an admin holds the requester's role.
    technician = await login(http, "e2e_technician")
    admin = await login(http, "e2e_admin")
    for staff in (technician, admin):
        refused = await http.post(
            f"/api/tasks/{asked['id']}/complete", json={"received": True}, headers=staff
        )
        assert refused.status_code == 403, refused.text
        assert refused.json()["code"] == "task_not_yours"
    # Nor is it in any cartable.
    listing = await http.get("/api/tasks", headers=admin, params={"process": "test_laptop_loan"})
    assert asked["id"] not in [t["id"] for t in listing.json()["items"]]

    invalid = await http.post(
        url,
        json={"identity": identity, "decision": {"received": "perhaps", "colour": "red"}},
        headers={"Accept-Language": "en"},
    )
    assert invalid.status_code == 422, invalid.text
    problems = {e["field"]: e for e in invalid.json()["errors"]}
    assert set(problems) == {"received", "colour"}
    assert problems["colour"]["code"] == "unknown_field" and problems["received"]["reason"]
    persian = await http.post(url, json={"identity": identity, "decision": {}})
    assert persian.status_code == 422
    assert persian.json()["errors"] == [
        {"field": "received", "reason": "پر کردن این فیلد الزامی است.", "code": "required"}
    ]
    still = await wait_for_requester_task(http, code, identity=identity)
    assert still["id"] == asked["id"]

    confirmed = await http.post(
        url, json={"identity": identity, "decision": {"received": True, "note": "سالم است"}}
    )
    assert confirmed.status_code == 200, confirmed.text
    again = await http.post(url, json={"identity": identity, "decision": {"received": True}})
    assert again.status_code == 409 and again.json()["code"] == "task_not_open"
    view = await wait_closed(http, code, identity)
    assert view["answer"]["outcome"] == "done" and view["tasks"] == []
    detail = (await http.get(f"/api/tasks/{asked['id']}", headers=admin)).json()
    assert detail["completed_by"] == f"requester:{code}"
    assert detail["decision"] == {"received": True, "note": "سالم است"}


async def test_the_signed_link_stands_in_for_the_identity(stack: Stack) -> None:
    http = stack.http
    code, data = await approved_loan(stack)
    token = requester_link_token(stack.settings.secret_key, code)
    assert requester_link(stack.settings.public_base_url, stack.settings.secret_key, code) == (
        f"{stack.settings.public_base_url}/track/{code}?k={token}"
    )
    asked = await wait_for_requester_task(http, code, token=token)
    url = f"/api/track/{code}/tasks/{asked['id']}"

    other_case = requester_link_token(stack.settings.secret_key, "9999999999")
    for bad in (other_case, token[:-1], "x" * 22):
        assert (await http.get(f"/api/track/{code}", params={"token": bad})).status_code == 404
        refused = await http.post(url, json={"token": bad, "decision": {"received": True}})
        assert refused.status_code == 404
    # The token opens its own case only.
    other_code, _ = await approved_loan(stack)
    other = await http.post(
        f"/api/track/{other_code}/tasks/{asked['id']}",
        json={"token": token, "decision": {"received": True}},
    )
    assert other.status_code == 404

    confirmed = await http.post(url, json={"token": token, "decision": {"received": True}})
    assert confirmed.status_code == 200, confirmed.text
    view = await wait_closed(http, code, data["personnel_number"])
    assert view["answer"]["outcome"] == "done"


async def test_the_borrower_confirms_on_the_tracking_page(stack: Stack) -> None:
    """Plain HTML (no JavaScript): the link opens the case, a refused answer comes back as
    typed with the reason beside the field, the accepted one shows the case moving on."""
    code, data = await approved_loan(stack)
    token = requester_link_token(stack.settings.secret_key, code)
    await wait_for_requester_task(stack.http, code, token=token)
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as browser:
        wrong = await browser.get(f"/track/{code}", params={"k": "x" * 22})
        assert wrong.status_code == 404 and 'name="national_code"' in wrong.text
        page = await browser.get(f"/track/{code}", params={"k": token})
        assert page.status_code == 200, page.text
        assert page.headers["cache-control"] == "no-store"
        assert page.headers["referrer-policy"] == "no-referrer"
        assert "تایید تحویل گرفتن وسیله" in page.text and "وسیله را تحویل گرفتید؟" in page.text
        action = re.search(r'action="(/track/[^"]+/tasks/[^"]+)"', page.text)
        assert action, "no form for the borrower's task"
        refused = await browser.post(
            action.group(1),
            data={"k": token, "note": "کیف ندارد", "csrf_token": _csrf(page)},
        )
        assert refused.status_code == 422, refused.text
        assert 'id="e-received"' in refused.text and "کیف ندارد" in refused.text
        accepted = await browser.post(
            action.group(1),
            data={"k": token, "received": "true", "note": "", "csrf_token": _csrf(refused)},
        )
        assert accepted.status_code == 200, accepted.text
        assert 'id="task-decided"' in accepted.text and "requester-task" not in accepted.text
    view = await wait_closed(stack.http, code, data["personnel_number"])
    assert view["answer"]["outcome"] == "done"


@pytest.mark.parametrize("attribute", ["kind", "workflow_id_prefix", "api_path", "web_path"])
def test_two_processes_may_not_share_a_key(attribute: str) -> None:
    from dataclasses import replace

    from processes.declaration import Registry
    from processes.email_account import EMAIL_ACCOUNT
    from tests.e2e.loan_process import LOAN

    clash = replace(LOAN, **{attribute: getattr(EMAIL_ACCOUNT, attribute)})
    with pytest.raises(ValueError, match=attribute):
        Registry([EMAIL_ACCOUNT, clash])
