"""The benchmark stack: ONE Temporal dev server, the app database, API and worker subprocesses.

The dev server, the API (`uvicorn --factory api.app:app_factory`) and the workers (`python
worker.py`, the floor worker of bench/floor.py) run as their own processes under the shared
supervisor (supervise.py), as in production, the last two pointed at the dev server by
environment variables; they run in a scratch folder, so no `.env` of the checkout is read.
Everything lives in a temporary folder that is removed at the end, whatever happened.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlmodel import Session, select
from temporalio.client import Client

from api.security import hash_password
from bench.measure import Figure
from db.engine import make_engine
from db.migrate import scratch_database, upgrade
from db.models import User
from domain.cases import Role
from settings import Settings
from supervise import (
    HOST,
    Child,
    Supervisor,
    api_argv,
    api_healthy,
    child_env,
    free_port,
    temporal_argv,
    worker_argv,
)
from workflows.client import connect

PASSWORD = "bench-password-1"
EXPERT = "bench_expert"
"""An e-mail admin for every scope: decides the review tasks."""
CLERK = "bench_clerk"
"""A technician in three units: the typical cartable reader."""
CLERK_SCOPES = ["unit-007", "unit-042", "unit-123"]
START_TIMEOUT = 90.0
STOP_TIMEOUT = 20.0
MAIN_QUEUE = "bench-main"
LOCAL_HOSTS = (None, "", "127.0.0.1", "localhost", "::1")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds used by named processes between `start()` and `stop()`.

    With `backends` (pid → CPU seconds of the database server's processes serving the bench),
    a `postgres` entry counts them too: a backend that appears meanwhile counts from its birth,
    one that exits meanwhile is lost (an undercount when the pool opens and closes connections).
    """

    def __init__(
        self, pids: dict[str, int], backends: Callable[[], dict[int, float]] | None = None
    ) -> None:
        self.pids = pids
        self.backends = backends
        self.used: dict[str, float] = dict.fromkeys(pids, 0.0)
        if backends is not None:
            self.used["postgres"] = 0.0
        self._at: dict[str, float] = {}
        self._backends_at: dict[int, float] = {}

    def start(self) -> None:
        self._at = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        if self.backends is not None:
            self._backends_at = self.backends()

    def stop(self) -> None:
        for name, pid in self.pids.items():
            self.used[name] += cpu_seconds(pid) - self._at[name]
        if self.backends is not None:
            now = self.backends()
            self.used["postgres"] += sum(
                cpu - self._backends_at.get(pid, 0.0) for pid, cpu in now.items()
            )

    def per(self, count: int) -> dict[str, float]:
        """Milliseconds of CPU per operation, by process, and their total."""
        each = {name: used * 1000 / count for name, used in self.used.items()}
        return {**each, "total": sum(each.values())}


def breakdown(per: dict[str, float], digits: int) -> str:
    """`api 3.3, server 4.4, …`: the CPU of each process in a `CpuMeter.per` result."""
    return ", ".join(f"{name} {ms:.{digits}f}" for name, ms in per.items() if name != "total")


def rss_mib(child: Child) -> float:
    """Resident memory now (VmRSS of /proc/<pid>/status), in MiB."""
    return _status_kib(child.pid, "VmRSS") / 1024


def peak_rss_mib(child: Child) -> float:
    return _status_kib(child.pid, "VmHWM") / 1024


def _status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {key} for pid {pid}")


@dataclass
class Api:
    base_url: str
    child: Child


