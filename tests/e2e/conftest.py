"""The e2e tests share one running stack (dev server, worker, API over HTTP)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import Engine

from settings import Settings
from tests.stack import Stack, running_stack


@pytest.fixture(scope="package")
async def stack(
    settings: Settings, engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    async with running_stack(
        settings, engine, tmp_path_factory.mktemp("temporal"), "peygir-e2e"
    ) as running:
        yield running
