"""The benchmark stack: ONE Temporal dev server, the app database, API and worker subprocesses.

The API (`uvicorn --factory api.app:app_factory`) and the workers (`python worker.py`, the floor
worker of bench/floor.py) run as their own processes, as in production, pointed at the dev
server by environment variables; they run in a scratch folder, so no `.env` of the checkout is
read. Everything lives in a temporary folder that is removed at the end.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlmodel import Session, select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.security import hash_password
from db.engine import make_engine
from db.migrate import scratch_database, upgrade
from db.models import User
from domain.cases import Role
from settings import Settings
from workflows.client import data_converter
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
PASSWORD = "bench-password-1"
EXPERT = "bench_expert"
"""An e-mail admin for every scope: decides the review tasks."""
CLERK = "bench_clerk"
"""A technician in three units: the typical cartable reader."""
CLERK_SCOPES = ["unit-007", "unit-042", "unit-123"]
START_TIMEOUT = 90.0
STOP_TIMEOUT = 20.0
MAIN_QUEUE = "bench-main"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> Callable[[], None]:
    """A child gets SIGTERM if the bench is killed without a chance to clean up (Linux)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()

    def preexec() -> None:
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


@dataclass
class Child:
    """A subprocess of the bench, with its output in a log file."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def rss_mib(self) -> float:
        """Resident memory now (VmRSS of /proc/<pid>/status), in MiB."""
        return _status_kib(self.pid, "VmRSS") / 1024

    def peak_rss_mib(self) -> float:
        return _status_kib(self.pid, "VmHWM") / 1024

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after STOP_TIMEOUT; only this child, by its pid."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds used by named processes between `start()` and `stop()`."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.used: dict[str, float] = dict.fromkeys(pids, 0.0)
        self._at: dict[str, float] = {}

    def start(self) -> None:
        self._at = {name: cpu_seconds(pid) for name, pid in self.pids.items()}

    def stop(self) -> None:
        for name, pid in self.pids.items():
            self.used[name] += cpu_seconds(pid) - self._at[name]

    def per(self, count: int) -> dict[str, float]:
        """Milliseconds of CPU per operation, by process, and their total."""
        each = {name: used * 1000 / count for name, used in self.used.items()}
        return {**each, "total": sum(each.values())}


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
    """What every figure uses: the dev server's client, the database, children on demand."""

    def __init__(self, tmp: Path, settings: Settings, engine: Engine, env: WorkflowEnvironment):
        self.tmp = tmp
        self.settings = settings
        self.engine = engine
        self.env = env
        self.run_id = secrets.token_hex(3)
        """Short random id that keeps this run's usernames and codes apart from any other."""
        self._children: list[Child] = []

    @property
    def client(self) -> Client:
        return self.env.client

    @property
    def temporal_address(self) -> str:
        return self.client.service_client.config.target_host

    @property
    def server_pid(self) -> int:
        """The dev server's process (found by its database file in this stack's folder)."""
        marker = str(self.tmp / "temporal.db")
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    argv = (entry / "cmdline").read_bytes().split(b"\0")
                except OSError:
                    continue
                if b"start-dev" in argv and marker.encode() in argv:
                    return int(entry.name)
        raise RuntimeError("the dev server's process was not found")

    @property
    def database(self) -> str:
        return make_url(self.settings.database_url).get_backend_name()

    def child_env(self, task_queue: str) -> dict[str, str]:
        """Environment of a subprocess: the settings of this stack, nothing from the checkout."""
        return {
            **os.environ,
            "APP_ENV": "development",
            "DATABASE_URL": self.settings.database_url,
            "TEMPORAL_ADDRESS": self.temporal_address,
            "TEMPORAL_NAMESPACE": self.settings.temporal_namespace,
            "TEMPORAL_TASK_QUEUE": task_queue,
            # As docker-compose.yml deploys the worker.
            "WORKFLOW_SANDBOX": "false",
            "PAYLOAD_KEYS": self.settings.payload_keys,
            "SECRET_KEY": self.settings.secret_key,
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
        }

    def spawn(self, name: str, argv: list[str], task_queue: str) -> Child:
        log = self.tmp / f"{name}-{len(self._children)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                argv,
                cwd=self.tmp,
                env=self.child_env(task_queue),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent(),
            )
        child = Child(name, proc, log)
        self._children.append(child)
        return child

    def stop(self, child: Child) -> None:
        child.stop()
        if child in self._children:
            self._children.remove(child)

    def stop_all(self) -> None:
        for child in list(self._children):
            self.stop(child)

    @contextlib.asynccontextmanager
    async def api(self, task_queue: str = MAIN_QUEUE) -> AsyncIterator[Api]:
        """The API as its own process on a free loopback port, healthy before it is yielded."""
        port = free_port()
        child = self.spawn(
            "api",
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "api.app:app_factory",
                "--host",
                HOST,
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            task_queue,
        )
        base_url = f"http://{HOST}:{port}"
        try:
            await _wait_healthy(base_url, child)
            yield Api(base_url, child)
        finally:
            self.stop(child)

    @contextlib.asynccontextmanager
    async def worker(
        self, task_queue: str = MAIN_QUEUE, *, module: str | None = None
    ) -> AsyncIterator[Child]:
        """`python worker.py` (or `python -m module`) polling `task_queue`, ready when yielded."""
        argv = (
            [sys.executable, "-m", module] if module else [sys.executable, str(ROOT / "worker.py")]
        )
        child = self.spawn(module or "worker", argv, task_queue)
        try:
            await _wait_for_log(child, "polling")
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


async def _wait_healthy(base_url: str, child: Child) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as http:
        while time.monotonic() < deadline:
            child.check_alive()
            try:
                health = await http.get("/api/health")
                if health.status_code == 200 and health.json()["status"] == "ok":
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise TimeoutError(f"the API did not become healthy:\n{child.tail()}")


async def _wait_for_log(child: Child, marker: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        child.check_alive()
        if marker in child.log.read_text(errors="replace"):
            return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"{child.name} did not start polling:\n{child.tail()}")


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
    """Start the dev server (SQLite file, WAL, synchronous=normal) and migrate the database."""
    tmp = Path(tempfile.mkdtemp(prefix="peygir-bench-"))
    stack: Stack | None = None
    engine: Engine | None = None
    env: WorkflowEnvironment | None = None
    try:
        url = scratch_database(os.environ.get("BENCH_DATABASE_URL", ""), tmp)
        upgrade(url)
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=url,
            payload_keys="bench:" + base64.b64encode(secrets.token_bytes(32)).decode(),
            secret_key=secrets.token_urlsafe(32),
            temporal_task_queue=MAIN_QUEUE,
        )
        engine = make_engine(url)
        _add_users(engine)
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(BIN / "temporal"),
            search_attributes=SEARCH_ATTRIBUTES,
            data_converter=data_converter(settings),
            dev_server_startup_timeout=timedelta(seconds=START_TIMEOUT),
            dev_server_extra_args=[
                "--headless",
                "--db-filename",
                str(tmp / "temporal.db"),
                "--sqlite-pragma",
                "journal_mode=wal",
                "--sqlite-pragma",
                "synchronous=normal",
            ],
        )
        stack = Stack(tmp, settings, engine, env)
        yield stack
    finally:
        if stack is not None:
            stack.stop_all()
        if env is not None:
            await env.shutdown()
        if engine is not None:
            engine.dispose()
        shutil.rmtree(tmp, ignore_errors=True)
