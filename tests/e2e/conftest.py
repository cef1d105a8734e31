"""The e2e tests share one running stack (dev server, worker, API over HTTP), which runs the
product's processes and one more that exists only in the tests (loan_process.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import Engine

from processes.declaration import Registry
from processes.registry import PROCESSES
from settings import Settings
from tests.e2e.loan_process import LOAN, loan_tables
from tests.jira_server import JiraServer
from tests.stack import Stack, running_stack

SHAMS_E2E = {
    "shams_progress_check_minutes": 1,
    "shams_site_batch": 10,
    "shams_probe_window_seconds": 120,
    "shams_probe_pause_minutes": 1,
    "shams_probe_first_retry_seconds": 0.2,
    "shams_probe_max_retry_seconds": 1.0,
}
"""The SHAMS rollout in real seconds: its counties and the rollout read their progress every
minute (the settings' least), counties start their sites ten at a time, and one probe window
(two minutes, retrying every second at most) outlasts the wait for the test's late listener."""


JIRA_TOKEN = "ministry-jira-token"
JIRA_WEBHOOK_SECRET = "ministry-webhook-secret"


@pytest.fixture(scope="package")
def ministry_jira() -> Iterator[JiraServer]:
    """The ministry's Jira for process 5: the local stand-in, over HTTP."""
    with JiraServer(token=JIRA_TOKEN) as server:
        yield server


@pytest.fixture(scope="package")
async def stack(
    settings: Settings,
    engine: Engine,
    tmp_path_factory: pytest.TempPathFactory,
    ministry_jira: JiraServer,
) -> AsyncIterator[Stack]:
    processes = Registry([*PROCESSES, LOAN])
    jira = {
        "jira_base_url": ministry_jira.url,
        "jira_token": JIRA_TOKEN,
        "jira_webhook_secret": JIRA_WEBHOOK_SECRET,
    }
    with loan_tables(engine):
        async with running_stack(
            settings.model_copy(update={**SHAMS_E2E, **jira}),
            engine,
            tmp_path_factory.mktemp("temporal"),
            "peygir-e2e",
            processes,
        ) as running:
            # Jira tells Peygir of every change to an issue, as the ministry configures it.
            ministry_jira.state.webhook_url = (
                f"{running.base_url}/api/sepas/jira-webhook?secret={JIRA_WEBHOOK_SECRET}"
            )
            yield running
