"""Process 3's hand-over on the deployed stack, over HTTP: a unit's letter, the admin's tasks, the
initial password typed once and sealed, and the unit head's one-time link. Then the password is
in clear nowhere: not in Temporal's database, the application's database (every column, and the
raw file), the stack's log records and output, nor the page after it was seen. A second view is
refused, three wrong national codes lock a link, and another unit's secretary sees nothing.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
from sqlalchemy import select as sa_select
from sqlmodel import Session, SQLModel, col, select

import db.models  # noqa: F401  (every table on SQLModel.metadata)
from db.models import Case, OutboundMessage, Task, User
from db.office_automation import unit_scope
from db.seed import demo_units
from domain.cases import CaseStatus, Role, TaskStatus
from domain.passwords import hash_password
from tests import samples
from tests.security.conftest import SecurityStack
from tests.security.test_secrets import Tail, found_in

UNIT = demo_units()[0]
OTHER_UNIT = demo_units()[1]


def letter(file_id: int) -> dict[str, Any]:
    return {
        "letter_number": f"{uuid.uuid4().int % 10**4}/ص",
        "letter_date": "2026-11-30",
        "national_code": "0012345679",
        "first_name": "مریم",
        "last_name": "احمدی",
        "personnel_number": "12345",
        "mobile": "09351234567",
        "post_title": f"کارشناس امنیت {uuid.uuid4().hex[:4]}",
        "unit_code": UNIT.code,
        "effective_date": "2026-12-01",
        "letter_file_id": file_id,
    }


def complete(
    http: httpx.Client, admin: dict[str, str], task: Task, decision: dict[str, Any]
) -> None:
    answer = http.post(f"/api/tasks/{task.id}/complete", json=decision, headers=admin)
    assert answer.status_code == 200, answer.text


def the_token(stack: SecurityStack, code: str, number: int = 1) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with Session(stack.engine) as session:
            sms = session.exec(
                select(OutboundMessage)
                .join(Case, col(Case.id) == col(OutboundMessage.case_id))
                .where(
                    Case.tracking_code == code,
                    col(OutboundMessage.message_key).endswith(f":handover-link:{number}:sms"),
                )
            ).first()
        if sms is not None:
            return sms.body.split("/handover/")[1].split()[0]
        time.sleep(0.1)
    raise AssertionError(f"no link {number} for {code}")


def a_letter_to_its_cartable(
    stack: SecurityStack, http: httpx.Client, password: str
) -> tuple[str, dict[str, str]]:
    """A letter sent by the unit's secretary, carried by the admin to its sealed password."""
    admin = stack.bearer("admin")
    stored = http.post(
        "/api/files",
        data={"kind": "pdf"},
        files={"file": ("letter.pdf", samples.pdf(), "application/pdf")},
        headers=admin,
    )
    assert stored.status_code == 201, stored.text
    secretary = stack.bearer(Role.unit_secretary.value)
    sent = http.post(
        "/api/appointment-letters", json=letter(stored.json()["id"]), headers=secretary
    )
    assert sent.status_code == 201, sent.text
    code = str(sent.json()["tracking_code"])
    automation = stack.bearer(Role.automation_admin.value)
    complete(
        http,
        automation,
        stack.wait_task(code, "create_post"),
        {"automation_code": f"S-{uuid.uuid4().hex[:8]}", "permissions_group": "کارشناسان"},
    )
    cartable = stack.wait_task(code, "create_cartable")
    short = http.post(
        f"/api/tasks/{cartable.id}/complete",
        json={"username": "m.ahmadi", "permissions": ["refer"], "initial_password": "short"},
        headers=automation,
    )
    assert short.status_code == 422
    assert [e["field"] for e in short.json()["errors"]] == ["initial_password"]
    complete(
        http,
        automation,
        cartable,
        {"username": "m.ahmadi", "permissions": ["refer"], "initial_password": password},
    )
    return code, secretary


