"""Temporal unreachable: every route that needs it answers a clean 503 (or 409), never a 500.

The app gets a client whose calls raise what a connected temporalio client raises when the server
has gone (RPCError UNAVAILABLE, after its retries) or when an Update finds no worker to take it
before the RPC deadline (WorkflowUpdateRPCTimeoutOrCancelledError). The answer must be an ErrorBody
(API) or an error page (web).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.testclient import TestClient
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode

from api.app import create_app
from api.security import SESSION_COOKIE, issue_token
from api.web.pages import CSRF_COOKIE
from db.models import Case, Task
from domain.cases import Role, TaskStatus
from settings import Settings
from tests.factories import form_data, open_case
from tests.security.conftest import ADMIN, EXPERT


def server_gone() -> Exception:
    return RPCError("connection refused", RPCStatusCode.UNAVAILABLE, b"")


def no_worker() -> Exception:
    return WorkflowUpdateRPCTimeoutOrCancelledError()


class _Handle:
    def __init__(self, failure: Callable[[], Exception]) -> None:
        self._failure = failure

    async def _fail(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise self._failure()

    execute_update = query = describe = signal = start_update = _fail


class UnreachableTemporal:
    """Stands in for temporalio.client.Client; every call fails like a lost server."""

    def __init__(self, failure: Callable[[], Exception]) -> None:
        self._failure = failure
        self.service_client = self
        self.namespace = "default"

    async def check_health(self) -> bool:
        raise server_gone()

    async def start_workflow(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise server_gone()

    def get_workflow_handle(self, *args: Any, **kwargs: Any) -> _Handle:
        return _Handle(self._failure)

    def get_workflow_handle_for(self, *args: Any, **kwargs: Any) -> _Handle:
        return _Handle(self._failure)


FAILURES = {"server-gone": server_gone, "no-worker": no_worker}


@pytest.fixture(params=list(FAILURES))
def down(
    request: pytest.FixtureRequest, sec_settings: Settings, sec_engine: Engine
) -> Iterator[httpx.Client]:
    app = create_app(
        sec_settings,
        engine=sec_engine,
        temporal=UnreachableTemporal(FAILURES[request.param]),  # type: ignore[arg-type]
    )
    # Starlette's TestClient drives the ASGI app from this synchronous test.
    with TestClient(
        app, base_url="http://testserver", raise_server_exceptions=False, follow_redirects=False
    ) as client:
        yield client  # type: ignore[misc]


@pytest.fixture
def open_task(sec_engine: Engine) -> tuple[Case, Task]:
    case = open_case(sec_engine, form_data())
    assert case.id is not None
    task = Task(
        id=f"down-{uuid.uuid4().hex[:10]}",
        case_id=case.id,
        process="email_account",
        step="review_form",
        title_fa="بررسی فرم ارسالی",
        title_en="Review the submitted form",
        role=Role.email_admin.value,
        status=TaskStatus.open,
        due_at=case.created_at,
    )
    with Session(sec_engine, expire_on_commit=False) as session:
        session.add(task)
        session.commit()
    return case, task


def bearer(settings: Settings, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(settings, username)}"}


def page_auth(settings: Settings, username: str) -> dict[str, str]:
    token = issue_token(settings, username)
    return {"Cookie": f"{SESSION_COOKIE}={token}; {CSRF_COOKIE}=csrf-down"}


def clean_error(answer: httpx.Response, *allowed: int) -> None:
    assert answer.status_code in allowed, f"{answer.status_code}: {answer.text[:300]}"
    json_body = answer.headers.get("content-type", "").startswith("application/json")
    if answer.status_code >= 400 and json_body:
        body = answer.json()
        assert set(body) == {"code", "message", "errors"}


def test_submission_is_answered_cleanly(down: httpx.Client) -> None:
    """503 unavailable, or the receipt of a case kept for the recovery sweep to start."""
    answer = down.post("/api/email-requests", json=form_data())
    clean_error(answer, 201, 503)
    page = down.post(
        "/email/new",
        data={"csrf_token": "csrf-down", "form_token": str(uuid.uuid4()), **form_data()},
        headers={"Cookie": f"{CSRF_COOKIE}=csrf-down"},
    )
    clean_error(page, 303, 503)


def test_a_refused_submission_can_be_sent_again(down: httpx.Client) -> None:
    data = form_data()
    first = down.post("/api/email-requests", json=data)
    clean_error(first, 201, 503)
    if first.status_code == 503:  # "nothing was saved. Please try again."
        again = down.post("/api/email-requests", json=data)
        assert again.json().get("code") != "request_in_progress", again.text


def test_replayed_submission_is_refused_cleanly(down: httpx.Client, sec_engine: Engine) -> None:
    """An accepted case, replayed while Temporal is away: 503 (or its receipt), never a 500."""
    data = form_data()
    key = str(uuid.uuid4())
    open_case(sec_engine, data, key=key)
    answer = down.post("/api/email-requests", json=data, headers={"Idempotency-Key": key})
    clean_error(answer, 201, 503)


def test_case_page_shows_the_database_view(
    down: httpx.Client, open_task: tuple[Case, Task], sec_settings: Settings
) -> None:
    case, _ = open_task
    answer = down.get(f"/api/cases/{case.tracking_code}", headers=bearer(sec_settings, ADMIN))
    assert answer.status_code == 200, answer.text
    assert answer.json()["live"] is None
    page = down.get(f"/cases/{case.tracking_code}", headers=page_auth(sec_settings, ADMIN))
    assert page.status_code == 200


def test_health_says_degraded(down: httpx.Client) -> None:
    answer = down.get("/api/health")
    assert answer.status_code == 200
    assert answer.json()["temporal"] is False


def test_completion_is_unavailable(
    down: httpx.Client, open_task: tuple[Case, Task], sec_settings: Settings
) -> None:
    _, task = open_task
    answer = down.post(
        f"/api/tasks/{task.id}/complete",
        json={"form_complete": True},
        headers=bearer(sec_settings, EXPERT),
    )
    clean_error(answer, 503, 409)


def test_completion_page_is_unavailable(
    down: httpx.Client, open_task: tuple[Case, Task], sec_settings: Settings
) -> None:
    _, task = open_task
    answer = down.post(
        f"/tasks/{task.id}",
        data={"csrf_token": "csrf-down", "form_complete": "true"},
        headers=page_auth(sec_settings, EXPERT),
    )
    clean_error(answer, 503, 409)


def test_reassignment_is_unavailable(
    down: httpx.Client, open_task: tuple[Case, Task], sec_settings: Settings
) -> None:
    _, task = open_task
    answer = down.post(
        f"/api/tasks/{task.id}/reassign",
        json={"assignee": EXPERT, "reason": "Temporal is down"},
        headers=bearer(sec_settings, ADMIN),
    )
    clean_error(answer, 503, 409)


def test_cancel_is_unavailable(
    down: httpx.Client, open_task: tuple[Case, Task], sec_settings: Settings
) -> None:
    case, _ = open_task
    answer = down.post(
        f"/api/cases/{case.tracking_code}/cancel",
        json={"reason": "Temporal is down"},
        headers=bearer(sec_settings, ADMIN),
    )
    clean_error(answer, 503, 409)


def test_cancel_page_is_unavailable(
    down: httpx.Client, open_task: tuple[Case, Task], sec_settings: Settings
) -> None:
    case, _ = open_task
    answer = down.post(
        f"/cases/{case.tracking_code}/cancel",
        data={"csrf_token": "csrf-down", "reason": "Temporal is down"},
        headers=page_auth(sec_settings, ADMIN),
    )
    clean_error(answer, 503, 409)
