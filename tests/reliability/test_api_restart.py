"""The API (uvicorn, a child process) is killed and restarted while people submit the form.

Nothing accepted is lost: every tracking code answered with 201 has its case and its workflow.
The same Idempotency-Key gives one case, whether two POSTs race each other or a request is retried
because its connection died (the client gave up, or the API died under it).
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from db.models import Case
from settings import Settings
from supervise import Child, api_argv, child_env, free_port
from tests.conftest import start_dev_server
from tests.reliability.harness import registered_form
from workflows.search_attributes import TRACKING_CODE

SUBMITTERS = 6
MIN_PER_SUBMITTER = 12
MAX_PER_SUBMITTER = 60
KILLS = 4
UP_SECONDS = (0.5, 2.0)
"""How long the API serves (after it is healthy) before each kill -9."""
SUBMIT_DEADLINE = 90.0
"""One submission (with its retries) must get its 201 within this long."""


@pytest.fixture(scope="module")
def api_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"temporal_task_queue": "peygir-reliability-api"})


@pytest.fixture(scope="module")
async def temporal(
    api_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[WorkflowEnvironment]:
    db = tmp_path_factory.mktemp("temporal-api") / "temporal.db"
    env = await start_dev_server(api_settings, db, dev_server_log_level="error")
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
def api(
    api_settings: Settings, temporal: WorkflowEnvironment, tmp_path: Path
) -> Iterator[tuple[Child, str]]:
    """The API as deployed (uvicorn, its own process), and its base URL; not started yet."""
    port = free_port()
    address = temporal.client.service_client.config.target_host
    child = Child(
        "api",
        api_argv(port, "--log-level", "warning"),
        env=child_env(api_settings.model_copy(update={"temporal_address": address})),
        cwd=tmp_path,
        log=tmp_path / "api.log",
    )
    try:
        yield child, f"http://127.0.0.1:{port}"
    finally:
        child.stop()


async def wait_healthy(api: Child, http: httpx.AsyncClient, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if not api.running:
            raise AssertionError(f"the API exited:\n{api.tail()}")
        try:
            answer = await http.get("/api/health", timeout=2)
            if answer.status_code == 200 and answer.json()["status"] == "ok":
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"the API is not healthy after {timeout:.0f}s:\n{api.tail()}")
        await asyncio.sleep(0.1)


@dataclass
class Outcomes:
    codes: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    """Idempotency-Key → the tracking code of every 201 answer given for it."""
    transport_errors: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    raced: int = 0
    abandoned: int = 0


async def submit(
    http: httpx.AsyncClient, key: str, form: dict[str, Any], out: Outcomes, **kw: Any
) -> str:
    """POST until a 201 (bounded): a died connection or a 5xx is retried with the same key."""
    deadline = time.monotonic() + SUBMIT_DEADLINE
    while True:
        try:
            answer = await http.post(
                "/api/email-requests", json=form, headers={"Idempotency-Key": key}, **kw
            )
        except httpx.TransportError as error:
            out.transport_errors[type(error).__name__] += 1
        else:
            out.statuses[answer.status_code] += 1
            if answer.status_code == 201:
                code = answer.json()["tracking_code"]
                out.codes[key].append(code)
                return code
            assert answer.status_code >= 500, f"{answer.status_code}: {answer.text}"
        if time.monotonic() > deadline:
            raise AssertionError(f"no 201 for {key} within {SUBMIT_DEADLINE:.0f}s")
        await asyncio.sleep(0.1)


async def submitter(
    http: httpx.AsyncClient, n: int, out: Outcomes, chaos_over: asyncio.Event, rng: random.Random
) -> None:
    tag = f"a{uuid.uuid4().hex[:6]}s{n}"
    for j in range(MAX_PER_SUBMITTER):
        if j >= MIN_PER_SUBMITTER and chaos_over.is_set():
            return
        key = str(uuid.uuid4())
        form = registered_form(tag, j, rng)
        kind = j % 3
        if kind == 0:  # one person, one click
            await submit(http, key, form, out)
        elif kind == 1:  # a double click: the same key twice at once
            first, second = await asyncio.gather(
                submit(http, key, form, out), submit(http, key, form, out)
            )
            out.raced += 1
            assert first == second, f"{key}: two racing POSTs gave {first} and {second}"
        else:  # the phone lost the answer: the client gives up, then retries the same key
            try:
                await http.post(
                    "/api/email-requests",
                    json=form,
                    headers={"Idempotency-Key": key},
                    timeout=httpx.Timeout(rng.uniform(0.001, 0.02)),
                )
            except httpx.TransportError:
                out.abandoned += 1
            await submit(http, key, form, out)


async def test_api_killed_while_people_submit(
    api: tuple[Child, str], temporal: WorkflowEnvironment, engine: Engine
) -> None:
    api_process, base_url = api
    client: Client = temporal.client
    rng = random.Random()
    out = Outcomes()
    chaos_over = asyncio.Event()
    began = time.monotonic()
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        api_process.start()
        await wait_healthy(api_process, http)
        clients = [
            asyncio.create_task(submitter(http, n, out, chaos_over, rng)) for n in range(SUBMITTERS)
        ]
        try:
            for _ in range(KILLS):
                await asyncio.sleep(rng.uniform(*UP_SECONDS))
                api_process.kill9()
                api_process.start()
                await wait_healthy(api_process, http)
            chaos_over.set()
            await asyncio.wait_for(asyncio.gather(*clients), timeout=SUBMIT_DEADLINE * 2)
        finally:
            for task in clients:
                task.cancel()
            await asyncio.gather(*clients, return_exceptions=True)
        api_log = api_process.log_text()

    print(
        f"\n{len(out.codes)} keys, {api_process.kills} kills, {out.raced} races, {out.abandoned} "
        f"abandoned requests; answers {dict(out.statuses)}; transport errors "
        f"{dict(out.transport_errors)}; {time.monotonic() - began:.0f}s"
    )
    assert api_process.kills == KILLS
    assert out.raced and out.abandoned
    for key, codes in out.codes.items():
        assert len(set(codes)) == 1, f"{key} got different tracking codes {codes}"

    keys = list(out.codes)
    with Session(engine) as session:
        rows = session.exec(
            select(Case.idempotency_key, Case.tracking_code, Case.workflow_id).where(
                col(Case.idempotency_key).in_(keys)
            )
        ).all()
    per_key = Counter(row[0] for row in rows)
    assert per_key == Counter(dict.fromkeys(keys, 1)), (
        f"cases per key that are not one: {[(k, n) for k, n in per_key.items() if n != 1]}; "
        f"keys without a case: {set(keys) - set(per_key)}"
    )
    lost = []
    for key, code, workflow_id in rows:
        assert code == out.codes[key][0], f"{key}: the API answered {out.codes[key][0]}, db {code}"
        try:
            described = await client.get_workflow_handle(workflow_id).describe()
        except Exception as error:
            lost.append(f"{code}: {error!r}")
            continue
        assert described.typed_search_attributes.get(TRACKING_CODE) == code
    assert not lost, f"{len(lost)} accepted cases have no workflow: {lost[:10]}"
    assert not out.statuses[500], f"the API failed with 500:\n{api_log[-4000:]}"
