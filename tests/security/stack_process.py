"""The security tests' stack, in a process of its own: Temporal dev server, worker, API servers.

Started by tests/security/conftest.py as `python -m tests.security.stack_process CONFIG.json`;
it writes CONFIG's `ready_file` once everything answers, and stops when its stdin closes (the
test session ended, or died).

It serves three copies of the app, each built the way `uvicorn --factory` builds it (uvicorn sets
up logging first, then the app adds its filters; the app connects to Temporal itself):
`main` with the given settings, `limited` with a small tracking rate limit, `dev` in development
mode (the codec's loopback exception). Every log record of the process (root, uvicorn's own
loggers; the application's loggers and temporalio at DEBUG) is written as a JSON line to
`log_file`, for the secrets test to read.

A process rather than a thread of the test process: it is how the product runs, and pytest
formats failure reports with `ast.parse` while the worker's threads format tracebacks; CPython
3.11.7 shares the AST recursion counter between threads, and the race ends the pytest session
with "SystemError: AST constructor recursion depth mismatch".
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

import uvicorn

from api.app import create_app
from db.engine import make_engine
from settings import AppEnv, Settings
from tests.conftest import start_dev_server
from worker import build_worker

APP_LOGGERS = (
    "peygir",
    "api",
    "activities",
    "workflows",
    "db",
    "worker",
    "temporalio",
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
)
"""At DEBUG. Library loggers keep their levels: SQLAlchemy at DEBUG echoes every SQL parameter,
which no deployment turns on."""
START_TIMEOUT = 60.0


class JsonLines(logging.Handler):
    """Every record, formatted (with its traceback) and with all its attributes."""

    def __init__(self, path: str) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        self.file = open(path, "a", encoding="utf-8", buffering=1)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:  # a record whose args do not fit its message: keep its parts
            text = f"{record.msg!r} {record.args!r}"
        line = {"name": record.name, "text": text, "record": repr(record.__dict__)}
        self.file.write(json.dumps(line, ensure_ascii=False) + "\n")


async def serve(config: dict[str, Any]) -> None:
    settings = Settings(_env_file=None, **config["settings"])
    engine = make_engine(settings.database_url)
    variants = {
        "main": settings,
        "limited": settings.model_copy(
            update={"track_rate_limit_per_minute": config["limited_track_limit"]}
        ),
        "dev": settings.model_copy(update={"app_env": AppEnv.development}),
    }
    servers = {
        name: uvicorn.Server(
            uvicorn.Config(
                partial(create_app, variant, engine=engine),
                factory=True,
                host="127.0.0.1",
                port=config["ports"][name],
                log_level="info",
                lifespan="on",
            )
        )
        for name, variant in variants.items()
    }
    # After uvicorn's logging setup (each Config applies it), as in production.
    capture = JsonLines(config["log_file"])
    for name in ("", "uvicorn", "uvicorn.access"):
        logging.getLogger(name).addHandler(capture)
    for name in APP_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)

    env = await start_dev_server(
        settings,
        Path(config["temporal_db"]),
        port=int(settings.temporal_address.rsplit(":", 1)[1]),
    )
    try:
        async with build_worker(env.client, settings, engine):
            serving = [asyncio.create_task(s.serve()) for s in servers.values()]
            deadline = time.monotonic() + START_TIMEOUT
            while not all(s.started for s in servers.values()):
                for task in serving:
                    if task.done():
                        task.result()
                        raise RuntimeError("an API server stopped before it started")
                if time.monotonic() > deadline:
                    raise TimeoutError("the API servers did not start")
                await asyncio.sleep(0.05)
            Path(config["ready_file"]).write_text("ready")
            # Until the test session closes our stdin (or dies).
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
            for server in servers.values():
                server.should_exit = True
            await asyncio.wait_for(asyncio.gather(*serving), 30)
    finally:
        await env.shutdown()
        engine.dispose()


if __name__ == "__main__":
    asyncio.run(serve(json.loads(Path(sys.argv[1]).read_text())))
