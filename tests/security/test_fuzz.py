"""Schemathesis over the app's OpenAPI: every operation, as admin, as an expert and anonymously.

The app runs in-process (schemathesis.openapi.from_asgi) against the real stack: its lifespan
connects to the Temporal dev server as in production, and the worker answers its Updates and
Queries. A stub client whose calls raise would turn every Temporal-backed route into the same error
path (test_temporal_down.py checks that path on purpose); with the real stack, fuzzed decisions,
reassignments and cancellations reach the workflow's Update validators, and their refusals (and
acceptances) come back through the API, whose answers are checked against the schema.

Generated path parameters name nothing that exists, so each positive example is also sent with its
path pinned to a real open task / case / user (its query and body stay fuzzed), which takes the
fuzz past the 404 into the route's own logic.

One fuzz run per (operation, principal) is shared by two tests:
- `test_fuzz_answers_conform`: no 5xx, no body or content type that breaks the documented schema of
  its status code, no invalid input accepted (negative examples), and every error answer is an
  ErrorBody (api/errors.py);
- `test_fuzz_statuses_are_documented`: every status code answered is documented, and an error's
  documented body is ErrorBody (FastAPI's default 422 schema, HTTPValidationError, describes a body
  the app never sends, and requires nothing, so the schema check alone lets it pass).

Bounded: MAX_EXAMPLES positive and NEGATIVE_EXAMPLES negative examples, a DEADLINE per example and a
BUDGET_SECONDS per run; derandomized, so a run is reproducible and the suite does not flake.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis import checks as st_checks
from schemathesis.core.failures import FailureGroup
from schemathesis.python import asgi as st_asgi
from sqlalchemy import create_engine
from sqlmodel import Session, col, select

from api.app import create_app
from api.errors import ErrorBody
from db.models import Case, Holiday, Task, User
from domain.cases import Role, TaskStatus
from domain.passwords import hash_password
from settings import Settings
from tests.conftest import TEST_KEYS
from tests.factories import form_data
from tests.security.conftest import ADMIN, EXPERT, SecurityStack

MAX_EXAMPLES = 25
NEGATIVE_EXAMPLES = 10
DEADLINE = timedelta(seconds=10)
BUDGET_SECONDS = 45.0
MAX_NEW_CASES = 30
"""Cases the fuzz may open to keep an open task to pin to (completions and cancels use them up)."""

PRINCIPALS: dict[str, str | None] = {"anonymous": None, "admin": ADMIN, "expert": EXPERT}

SCHEMATHESIS_CHECKS = (
    "not_a_server_error",
    "response_schema_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
    "status_code_conformance",
)
CHECKS = {name: getattr(st_checks, name) for name in SCHEMATHESIS_CHECKS}
CONFORMANCE = (*SCHEMATHESIS_CHECKS[:5], "error_body", "deadline")
DOCUMENTED = ("status_code_conformance", "error_body_documented")


def _operations() -> list[tuple[str, str]]:
    settings = Settings(_env_file=None, payload_keys=TEST_KEYS, secret_key="k" * 40)
    app = create_app(settings, engine=create_engine("sqlite://"), temporal=object())  # type: ignore[arg-type]
    return [
        (method.upper(), path) for path, ops in app.openapi()["paths"].items() for method in ops
    ]


OPERATIONS = _operations()


@dataclass
class Finding:
    check: str
    status: int
    title: str
    detail: str
    curl: str


@dataclass
class FuzzReport:
    calls: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, finding: Finding) -> None:
        if any((f.check, f.status) == (finding.check, finding.status) for f in self.findings):
            return  # one example of each kind of failure is enough to act on
        self.findings.append(finding)

    def of(self, checks: tuple[str, ...]) -> list[Finding]:
        return [f for f in self.findings if f.check in checks]


def curl(case: Any) -> str:
    try:
        return str(case.as_curl_command())
    except Exception:
        return repr(case)


def error_findings(operation: Any, response: Any) -> list[Finding]:
    """An error answer must be an ErrorBody, and be documented as one."""
    status = response.status_code
    if status < 400:
        return []
    findings = []
    try:
        ErrorBody.model_validate_json(response.content)
    except ValueError as error:
        body = response.content[:200]
        findings.append(Finding("error_body", status, "not an ErrorBody", f"{error}\n{body!r}", ""))
    documented = operation.definition.raw.get("responses", {}).get(str(status), {})
    schema = documented.get("content", {}).get("application/json", {}).get("schema", {})
    if documented and not str(schema.get("$ref", "")).endswith("/ErrorBody"):
        findings.append(
            Finding(
                "error_body_documented",
                status,
                "error documented with another body",
                f"{status} is documented as {schema or documented}, not ErrorBody",
                "",
            )
        )
    return findings


def describe(findings: list[Finding]) -> str:
    return "\n\n".join(
        f"[{f.check}] {f.status}: {f.title}\n{f.detail}\n  reproduce: {f.curl}" for f in findings
    )


class Pins:
    """Real objects to point path parameters at; refilled when the fuzz has used them up."""

    def __init__(self, stack: SecurityStack) -> None:
        self.stack = stack
        self.opened = 0
        self.username = "fuzztarget"
        with Session(stack.engine) as session:
            self.last_user_id = max(session.exec(select(User.id)).all(), default=0) or 0
            self.holidays = set(session.exec(select(Holiday.day)).all())
            if session.exec(select(User).where(User.username == self.username)).first() is None:
                session.add(
                    User(
                        username=self.username,
                        password_hash=hash_password("fuzz-target-1"),
                        roles=[Role.vendor.value],
                    )
                )
                session.commit()

    def repair(self) -> None:
        """Undo what the fuzz did to reference data, so that later tests find it as it was.

        Some of it breaks the product (see the defects): a null stored in the target user breaks
        every user listing; a user created with an empty e-mail address stops tasks of its role
        from opening."""
        with Session(self.stack.engine) as session:
            user = session.exec(select(User).where(User.username == self.username)).one()
            user.full_name, user.roles, user.scopes, user.is_active = "", ["vendor"], [], True
            session.add(user)
            for created in session.exec(select(User).where(col(User.id) > self.last_user_id)):
                if created.username != self.username:
                    session.delete(created)
            for holiday in session.exec(select(Holiday)):
                if holiday.day not in self.holidays:
                    session.delete(holiday)
            session.commit()

    def open_task(self) -> tuple[Task, Case] | None:
        for _ in range(2):
            with Session(self.stack.engine) as session:
                row = session.exec(
                    select(Task, Case)
                    .join(Case, col(Case.id) == col(Task.case_id))
                    .where(Task.status == TaskStatus.open, Task.step == "review_form")
                    .order_by(col(Task.created_at).desc())
                ).first()
            if row is not None:
                return row[0], row[1]
            if self.opened >= MAX_NEW_CASES:
                return None
            self.opened += 1
            with httpx.Client(base_url=self.stack.base_url, timeout=30) as http:
                code = self.stack.submit(http)
            self.stack.wait_task(code, "review_form")
        return None

    def pin(self, case: Any, path: str) -> Any | None:
        """A copy of `case` about real objects; None when there is nothing to pin."""
        pinned = case.derive()
        if path == "/api/email-requests":
            # Custom rules (national code checksum, mobile) are not in the JSON schema, so the
            # generated forms are all refused: send a valid form with the fuzzed free text
            # (unit) and the fuzzed Idempotency-Key header instead.
            body = pinned.body if isinstance(pinned.body, dict) else {}
            unit = body.get("unit")
            pinned.body = {**form_data(), **({"unit": unit} if isinstance(unit, str) else {})}
            return pinned
        params = dict(case.path_parameters or {})
        if not params:
            return None
        if "username" in params:
            params["username"] = self.username
        if "task_id" in params or "tracking_code" in params:
            found = self.open_task()
            if found is None:
                return None
            task, owner = found
            for name, value in (("task_id", task.id), ("tracking_code", owner.tracking_code)):
                if name in params:
                    params[name] = value
            if path.startswith("/api/track/"):
                if isinstance(pinned.body, dict):
                    pinned.body = {**pinned.body, "national_code": owner.requester_identity}
                else:
                    pinned.query = {
                        **(pinned.query or {}),
                        "national_code": owner.requester_identity,
                    }
            if path.endswith("/reassign") and isinstance(pinned.body, dict):
                pinned.body = {**pinned.body, "assignee": EXPERT}  # holds the step's role
        pinned.path_parameters = params
        return pinned


@pytest.fixture(scope="module")
def fuzz_schema(sec_stack: SecurityStack) -> Iterator[Any]:
    # temporal=None: the app's lifespan connects to the dev server, as `uvicorn --factory` does.
    app = create_app(sec_stack.settings, engine=sec_stack.engine)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    yield schema
    st_asgi.shutdown_lifespans()


@pytest.fixture(scope="module")
def fuzz_reports(
    sec_stack: SecurityStack, fuzz_schema: Any
) -> Iterator[dict[tuple[str, str, str], FuzzReport]]:
    reports: dict[tuple[str, str, str], FuzzReport] = {}
    yield reports
    total = sum(r.calls for r in reports.values())
    seconds = sum(r.seconds for r in reports.values())
    print(f"\nfuzz: {len(reports)} runs, {total} requests, {seconds:.1f}s")
    for (method, path, principal), report in sorted(reports.items()):
        statuses = " ".join(f"{s}×{n}" for s, n in sorted(report.statuses.items()))
        print(f"  {method:6} {path:45} {principal:9} {report.seconds:5.1f}s  {statuses}")


def _operation(schema: Any, method: str, path: str) -> Any:
    operations = schema[path]
    return operations[method] if method in operations else operations[method.lower()]


def fuzz(
    stack: SecurityStack, schema: Any, pins: Pins, method: str, path: str, principal: str
) -> FuzzReport:
    operation = _operation(schema, method, path)
    username = PRINCIPALS[principal]
    headers = stack.bearer(username) if username else {}
    report = FuzzReport()
    started = time.monotonic()

    def exercise(case: Any, *, pinned: bool) -> None:
        report.calls += 1
        try:
            response = case.call(headers=headers, timeout=30)
        except Exception as crash:  # in-process, the app's unhandled exception reaches us
            report.statuses[500] += 1
            detail = f"{type(crash).__name__}: {crash}"[:600]
            report.add(
                Finding("not_a_server_error", 500, "unhandled exception", detail, curl(case))
            )
            return
        report.statuses[response.status_code] += 1
        for name, check in CHECKS.items():
            if pinned and name == "negative_data_rejection":
                continue  # pinning made a deliberately broken path parameter valid
            try:
                case.validate_response(response, checks=[check], headers=headers)
            except FailureGroup as group:
                for failure in group.exceptions:
                    title, detail = str(failure.title), str(failure.message)[:600]
                    report.add(Finding(name, response.status_code, title, detail, curl(case)))
        for finding in error_findings(operation, response):
            report.add(dataclasses.replace(finding, curl=curl(case)))

    def run(mode: GenerationMode, examples: int) -> None:
        strategy = operation.as_strategy(generation_mode=mode)
        if mode.is_positive:
            strategy = st.one_of(strategy, *schema.get_strategies_from_examples(operation))

        @hypothesis.settings(
            max_examples=examples,
            deadline=DEADLINE,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @hypothesis.given(case=strategy)
        def one(case: Any) -> None:
            if time.monotonic() - started > BUDGET_SECONDS:
                return
            exercise(case, pinned=False)
            if mode.is_positive:
                pinned = pins.pin(case, path)
                if pinned is not None:
                    exercise(pinned, pinned=True)

        try:
            one()
        except hypothesis.errors.DeadlineExceeded as slow:
            report.findings.append(Finding("deadline", 0, "too slow", str(slow), ""))
        except hypothesis.errors.Unsatisfiable:
            pass  # nothing in this operation can be made invalid

    try:
        run(GenerationMode.POSITIVE, MAX_EXAMPLES)
        run(GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES)
    finally:
        pins.repair()
    report.seconds = time.monotonic() - started
    return report


@pytest.fixture(scope="module")
def pins(sec_stack: SecurityStack) -> Pins:
    return Pins(sec_stack)


@pytest.fixture
def fuzzed(
    request: pytest.FixtureRequest,
    sec_stack: SecurityStack,
    fuzz_schema: Any,
    pins: Pins,
    fuzz_reports: dict[tuple[str, str, str], FuzzReport],
) -> FuzzReport:
    method, path, principal = request.param
    key = (method, path, principal)
    if key not in fuzz_reports:
        fuzz_reports[key] = fuzz(sec_stack, fuzz_schema, pins, method, path, principal)
    return fuzz_reports[key]


def _params() -> list[Any]:
    return [
        pytest.param((method, path, principal), id=f"{method} {path} {principal}")
        for method, path in OPERATIONS
        for principal in PRINCIPALS
    ]


@pytest.mark.parametrize("fuzzed", _params(), indirect=True)
def test_fuzz_answers_conform(fuzzed: FuzzReport) -> None:
    findings = fuzzed.of(CONFORMANCE)
    assert findings == [], describe(findings)
    assert fuzzed.calls > 0


@pytest.mark.parametrize("fuzzed", _params(), indirect=True)
def test_fuzz_statuses_are_documented(fuzzed: FuzzReport) -> None:
    findings = fuzzed.of(DOCUMENTED)
    assert findings == [], describe(findings)


# --- the fuzz's findings, replayed as plain requests (deterministic regressions) ---------------


@pytest.mark.parametrize("field", ["full_name", "roles", "scopes", "is_active"])
def test_null_in_a_user_change_is_refused(sec_stack: SecurityStack, field: str) -> None:
    """An explicit null must be a 422 that changes nothing (roles: null was even stored, and
    then every listing of users answered 500: the admin page could no longer open)."""
    target = f"nulltarget{uuid.uuid4().hex[:8]}"
    with Session(sec_stack.engine) as session:
        session.add(User(username=target, password_hash="x", roles=[Role.vendor.value]))
        session.commit()
    admin = sec_stack.bearer(ADMIN)
    try:
        with sec_stack.http() as http:
            answer = http.patch(f"/api/admin/users/{target}", json={field: None}, headers=admin)
        with sec_stack.http() as http:
            listing = http.get("/api/admin/users", headers=admin)
        assert answer.status_code == 422, answer.text
        assert answer.json()["errors"][0]["field"] == field
        assert listing.status_code == 200, listing.text
    finally:
        with Session(sec_stack.engine) as session:
            user = session.exec(select(User).where(User.username == target)).one()
            session.delete(user)
            session.commit()


def test_registry_file_with_a_stray_carriage_return(sec_stack: SecurityStack) -> None:
    csv_text = "national_code,member_id,first_name,last_name,affiliation,unit\n0013542419,12\r34,a"
    with sec_stack.http() as http:
        answer = http.post(
            "/api/admin/people/import",
            files={"file": ("people.csv", csv_text.encode(), "text/csv")},
            headers=sec_stack.bearer(ADMIN),
        )
    assert answer.status_code in (200, 422), answer.text


def test_a_user_without_a_usable_address_does_not_stop_tasks(sec_stack: SecurityStack) -> None:
    username = f"noaddress{uuid.uuid4().hex[:8]}"
    admin = sec_stack.bearer(ADMIN)
    try:
        with sec_stack.http() as http:
            created = http.post(
                "/api/admin/users",
                json={
                    "username": username,
                    "password": "no-address-1",
                    "roles": [Role.email_admin.value],
                    "email": "",
                },
                headers=admin,
            )
            if created.status_code == 422:  # refused at the door: fine
                assert created.json()["errors"][0]["field"] == "email"
                return
            assert created.status_code == 201, created.text
            code = sec_stack.submit(http)
        task = sec_stack.wait_task(code, "review_form")
        # The task row is written before the notifications: deciding shows whether it opened.
        with httpx.Client(base_url=sec_stack.base_url, timeout=10) as http:
            done = http.post(
                f"/api/tasks/{task.id}/complete",
                json={"form_complete": True},
                headers=sec_stack.bearer(EXPERT),
            )
        assert done.status_code == 200, done.text
    finally:
        with Session(sec_stack.engine) as session:
            for user in session.exec(select(User).where(User.username == username)):
                session.delete(user)
            session.commit()


def test_an_unreadable_body_gets_a_stable_error_code(sec_stack: SecurityStack) -> None:
    with sec_stack.http() as http:
        answer = http.post(
            "/api/email-requests",
            content=b"\xff\xfe{",
            headers={"content-type": "application/json", "Accept-Language": "fa"},
        )
    assert answer.status_code in (400, 422)
    assert answer.json()["code"] == "invalid_value", answer.text