class Stack:
    """What every figure uses: the dev server and its client, the database, children on demand."""

    def __init__(
        self,
        tmp: Path,
        settings: Settings,
        engine: Engine,
        supervisor: Supervisor,
        server: Child,
        client: Client,
    ) -> None:
        self.tmp = tmp
        self.settings = settings
        self.engine = engine
        self.supervisor = supervisor
        self.server = server
        self.client = client
        self.run_id = secrets.token_hex(3)
        """Short random id that keeps this run's usernames and codes apart from any other."""
        self.figures: dict[str, Figure] = {}
        """The figures measured so far in this run, by name: a later one may compare with them."""

    @property
    def temporal_address(self) -> str:
        return self.settings.temporal_address

    @property
    def server_pid(self) -> int:
        return self.server.pid

    @property
    def database(self) -> str:
        return make_url(self.settings.database_url).get_backend_name()

    @property
    def backends(self) -> Callable[[], dict[int, float]] | None:
        """CPU of the PostgreSQL server's processes serving the bench's database, when that
        server runs on this machine (its work is done on the same cores); None otherwise."""
        url = make_url(self.settings.database_url)
        if url.get_backend_name() != "postgresql" or url.host not in LOCAL_HOSTS:
            return None
        return self._backend_cpu

    def _backend_cpu(self) -> dict[int, float]:
        with self.engine.connect() as conn:
            pids = conn.exec_driver_sql(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            ).scalars()
            cpu: dict[int, float] = {}
            for pid in pids:
                with contextlib.suppress(OSError):
                    cpu[pid] = cpu_seconds(pid)
        return cpu

    def spawn(self, name: str, argv: list[str], task_queue: str, **extra: str) -> Child:
        """A child in the scratch folder, with this stack's settings (the worker unsandboxed)
        and `extra` environment variables."""
        settings = self.settings.model_copy(update={"temporal_task_queue": task_queue})
        count = len(self.supervisor.children)
        child = Child(
            name,
            argv,
            # As docker-compose.yml deploys the worker.
            env=child_env(settings, APP_ENV="development", WORKFLOW_SANDBOX="false", **extra),
            cwd=self.tmp,
            log=self.tmp / f"{name}-{count}.log",
        )
        return self.supervisor.start(child)

    def stop(self, child: Child) -> None:
        self.supervisor.stop(child)

    def stop_all(self) -> None:
        """Every child but the dev server (a failed figure leaves none behind for the next)."""
        for child in reversed(list(self.supervisor.children)):
            if child is not self.server:
                self.stop(child)

    @contextlib.asynccontextmanager
    async def api(self, task_queue: str = MAIN_QUEUE, **extra: str) -> AsyncIterator[Api]:
        """The API as its own process on a free loopback port, healthy before it is yielded;
        `extra` environment variables set its settings (e.g. TRACK_RATE_LIMIT_PER_MINUTE)."""
        port = free_port()
        child = self.spawn(
            "api", api_argv(port, "--log-level", "warning", "--no-access-log"), task_queue, **extra
        )
        base_url = f"http://{HOST}:{port}"
        try:
            await self.supervisor.until(lambda: api_healthy(base_url), "the API", START_TIMEOUT)
            yield Api(base_url, child)
        finally:
            self.stop(child)

    @contextlib.asynccontextmanager
    async def worker(
        self, task_queue: str = MAIN_QUEUE, *, module: str | None = None, **extra: str
    ) -> AsyncIterator[Child]:
        """`python worker.py` (or `python -m module`) polling `task_queue`, ready when yielded;
        `extra` environment variables set its settings (e.g. JIRA_BASE_URL)."""
        argv = [sys.executable, "-m", module] if module else worker_argv()
        child = self.spawn(module or "worker", argv, task_queue, **extra)
        try:
            await child.wait_log("polling", timeout=START_TIMEOUT)
            yield child
        finally:
            self.stop(child)

    async def login(self, http: httpx.AsyncClient, username: str) -> dict[str, str]:
        """A bearer token from POST /api/auth/token, as an expert's browser gets one."""
        answer = await http.post(
            "/api/auth/token", data={"username": username, "password": PASSWORD}
        )
        answer.raise_for_status()
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _add_users(engine: Engine) -> None:
    people = {EXPERT: ([Role.email_admin], ["*"]), CLERK: ([Role.technician], CLERK_SCOPES)}
    password_hash = hash_password(PASSWORD)
    with Session(engine) as session:
        for username, (roles, scopes) in people.items():
            if session.exec(select(User).where(User.username == username)).first() is None:
                session.add(
                    User(
                        username=username,
                        password_hash=password_hash,
                        roles=list(roles),
                        scopes=scopes,
                        email=f"{username}@university.ac.ir",
                    )
                )
        session.commit()


@contextlib.asynccontextmanager
async def open_stack() -> AsyncIterator[Stack]:
    """Start the dev server (SQLite file, WAL, synchronous=normal) and migrate the database.

    On the way out, whatever happened, every child is stopped and the scratch folder removed.
    """
    tmp = Path(tempfile.mkdtemp(prefix="peygir-bench-"))
    supervisor = Supervisor(STOP_TIMEOUT)
    engine: Engine | None = None
    try:
        url = scratch_database(os.environ.get("BENCH_DATABASE_URL", ""), tmp)
        upgrade(url)
        port = free_port()
        settings = Settings(
            _env_file=None,
            database_url=url,
            payload_keys="bench:" + base64.b64encode(secrets.token_bytes(32)).decode(),
            secret_key=secrets.token_urlsafe(32),
            temporal_address=f"{HOST}:{port}",
            temporal_task_queue=MAIN_QUEUE,
        )
        engine = make_engine(url)
        _add_users(engine)
        server = supervisor.start(
            Child(
                "temporal",
                temporal_argv(tmp / "temporal.db", port, "--headless", "--log-level", "warn"),
                cwd=tmp,
                log=tmp / "temporal.log",
            )
        )
        client = await _connect(supervisor, settings)
        yield Stack(tmp, settings, engine, supervisor, server, client)
    finally:
        supervisor.stop_all()
        if engine is not None:
            engine.dispose()
        shutil.rmtree(tmp, ignore_errors=True)


async def _connect(supervisor: Supervisor, settings: Settings) -> Client:
    """A client of the dev server once it answers (it takes a few seconds to open its file)."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        supervisor.check()
        try:
            client = await connect(settings)
            if await client.service_client.check_health():
                return client
        except Exception as error:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the dev server does not answer: {error!r}") from None
        await asyncio.sleep(0.25)
