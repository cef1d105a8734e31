"""Cases accepted in the database whose workflow never started (the API died in between).

A running workflow leaves the `submitted` step within seconds, so a case still there after a
grace period is restarted from its stored form; starting is idempotent, so replicas may overlap.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client

from api.temporal import start_email_workflow
from db.case_store import email_form
from db.models import Case, EmailRequest
from domain.cases import CaseStatus, ProcessKind
from domain.email_account import EmailRequestForm
from settings import Settings

log = logging.getLogger("peygir.recovery")

GRACE = timedelta(minutes=1)
INTERVAL_SECONDS = 60


def _stranded(engine: Engine, older_than: timedelta) -> list[tuple[Case, EmailRequestForm]]:
    """Open cases still at `submitted` after the grace period, with their stored forms."""
    cutoff = datetime.now(UTC) - older_than
    with Session(engine) as session:
        stranded = session.exec(
            select(Case)
            .where(
                col(Case.status) == CaseStatus.open,
                col(Case.current_step) == "submitted",
                col(Case.created_at) < cutoff,
                col(Case.process) == ProcessKind.email_account,
            )
            .limit(500)
        ).all()
        return [
            (case, email_form(session, case.id))
            for case in stranded
            # No form: the case is being removed (its start failed for good); leave it be.
            if case.id and session.get(EmailRequest, case.id) is not None
        ]


async def restart_unstarted(
    engine: Engine, client: Client, settings: Settings, *, older_than: timedelta = GRACE
) -> int:
    """Start the workflows of stranded cases; returns how many were (re)started.

    The query runs in a worker thread: the API's event loop never waits on the database.
    """
    forms = await run_in_threadpool(_stranded, engine, older_than)
    for case, form in forms:
        await start_email_workflow(client, settings, case, form)
        log.info("started the workflow of stranded case %s", case.tracking_code)
    return len(forms)


async def keep_restarting(engine: Engine, client: Client, settings: Settings) -> None:
    """Background loop of the API process."""
    while True:
        try:
            await restart_unstarted(engine, client, settings)
        except Exception:
            log.warning("stranded-case check failed", exc_info=True)
        await asyncio.sleep(INTERVAL_SECONDS)
