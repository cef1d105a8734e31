"""`make run`: migrate, seed, then run the Temporal dev server, the worker and the API together.

State lives in SQLite files under var/ (var/temporal.db for Temporal, var/peygir.db for the app),
so cases, tasks and users survive a restart. Ctrl-C (or SIGTERM) stops all three, the API and the
worker before Temporal (again: kill at once); if one of them dies, the others are stopped and this
script exits non-zero. The children are run by the shared supervisor (supervise.py).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
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
from supervise import (  # noqa: E402
    HOST,
    Child,
    ChildDied,
    Supervisor,
    api_argv,
    api_healthy,
    port_open,
    temporal_argv,
    worker_argv,
)

TEMPORAL_DB = Path("var") / "temporal.db"
TEMPORAL_PORT = 7233
UI_PORT = 8233
API_PORT = 8000
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0


def say(text: str) -> None:
    print(f"{'dev':<8}| {text}", flush=True)


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
    subprocess.run([sys.executable, "-m", "db.migrate"], cwd=ROOT, check=True)
    engine = make_engine(settings.database_url)
    try:
        say(describe(seed(settings, engine)))
    finally:
        engine.dispose()


async def serve(supervisor: Supervisor, stop_requests: list[int]) -> None:
    """Start the three in order and watch them until a stop is asked for or one dies."""

    def stopping() -> bool:
        return bool(stop_requests)

    temporal = Child(
        "temporal",
        temporal_argv(
            TEMPORAL_DB,
            TEMPORAL_PORT,
            "--ui-port",
            str(UI_PORT),
            "--ui-codec-endpoint",
            f"http://localhost:{API_PORT}/codec",
            "--ui-disable-news-fetch",
            "--log-level",
            "warn",
            namespace=get_settings().temporal_namespace,
        ),
    )
    worker = Child("worker", worker_argv())
    api = Child("api", api_argv(API_PORT))
    for child, ready, what in (
        (temporal, lambda: port_open(TEMPORAL_PORT), f"Temporal on port {TEMPORAL_PORT}"),
        (worker, lambda: True, "the worker"),
        (api, lambda: api_healthy(f"http://{HOST}:{API_PORT}"), f"the API on port {API_PORT}"),
    ):
        say(f"starting {child.name}: {' '.join(child.argv)}")
        supervisor.start(child)
        if not await supervisor.until(ready, what, START_TIMEOUT, stopping=stopping):
            return
    print(welcome(get_settings()), flush=True)
    say("ready; Ctrl-C stops everything")
    while not stopping():
        supervisor.check()
        await asyncio.sleep(0.3)


def run() -> int:
    prepare()
    supervisor = Supervisor(STOP_TIMEOUT)
    stop_requests: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        stop_requests.append(signum)
        if len(stop_requests) == 1:
            say(f"{signal.Signals(signum).name}: stopping (again to kill at once)")
        else:
            supervisor.kill_all()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    status = 0
    try:
        asyncio.run(serve(supervisor, stop_requests))
    except ChildDied as error:
        say(f"{error.child.name} exited with code {error.child.returncode}: stopping the others")
        status = 1
    except TimeoutError as error:
        say(f"{error}: stopping the others")
        status = 1
    finally:
        supervisor.stop_all()
        say("all stopped")
    return status


if __name__ == "__main__":
    try:
        sys.exit(run())
    except subprocess.CalledProcessError as error:
        say(f"{error.cmd[1:]} failed with code {error.returncode}")
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
