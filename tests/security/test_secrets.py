"""No personal data or password in clear where it must not be, after a real end-to-end run.

The e-mail process runs over HTTP on the stack, as people and experts do it: two requests (one
person unknown to the registry: review, then identity; one seeded person: review only), a staff
login by the API and by the login page, lookups by the API (national code in the query string) and
by the tracking page (in the form), and each initial password revealed once. Then:
- the Temporal server's SQLite file (with its -wal and -shm) holds none of the national codes
  (used and seeded), mobiles, names or passwords in clear;
- every log record of the stack's process during the run (the application's loggers, uvicorn and
  its access log, temporalio, all at DEBUG: tests/security/stack_process.py writes them with a
  handler) and what the process wrote to stdout/stderr hold none of them either;
- the application's database holds no password in clear: every column of every table of
  SQLModel.metadata, and the raw bytes of its file (freed pages and journal included);
- the payload keys and SECRET_KEY are in none of these, nor in `/api/health` or an error page.

In-process, the same keys stay out of a crash's 500, of the exception a server would log, and of
every log record of a request cycle; and a production start without real keys refuses to run.
"""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from sqlalchemy import select as sa_select
from sqlmodel import Session, SQLModel, col, select

import db.models  # noqa: F401  (every table on SQLModel.metadata)
from api.app import create_app
from api.web.pages import CSRF_COOKIE
from db.models import Case, Task
from db.seed import demo_people
from domain.cases import CaseStatus, TaskStatus
from domain.text import to_persian_digits
from settings import AppEnv, Settings
from tests.factories import form_data
from tests.security.conftest import DEMO_PASSWORD, EXPERT, SecurityStack
from workflows.client import connect

OTHER_PASSWORDS = (
    "e2e-password-1",
    "pass-word-1",
    "fuzz-target-1",
    "target-pass-1",
    "scope-pass-1",
    "no-address-1",
    "matrix-pass-1",
    "matrix-pass-2",
    "matrix-pass-3",
    "matrix-pass-4",
)
"""Passwords the tests give users of this database: never stored in clear either."""
DECISIONS = {
    "review_form": {"form_complete": True},
    "verify_identity": {"identity_confirmed": True},
}