def test_the_initial_password_is_seen_once_and_kept_in_clear_nowhere(
    sec_stack: SecurityStack,
) -> None:
    password = f"Init-{uuid.uuid4().hex[:10]}"
    logs = Tail(sec_stack.log_file)
    outputs = [Tail(path) for path in sec_stack.output_files]
    other = f"sec{uuid.uuid4().hex[:6]}"
    with Session(sec_stack.engine) as session:
        session.add(
            User(
                username=other,
                password_hash=hash_password("scope-pass-1"),
                roles=[Role.unit_secretary],
                scopes=[unit_scope(OTHER_UNIT.code)],
            )
        )
        session.commit()
    with sec_stack.http() as http:
        code, secretary = a_letter_to_its_cartable(sec_stack, http, password)
        assert http.get(f"/api/cases/{code}", headers=secretary).status_code == 200
        theirs = sec_stack.bearer(other)
        assert http.get(f"/api/cases/{code}", headers=theirs).status_code == 403

        token = the_token(sec_stack, code)
        wrong = http.post(f"/api/handover/{token}", json={"national_code": "0012345679"})
        assert wrong.status_code == 403
        opened = http.post(
            f"/api/handover/{token}", json={"national_code": UNIT.head_national_code}
        )
        assert opened.status_code == 200, opened.text
        assert opened.headers["cache-control"] == "no-store"
        shown = opened.json()
        assert shown["credentials"]["password"] == password
        assert shown["credentials"]["username"] == "m.ahmadi"
        again = http.post(f"/api/handover/{token}", json={"national_code": UNIT.head_national_code})
        assert again.status_code == 200 and again.json()["credentials"] is None
        page = http.get(f"/handover/{token}")
        assert page.status_code == 200 and password.encode() not in page.content
        confirmed = http.post(
            f"/api/handover/{token}/confirm", json={"confirm_key": shown["confirm_key"]}
        )
        assert confirmed.status_code == 204
        assert sec_stack.wait_closed(code).status == CaseStatus.closed
        assert http.get(f"/handover/{token}").status_code == 410
    time.sleep(0.5)  # the last records and lines of the run reach their files

    needle = {"the initial password": password}
    files = sorted(sec_stack.temporal_db.parent.glob(sec_stack.temporal_db.name + "*"))
    assert found_in(b"".join(p.read_bytes() for p in files), needle) == []
    records = [json.loads(line) for line in logs.read().decode().splitlines() if line]
    assert any("/api/handover/" in r["text"] for r in records)
    log_text = "\n".join(f"{r['text']} {r['record']}" for r in records).encode()
    assert found_in(log_text, needle) == [], "in clear in the stack's log records"
    assert found_in(b"".join(t.read() for t in outputs), needle) == []
    with Session(sec_stack.engine) as session:
        for table in SQLModel.metadata.sorted_tables:
            for row in session.execute(sa_select(table)):
                assert password not in json.dumps([str(v) for v in row], ensure_ascii=False), (
                    table.name
                )
    app_files = sorted(sec_stack.app_db.parent.glob(sec_stack.app_db.name + "*"))
    assert found_in(b"".join(p.read_bytes() for p in app_files), needle) == []


def test_three_wrong_national_codes_lock_the_link_and_the_admin_issues_another(
    sec_stack: SecurityStack,
) -> None:
    with sec_stack.http() as http:
        code, _ = a_letter_to_its_cartable(sec_stack, http, f"Init-{uuid.uuid4().hex[:10]}")
        token = the_token(sec_stack, code)
        answers = [
            http.post(f"/api/handover/{token}", json={"national_code": "0012345679"})
            for _ in range(3)
        ]
        assert [a.status_code for a in answers] == [403, 403, 403]
        assert answers[-1].json()["code"] == "handover_locked"
        right = http.post(f"/api/handover/{token}", json={"national_code": UNIT.head_national_code})
        assert right.status_code == 410
        reissue = sec_stack.wait_task(code, "reissue_link")
        complete(http, sec_stack.bearer(Role.automation_admin.value), reissue, {})
        second = the_token(sec_stack, code, 2)
        head = {"national_code": UNIT.head_national_code}
        # The new link voids the old one: it opens nothing any more.
        assert http.post(f"/api/handover/{token}", json=head).status_code == 404
        opened = http.post(f"/api/handover/{second}", json=head)
        assert opened.status_code == 200 and opened.json()["credentials"]["password"]
    with Session(sec_stack.engine) as session:
        case = session.exec(select(Case).where(Case.tracking_code == code)).one()
        open_tasks = session.exec(
            select(Task).where(Task.case_id == case.id, Task.status == TaskStatus.open)
        ).all()
    # Its confirmation is still to come: only the case's own wait, no task, is open.
    assert open_tasks == []
