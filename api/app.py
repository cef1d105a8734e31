"""The FastAPI app: thin routes over Temporal (start, Update, Query) and the system of record."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from sqlalchemy import Engine, text
from starlette.types import ASGIApp
from temporalio.client import Client

from api import errors
from api.headers import SecurityHeaders
from api.rate_limit import RateLimiter
from api.recovery import keep_restarting
from api.routes import admin, admin_logs, auth, cases, codec, files, tasks, tracking
from api.routes.case_starts import start_routes
from api.web import pages
from db.engine import make_engine
from processes.declaration import Registry
from processes.registry import PROCESSES
from settings import Settings, get_settings
from workflows.client import connect
from workflows.codec import EncryptionCodec

log = logging.getLogger("peygir.api")


class _RedactQueryStrings(logging.Filter):
    """Access logs keep the path only: query strings can hold national codes."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 3:
            args = list(record.args)
            if isinstance(args[2], str):
                args[2] = args[2].split("?", 1)[0]
            record.args = tuple(args)
        return True


class App(FastAPI):
    """FastAPI with the security headers outside everything, Starlette's ServerErrorMiddleware
    included: the 500 of an uncaught exception carries them as every other answer does."""

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack(), self.state.settings)


class Health(BaseModel):
    status: str
    database: bool
    temporal: bool


def _database_answers(engine: Engine) -> bool:
    """`SELECT 1`, in a worker thread: a slow database must not stall the event loop."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:
        log.warning("health: database unreachable", exc_info=True)
        return False
    return True


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    temporal: Client | None = None,
    processes: Registry = PROCESSES,
) -> FastAPI:
    """Build the app; tests pass their own settings, engine, Temporal client and processes."""
    settings = settings or get_settings()
    settings.require_secrets()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if temporal is None:
            app.state.temporal = await connect(settings)
            recovery = asyncio.create_task(
                keep_restarting(app.state.engine, app.state.temporal, settings, processes)
            )
        yield
        if temporal is None:
            recovery.cancel()

    app = App(
        title="Peygir — پیگیر",
        description="Service processes of the university's IT department",
        version="0.1.0",
        lifespan=lifespan,
        responses=errors.documented(400, 422),
    )
    app.state.settings = settings
    app.state.engine = engine or make_engine(
        settings.database_url, lock_timeout_seconds=settings.database_lock_timeout_seconds
    )
    app.state.temporal = temporal
    app.state.processes = processes
    app.state.codec = EncryptionCodec(settings.encryption_keys())
    app.state.track_limiter = RateLimiter(settings.track_rate_limit_per_minute)
    logging.getLogger("uvicorn.access").addFilter(_RedactQueryStrings())

    app.add_middleware(
        CORSMiddleware,
        allow_origins=[o.strip() for o in settings.codec_cors_origins.split(",") if o.strip()],
        allow_credentials=True,
        allow_methods=["POST", "OPTIONS"],
        allow_headers=["content-type", "x-namespace", "authorization"],
    )
    errors.install(app)
    app.include_router(auth.router)
    app.include_router(start_routes(processes))
    for module in (tracking, tasks, cases, admin, admin_logs, codec, files):
        app.include_router(module.router)
    app.include_router(pages.router)
    app.include_router(pages.start_pages(processes))
    for process in processes:
        for own in process.routes() if process.routes is not None else ():
            app.include_router(own)
    pages.install(app)
    static = StaticFiles(directory=Path(__file__).parent / "web" / "static")
    app.mount("/static", static, name="static")

    @app.get("/api/health", response_model=Health, tags=["ops"])
    async def health(request: Request) -> Any:
        database = await run_in_threadpool(_database_answers, request.app.state.engine)
        temporal_ok = False
        try:
            temporal_ok = await request.app.state.temporal.service_client.check_health()
        except Exception:
            log.warning("health: temporal unreachable", exc_info=True)
        ok = database and temporal_ok
        return Health(status="ok" if ok else "degraded", database=database, temporal=temporal_ok)

    return app


def app_factory() -> FastAPI:
    """Entry point for `uvicorn --factory api.app:app_factory`."""
    return create_app()
