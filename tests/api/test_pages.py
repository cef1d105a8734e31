"""Refused form posts keep the form as typed, with the reason beside the field or the form."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import Engine

from api.security import SESSION_COOKIE, issue_token
from domain.cases import Role, TaskStatus
from domain.email_account import FormReview
from settings import Settings
from tests.api.test_cartable import add_task
from tests.factories import form_data, open_case

CSRF_COOKIE = "peygir_csrf"
TYPED_REASON = "واحد با سوابق شما یکی نیست"


async def logged_in(api: httpx.AsyncClient, settings: Settings, username: str) -> None:
    api.cookies.set(SESSION_COOKIE, issue_token(settings, username))
    await api.get("/track")  # any page sets the CSRF cookie


async def post_refusal(api: httpx.AsyncClient, task_id: str) -> httpx.Response:
    return await api.post(
        f"/tasks/{task_id}",
        data={
            "csrf_token": api.cookies[CSRF_COOKIE],
            "form_complete": "false",
            "refusal_reason": TYPED_REASON,
        },
    )


def assert_form_kept_with_reason(page: httpx.Response, reason: str) -> None:
    """The decision form is there as typed, and the reason sits in its panel, before it."""
    html = page.text
    assert re.search(r'<form method="post" action="/tasks/[^"]+"', html), "the form is gone"
    assert TYPED_REASON in html
    assert re.search(r'name="form_complete" value="false" checked', html)
    panel = html[html.index('id="decision-title"') :]
    assert panel.index('id="task-problem"') < panel.index("<form")
    assert reason in panel[: panel.index("<form")]


async def test_a_task_closed_meanwhile_keeps_the_typed_decision(
    api: httpx.AsyncClient, engine: Engine, settings: Settings, make_user
) -> None:  # type: ignore[no-untyped-def]
    user, _ = make_user(Role.email_admin)
    task = add_task(
        engine,
        Role.email_admin,
        status=TaskStatus.done,
        form_schema=FormReview.model_json_schema(),
    )
    await logged_in(api, settings, user.username)
    page = await post_refusal(api, task.id)
    assert page.status_code == 409
    assert_form_kept_with_reason(page, "این کار دیگر باز نیست.")


async def test_a_task_given_to_someone_else_keeps_the_typed_decision(
    api: httpx.AsyncClient, engine: Engine, settings: Settings, make_user
) -> None:  # type: ignore[no-untyped-def]
    user, _ = make_user(Role.email_admin)
    other, _ = make_user(Role.email_admin)
    task = add_task(
        engine,
        Role.email_admin,
        assignee=other.username,
        form_schema=FormReview.model_json_schema(),
        context={"national_code": "0024173861"},
    )
    await logged_in(api, settings, user.username)
    page = await post_refusal(api, task.id)
    assert page.status_code == 403
    assert_form_kept_with_reason(page, "این کار به شما واگذار نشده است.")
    assert "0024173861" not in page.text and "۰۰۲۴۱۷۳۸۶۱" not in page.text  # no case data


async def test_a_second_request_is_refused_beside_the_national_code(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    data = form_data()
    open_case(engine, data)
    await api.get("/email/new")
    page = await api.post(
        "/email/new",
        data={
            **data,
            "requested_username": "another.name",
            "csrf_token": api.cookies[CSRF_COOKIE],
        },
    )
    assert page.status_code == 409
    beside = re.search(r'<p class="error" id="e-national_code" role="alert">([^<]+)</p>', page.text)
    assert beside and "در حال رسیدگی" in beside.group(1)
    assert 'id="f-national_code"' in page.text and 'aria-invalid="true"' in page.text
    assert 'value="another.name"' in page.text  # what was typed stays


async def test_the_registry_answer_is_shown_in_the_page_language(
    api: httpx.AsyncClient, engine: Engine, settings: Settings, make_user
) -> None:  # type: ignore[no-untyped-def]
    """The identity task's context carries the registry check's answer in English."""
    user, _ = make_user(Role.email_admin)
    task = add_task(engine, Role.email_admin, context={"registry": "not in the registry"})
    await logged_in(api, settings, user.username)
    fa = await api.get(f"/tasks/{task.id}")
    assert "در سامانه اطلاعات افراد یافت نشد" in fa.text
    assert "not in the registry" not in fa.text
    api.cookies.set("lang", "en")
    en = await api.get(f"/tasks/{task.id}")
    assert "Not in the person registry" in en.text
