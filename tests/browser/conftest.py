"""The browser tests' shared fixtures: one running stack (dev server, worker, API over HTTP,
with the tests' laptop loan process) and Debian's headless Chromium."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright
from sqlalchemy import Engine

from processes.declaration import Registry
from processes.registry import PROCESSES
from settings import Settings
from tests.browser.helpers import CHROMIUM, FLAGS, SHOTS
from tests.e2e.loan_process import LOAN, loan_tables
from tests.stack import Stack, running_stack


@pytest.fixture(scope="module")
async def stack(
    settings: Settings, engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    processes = Registry([*PROCESSES, LOAN])
    with loan_tables(engine):
        async with running_stack(
            settings, engine, tmp_path_factory.mktemp("temporal"), "peygir-browser", processes
        ) as running:
            yield running


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: .ci/run installs it"
    SHOTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as pw:
        # Playwright gives every launch a fresh, empty user-data dir of its own.
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        await browser.close()
