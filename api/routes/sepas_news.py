"""What wakes a waiting SEPAS case before its next poll: an SRM import (the cases waiting on SRM
look again), and the ministry Jira's webhook (the case of that issue reads it now).

Both are courtesies: a signal that fails to reach a case is only logged, since every waiting
case polls on its own rhythm anyway.
"""

from __future__ import annotations

import hmac
import logging
from typing import Annotated

import anyio.from_thread
from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, Field
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client

from api.blocking import run_blocking
from api.errors import ApiError, documented
from db.models import Case
from db.sepas import SepasCase
from domain.cases import CaseStatus
from domain.sepas_process import JiraNews, SrmNews
from processes.sepas import SEPAS
from settings import Settings
from workflows.sepas import SepasWorkflow

log = logging.getLogger("peygir.api")

router = APIRouter(prefix="/api/sepas", tags=["sepas cases"])

WAITING_ON_SRM = ("srm_wait", "evidence")
"""The steps of a case that an SRM import may end."""


def _waiting_on_srm(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(Case.workflow_id).where(
                    Case.process == SEPAS.kind,
                    Case.status == CaseStatus.open,
                    col(Case.current_step).in_(WAITING_ON_SRM),
                )
            )
        )


async def _signal_srm(client: Client, engine: Engine, source_name: str) -> int:
    woken = 0
    for workflow_id in await run_blocking(_waiting_on_srm, engine):
        try:
            await client.get_workflow_handle_for(SepasWorkflow.run, workflow_id).signal(
                SepasWorkflow.srm_imported, SrmNews(source_name=source_name)
            )
            woken += 1
        except Exception:
            log.warning("could not tell %s of SRM import %s", workflow_id, source_name)
    return woken


def announce_srm_import(request: Request, source_name: str) -> None:
    """From a route running in the threadpool: the cases waiting on SRM look again now."""
    state = request.app.state
    anyio.from_thread.run(_signal_srm, state.temporal, state.engine, source_name)


class JiraWebhook(BaseModel):
    """What the ministry's Jira posts when an issue changes (the fields Peygir reads)."""

    class Issue(BaseModel):
        key: Annotated[str, Field(max_length=30)]

    webhookEvent: Annotated[str, Field(max_length=100)] = ""
    issue: Issue


def _cases_of_issue(engine: Engine, key: str) -> list[str]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(Case.workflow_id)
                .join(SepasCase, col(SepasCase.case_id) == col(Case.id))
                .where(SepasCase.jira_key == key, Case.status == CaseStatus.open)
            )
        )


@router.post(
    "/jira-webhook",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=documented(404),
)
async def jira_webhook(
    hook: JiraWebhook,
    request: Request,
    secret: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """The ministry Jira's webhook (configured there with `?secret=` JIRA_WEBHOOK_SECRET): the
    cases following that issue read it now. Unknown or closed issues are ignored; without the
    secret the hook is not found (404), as if it did not exist."""
    state = request.app.state
    settings: Settings = state.settings
    expected = settings.jira_webhook_secret
    if not expected or not hmac.compare_digest(secret.encode(), expected.encode()):
        raise ApiError(404, "not_found")
    client: Client = state.temporal
    # Every open case following the issue: a case's own issue, as a rule, but nothing here
    # relies on one issue having one case.
    for workflow_id in await run_blocking(_cases_of_issue, state.engine, hook.issue.key):
        try:
            await client.get_workflow_handle_for(SepasWorkflow.run, workflow_id).signal(
                SepasWorkflow.jira_changed,
                JiraNews(issue_key=hook.issue.key, event=hook.webhookEvent),
            )
        except Exception:
            log.warning("could not tell %s that %s changed", workflow_id, hook.issue.key)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
