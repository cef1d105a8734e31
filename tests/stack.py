"""The whole product in one process for the tests: a real Temporal dev server, the worker and
the API served over HTTP by uvicorn."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn
from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.client import Client

from api.app import create_app
from db.models import User
from domain.cases import Role
from domain.passwords import hash_password
from processes.declaration import Registry
from processes.registry import PROCESSES
from settings import Settings
from tests.conftest import start_dev_server
from worker import build_worker

PASSWORD = "e2e-password-1"
STAFF = {
    "e2e_email_admin": [Role.email_admin],
    "e2e_admin": [Role.admin],
    "e2e_technician": [Role.technician],
}


@dataclass
class Stack:
    client: Client
    http: httpx.AsyncClient
    base_url: str
    temporal_db: Path
    settings: Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_staff(engine: Engine) -> None:
    with Session(engine) as session:
        for username, roles in STAFF.items():
            if session.exec(select(User).where(User.username == username)).first() is None:
                session.add(
                    User(
                        username=username,
                        full_name=f"کارشناس {username}",
                        password_hash=hash_password(PASSWORD),
                        roles=list(roles),
                        scopes=["*"],
                        email=f"{username}@university.ac.ir",
                    )
                )
        session.commit()


@asynccontextmanager
async def running_stack(
    settings: Settings,
    engine: Engine,
    workdir: Path,
    task_queue: str,
    processes: Registry = PROCESSES,
) -> AsyncIterator[Stack]:
    temporal_db = workdir / "temporal.db"
    stack_settings = settings.model_copy(
        update={"temporal_task_queue": task_queue, "track_rate_limit_per_minute": 1000}
    )
    env = await start_dev_server(stack_settings, temporal_db)
    ensure_staff(engine)
    port = free_port()
    app = create_app(stack_settings, engine=engine, temporal=env.client, processes=processes)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
            # A request still waiting on a workflow when the worker has stopped (a test that
            # failed mid-decision) must not hold the session's teardown for ever.
            timeout_graceful_shutdown=5,
        )
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    base_url = f"http://127.0.0.1:{port}"
    try:
        async with (
            build_worker(env.client, stack_settings, engine, processes),
            httpx.AsyncClient(base_url=base_url, timeout=30) as http,
        ):
            yield Stack(env.client, http, base_url, temporal_db, stack_settings)
    finally:
        server.should_exit = True
        await serving
        await env.shutdown()
