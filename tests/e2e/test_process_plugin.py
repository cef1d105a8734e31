"""A process declared only in the tests (loan_process.py) runs end to end through the generic
API and web pages: start form, receipt, cartable, task form, tracking with its own answer."""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import quote

import httpx
import pytest

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
    described = await handle.describe()
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


@pytest.mark.parametrize("attribute", ["kind", "workflow_id_prefix", "api_path", "web_path"])
def test_two_processes_may_not_share_a_key(attribute: str) -> None:
    from dataclasses import replace

    from processes.declaration import Registry
    from processes.email_account import EMAIL_ACCOUNT
    from tests.e2e.loan_process import LOAN

    clash = replace(LOAN, **{attribute: getattr(EMAIL_ACCOUNT, attribute)})
    with pytest.raises(ValueError, match=attribute):
        Registry([EMAIL_ACCOUNT, clash])
