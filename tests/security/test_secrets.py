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
  SQLModel.metadata, and the raw bytes of its file (freed pages and journal included).
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select as sa_select
from sqlmodel import Session, SQLModel, col, select

import db.models  # noqa: F401  (every table on SQLModel.metadata)
from api.web.pages import CSRF_COOKIE
from db.models import Case, Task
from db.seed import demo_people
from domain.cases import CaseStatus, TaskStatus
from domain.text import to_persian_digits
from tests.factories import form_data
from tests.security.conftest import DEMO_PASSWORD, EXPERT, SecurityStack

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
    }


def test_no_secret_in_clear_after_a_real_run(sec_stack: SecurityStack, run: dict[str, Any]) -> None:
    secrets = {**run["personal"], **run["passwords"]}
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