class Tail:
    """What a file gains from now on."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.start = path.stat().st_size if path.exists() else 0

    def read(self) -> bytes:
        with self.path.open("rb") as file:
            file.seek(self.start)
            return file.read()


def decide_until_closed(
    stack: SecurityStack, http: httpx.Client, expert: dict[str, str], code: str
) -> list[str]:
    """Complete each task the case opens, as the expert, until it closes; returns the steps."""
    steps: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with Session(stack.engine) as session:
            case = session.exec(select(Case).where(Case.tracking_code == code)).one()
            task = session.exec(
                select(Task).where(Task.case_id == case.id, Task.status == TaskStatus.open)
            ).first()
        if case.status != CaseStatus.open:
            return steps
        if task is None:
            time.sleep(0.05)
            continue
        answer = http.post(
            f"/api/tasks/{task.id}/complete", json=DECISIONS[task.step], headers=expert
        )
        assert answer.status_code == 200, answer.text
        steps.append(task.step)
    raise AssertionError(f"case {code} did not close")


def reveal_once(http: httpx.Client, code: str, national_code: str) -> str:
    revealed = http.post(f"/api/track/{code}/password", json={"national_code": national_code})
    assert revealed.status_code == 200, revealed.text
    again = http.post(f"/api/track/{code}/password", json={"national_code": national_code})
    assert again.status_code == 410
    return str(revealed.json()["password"])


def found_in(haystack: bytes, needles: dict[str, str]) -> list[str]:
    return [label for label, needle in needles.items() if needle.encode() in haystack]


def keys_of(settings: Settings) -> dict[str, str]:
    """SECRET_KEY and each payload key, as configured (base64) and as raw bytes where those are
    text (the tests' key is)."""
    keys = {"SECRET_KEY": settings.secret_key, "PAYLOAD_KEYS": settings.payload_keys}
    for key_id, raw in settings.encryption_keys().items():
        keys[f"payload key {key_id} (base64)"] = base64.b64encode(raw).decode()
        if raw.isascii():
            keys[f"payload key {key_id} (raw)"] = raw.decode()
    return keys


def _texts(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else str(value)


@pytest.fixture
def run(sec_stack: SecurityStack) -> dict[str, Any]:
    """The end-to-end run, with the stack's log records and output captured meanwhile."""
    seeded = demo_people()[0]
    unknown = form_data(first_name="سیاوش", last_name="کیانپور")
    known = form_data(
        first_name=seeded.first_name,
        last_name=seeded.last_name,
        national_code=seeded.national_code,
        member_id=seeded.member_id,
        affiliation=seeded.affiliation,
        unit=seeded.unit,
    )
    csrf = {"Cookie": f"{CSRF_COOKIE}=secrets-csrf"}
    logs = Tail(sec_stack.log_file)
    outputs = [Tail(path) for path in sec_stack.output_files]
    with sec_stack.http() as http:
        # Persian digits, as people type them: normalised before anything else sees them.
        typed = {**unknown, "national_code": to_persian_digits(unknown["national_code"])}
        first = http.post(
            "/api/email-requests", json=typed, headers={"Idempotency-Key": str(uuid.uuid4())}
        )
        assert first.status_code == 201, first.text
        unknown_code = first.json()["tracking_code"]
        second = http.post(
            "/email/new",
            data={"csrf_token": "secrets-csrf", "form_token": str(uuid.uuid4()), **known},
            headers=csrf,
        )
        assert second.status_code == 303, second.text
        known_code = second.headers["location"].split("/receipt/")[1].split("?")[0]

        token = http.post("/api/auth/token", data={"username": EXPERT, "password": DEMO_PASSWORD})
        assert token.status_code == 200, token.text
        expert = {"Authorization": f"Bearer {token.json()['access_token']}"}
        page_login = http.post(
            "/login",
            data={"csrf_token": "secrets-csrf", "username": EXPERT, "password": DEMO_PASSWORD},
            headers=csrf,
        )
        assert page_login.status_code == 303

        assert decide_until_closed(sec_stack, http, expert, unknown_code) == [
            "review_form",
            "verify_identity",
        ]
        assert decide_until_closed(sec_stack, http, expert, known_code) == ["review_form"]

        lookup = http.get(
            f"/api/track/{unknown_code}", params={"national_code": unknown["national_code"]}
        )
        assert lookup.status_code == 200 and lookup.json()["answer"]["outcome"] == "done"
        page_lookup = http.post(
            "/track",
            data={
                "csrf_token": "secrets-csrf",
                "tracking_code": known_code,
                "national_code": known["national_code"],
            },
            headers=csrf,
        )
        assert page_lookup.status_code == 200
        # What answers anyone: the health check and error pages (a page, the API, a login).
        shown = {
            "/api/health": http.get("/api/health"),
            "a missing page": http.get("/no-such-page"),
            "a missing API route": http.get("/api/no-such-route"),
            "an unknown receipt": http.get(f"/receipt/{unknown_code}?sig=forged"),
            "a refused API login": http.post(
                "/api/auth/token", data={"username": EXPERT, "password": "wrong"}
            ),
            "a codec call refused to the expert": http.post("/codec/decode", content=b"{}"),
        }
        assert shown["/api/health"].json()["status"] == "ok"
        assert [a.status_code for a in shown.values()] == [200, 404, 404, 404, 401, 403]
        passwords = {
            "password of the unknown person": reveal_once(
                http, unknown_code, unknown["national_code"]
            ),
            "password of the seeded person": reveal_once(http, known_code, known["national_code"]),
        }
    time.sleep(0.5)  # the last records and lines of the run reach their files
    records = [json.loads(line) for line in logs.read().decode().splitlines() if line]
    personal: dict[str, str] = {}
    for label, person in (("unknown", unknown), ("seeded", known)):
        personal[f"national code ({label})"] = person["national_code"]
        personal[f"national code in Persian digits ({label})"] = to_persian_digits(
            person["national_code"]
        )
        personal[f"mobile ({label})"] = person["mobile"][-10:]
        personal[f"last name ({label})"] = person["last_name"]
    personal["first name (unknown)"] = unknown["first_name"]
    for person in demo_people():
        personal[f"seeded national code {person.national_code[:3]}…"] = person.national_code
    return {
        "personal": personal,
        "passwords": {**passwords, "demo password": DEMO_PASSWORD},
        "records": records,
        "output": b"".join(tail.read() for tail in outputs),
        "shown": {label: answer.content for label, answer in shown.items()},
    }


def test_no_secret_in_clear_after_a_real_run(sec_stack: SecurityStack, run: dict[str, Any]) -> None:
    secrets = {**run["personal"], **run["passwords"], **keys_of(sec_stack.settings)}
    for label, body in run["shown"].items():
        assert found_in(body, secrets) == [], f"in clear in {label}"
    records: list[dict[str, str]] = run["records"]
    names = {r["name"] for r in records}

    # Temporal's own database (WAL mode: the -wal file holds the latest pages).
    files = sorted(sec_stack.temporal_db.parent.glob(sec_stack.temporal_db.name + "*"))
    temporal = b"".join(p.read_bytes() for p in files)
    assert len(temporal) > 10_000, files
    assert found_in(temporal, secrets) == [], "in clear in Temporal's database"

    # The application's logs and output. The run must have been logged at all.
    assert {"uvicorn.access", "activities.notifications"} <= names, names
    assert any(n.startswith("temporalio") for n in names), names
    assert any("/api/track/" in r["text"] for r in records)
    log_text = "\n".join(f"{r['text']} {r['record']}" for r in records).encode()
    assert found_in(log_text, secrets) == [], "in clear in the application's log records"
    assert found_in(run["output"], secrets) == [], "in clear on the stack's stdout/stderr"

    # The application's database: every column of every table, then the raw file.
    passwords = {**run["passwords"], **{p: p for p in OTHER_PASSWORDS}}
    hits: list[str] = []
    with Session(sec_stack.engine) as session:
        for table in SQLModel.metadata.sorted_tables:
            for row in session.execute(sa_select(table)):
                for column, value in zip(table.columns, row, strict=True):
                    text = _texts(value)
                    hits += [
                        f"{table.name}.{column.name}: {label}"
                        for label, password in passwords.items()
                        if password in text
                    ]
    assert hits == [], "passwords in clear in the application's database"
    app_files = sorted(sec_stack.app_db.parent.glob(sec_stack.app_db.name + "*"))
    raw = b"".join(p.read_bytes() for p in app_files)
    assert found_in(raw, passwords) == [], "passwords in clear in the database file"

    # The run did store what it should, hashed or sealed.
    with Session(sec_stack.engine) as session:
        closed = session.exec(
            select(Case).where(col(Case.status) == CaseStatus.closed, Case.outcome == "done")
        ).all()
    assert len(closed) >= 2


def crashing_app(settings: Settings) -> FastAPI:
    """The app with a careless route: its exception quotes the settings."""
    app = create_app(settings, temporal=object())  # type: ignore[arg-type]

    @app.get("/test-crash")
    def crash(request: Request) -> None:
        raise RuntimeError(f"configuration: {request.app.state.settings!r}")

    return app


async def test_no_key_in_health_errors_or_the_logs_of_a_request_cycle(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    keys = keys_of(settings)
    app = crashing_app(settings)
    assert app.debug is False  # no traceback page, which would show the settings
    csrf = {"Cookie": f"{CSRF_COOKIE}=secrets-csrf"}
    answers: dict[str, httpx.Response] = {}
    caplog.set_level(logging.DEBUG)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        answers["health"] = await http.get("/api/health")  # Temporal unreachable: logged
        answers["500"] = await http.get("/test-crash")
        answers["404 page"] = await http.get("/no-such-page")
        answers["404 API"] = await http.get("/api/no-such-route")
        answers["422"] = await http.post("/api/email-requests", json={"national_code": "1"})
        answers["page login"] = await http.post(
            "/login",
            data={"csrf_token": "secrets-csrf", "username": "nobody", "password": "wrong"},
            headers=csrf,
        )
        answers["API login"] = await http.post(
            "/api/auth/token", data={"username": "nobody", "password": "wrong"}
        )
        answers["codec"] = await http.post("/codec/decode", content=b"not json")
    assert {label: a.status_code for label, a in answers.items()} == {
        "health": 200,
        "500": 500,
        "404 page": 404,
        "404 API": 404,
        "422": 422,
        "page login": 401,
        "API login": 401,
        "codec": 400,  # development, from loopback: let in, the body refused
    }
    assert answers["health"].json()["status"] == "degraded"
    for label, answer in answers.items():
        assert found_in(answer.content, keys) == [], f"in the {label} answer"
    assert any(r.exc_info for r in caplog.records), "the cycle logged no traceback at all"
    logged = "\n".join(
        f"{r.getMessage()} {r.__dict__}" + (caplog.handler.format(r) if r.exc_info else "")
        for r in caplog.records
    )
    assert found_in(logged.encode(), keys) == [], "in the log records"

    # What the server (uvicorn) logs of the crash: the exception and its traceback.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        with pytest.raises(RuntimeError) as crash:
            await http.get("/test-crash")
    assert "configuration: Settings(" in str(crash.value)
    assert found_in(str(crash.getrepr()).encode(), keys) == [], "in the crash's traceback"


@pytest.mark.parametrize("missing", ["payload_keys", "secret_key", "both"])
async def test_a_production_start_without_real_keys_refuses_to_run(
    settings: Settings, missing: str
) -> None:
    """The development defaults of the keys are empty: the API, and the worker's and the API's
    connection to Temporal, refuse them, naming what is missing (and no other secret)."""
    names = ["payload_keys", "secret_key"] if missing == "both" else [missing]
    production = settings.model_copy(
        update={"app_env": AppEnv.production, **dict.fromkeys(names, "")}
    )
    with pytest.raises(RuntimeError, match="missing settings") as refused:
        create_app(production, temporal=object())  # type: ignore[arg-type]
    assert str(refused.value).split(";")[0] == "missing settings " + ", ".join(
        n.upper() for n in names
    )
    assert found_in(str(refused.value).encode(), keys_of(settings)) == []
    with pytest.raises(RuntimeError, match="missing settings"):
        await connect(production)
