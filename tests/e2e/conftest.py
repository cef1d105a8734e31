"""The e2e tests share one running stack (dev server, worker, API over HTTP), which runs the
product's processes and one more that exists only in the tests (loan_process.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import Engine

from processes.declaration import Registry
from processes.registry import PROCESSES
from settings import Settings
from tests.e2e.loan_process import LOAN, loan_tables
from tests.stack import Stack, running_stack


@pytest.fixture(scope="package")
async def stack(
    settings: Settings, engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    processes = Registry([*PROCESSES, LOAN])
    with loan_tables(engine):
        async with running_stack(
            settings, engine, tmp_path_factory.mktemp("temporal"), "peygir-e2e", processes
        ) as running:
            yield running
