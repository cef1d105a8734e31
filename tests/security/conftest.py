"""The security tests' own stack: a Temporal dev server, the worker and the API on loopback HTTP.

It runs on a database of its own (the fuzzer creates users, holidays and cases that other tests
must not see), in production mode (the codec's development exception for loopback callers is off,
so the authorization matrix shows the deployed policy), seeded with one demo user per role
(username = the role's name, password = DEMO_PASSWORD).

The stack is a child process (tests/security/stack_process.py), so the tests are plain synchronous
functions (schemathesis and httpx calls block) and the product runs as it does in production.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import hypothesis.configuration
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from api.security import issue_token
from db.engine import make_engine
from db.migrate import upgrade
from db.models import Case, Task
from db.seed import seed
from domain.cases import CaseStatus, TaskStatus
from settings import AppEnv, Settings
from tests.conftest import TEST_KEYS
from tests.factories import form_data

# Hypothesis (under schemathesis) keeps caches in ./.hypothesis: keep the work tree clean.
hypothesis.configuration.set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "peygir-hypothesis")

ROOT = Path(__file__).resolve().parents[2]
DEMO_PASSWORD = "Demo-Pass-7391-sec"
"""The seeded demo users' password: distinctive, so a scan for it in clear finds nothing else."""
ADMIN = "admin"
EXPERT = "email_admin"
"""Seeded demo users are named after their role; the e-mail process's steps are email_admin's."""
RATE_LIMIT = 5
"""Tracking lookups per minute and client on the stack's `limited` app."""
LOGIN_LOCK_SECONDS = 4
"""The stack's first login lock (doubling once at most); production's is a minute."""
START_TIMEOUT = 120.0
WAIT_STEP = 0.05


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class SecurityStack:
    settings: Settings
    engine: Engine
    app_db: Path
    temporal_db: Path
    base_url: str
    """The app as deployed (production mode)."""
    limited_url: str
    """The same app with a tracking rate limit of RATE_LIMIT per minute."""
    dev_url: str
    """The same app in development mode."""
    log_file: Path
    """Every log record of the stack's process, one JSON object a line."""
    output_files: tuple[Path, Path]
    """The stack process's stdout and stderr."""

    def http(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30, **kwargs)

    def bearer(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_token(self.settings, username)}"}

    # --- cases driven through the HTTP API -------------------------------------------------

    def submit(self, http: httpx.Client, data: dict[str, Any] | None = None) -> str:
        answer = http.post("/api/email-requests", json=data or form_data())
        assert answer.status_code == 201, answer.text
        return str(answer.json()["tracking_code"])

    def wait_task(self, tracking_code: str, step: str, timeout: float = 30) -> Task:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with Session(self.engine) as session:
                task = session.exec(
                    select(Task)
                    .join(Case, col(Case.id) == col(Task.case_id))
                    .where(
                        Case.tracking_code == tracking_code,
                        Task.step == step,
                        Task.status == TaskStatus.open,
                    )
                ).first()
            if task is not None:
                return task
            time.sleep(WAIT_STEP)
        raise AssertionError(f"{step} of {tracking_code} never opened")

    def wait_closed(self, tracking_code: str, timeout: float = 30) -> Case:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with Session(self.engine) as session:
                case = session.exec(select(Case).where(Case.tracking_code == tracking_code)).one()
            if case.status != CaseStatus.open:
                return case
            time.sleep(WAIT_STEP)
        raise AssertionError(f"case {tracking_code} did not close")


@pytest.fixture(scope="package")
def sec_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    folder = tmp_path_factory.mktemp("security")
    url = f"sqlite:///{folder / 'peygir-security.db'}"
    upgrade(url)
    return Settings(
        _env_file=None,
        app_env=AppEnv.production,
        database_url=url,
        payload_keys=TEST_KEYS,
        secret_key="security-test-secret-key-of-32-bytes!",
        temporal_address=f"127.0.0.1:{free_port()}",
        temporal_task_queue="peygir-security",
        demo_password=DEMO_PASSWORD,
        track_rate_limit_per_minute=100_000,
        # Short login locks, so the throttling tests see a lock pass without waiting minutes.
        login_lock_base_seconds=LOGIN_LOCK_SECONDS,
        login_lock_max_seconds=2 * LOGIN_LOCK_SECONDS,
        file_store_dir=str(folder / "files"),
    )


@pytest.fixture(scope="package")
def sec_engine(sec_settings: Settings) -> Iterator[Engine]:
    engine = make_engine(sec_settings.database_url)
    # One demo user per role; seeding is a development feature, so ask for it as development.
    seed(sec_settings.model_copy(update={"app_env": AppEnv.development}), engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="package")
def sec_stack(sec_settings: Settings, sec_engine: Engine) -> Iterator[SecurityStack]:
    app_db = Path(sec_settings.database_url.removeprefix("sqlite:///"))
    folder = app_db.parent
    ports = {name: free_port() for name in ("main", "limited", "dev")}
    config = {
        "settings": json.loads(sec_settings.model_dump_json()),
        "temporal_db": str(folder / "temporal.db"),
        "ports": ports,
        "limited_track_limit": RATE_LIMIT,
        "log_file": str(folder / "stack-log.jsonl"),
        "ready_file": str(folder / "stack-ready"),
    }
    (folder / "stack.json").write_text(json.dumps(config))
    out, err = folder / "stack-stdout.txt", folder / "stack-stderr.txt"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.security.stack_process", str(folder / "stack.json")],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=stdout,
            stderr=stderr,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not Path(config["ready_file"]).exists():
            if process.poll() is not None:
                raise RuntimeError(f"the stack process ended: {err.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the stack did not start: {err.read_text()[-3000:]}")
            time.sleep(0.1)
        yield SecurityStack(
            settings=sec_settings,
            engine=sec_engine,
            app_db=app_db,
            temporal_db=Path(config["temporal_db"]),
            base_url=f"http://127.0.0.1:{ports['main']}",
            limited_url=f"http://127.0.0.1:{ports['limited']}",
            dev_url=f"http://127.0.0.1:{ports['dev']}",
            log_file=Path(config["log_file"]),
            output_files=(out, err),
        )
    finally:
        assert process.stdin is not None
        process.stdin.close()  # the stack stops when its stdin closes
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
