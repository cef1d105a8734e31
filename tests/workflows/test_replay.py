"""Stored histories still replay on today's workflow code (a change needs workflow.patched)."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from processes.registry import PROCESSES
from settings import Settings
from workflows.client import data_converter

HISTORIES = sorted((Path(__file__).parent.parent / "histories").glob("*.json"))


def test_histories_are_stored() -> None:
    assert HISTORIES, "tests/histories holds no history to replay"


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_history_replays(path: Path, settings: Settings) -> None:
    replayer = Replayer(workflows=PROCESSES.workflows(), data_converter=data_converter(settings))
    workflow_id = path.stem.partition("@")[2]
    assert workflow_id, "name histories <scenario>@<workflow id>.json"
    history = WorkflowHistory.from_json(workflow_id, path.read_text())
    result = await replayer.replay_workflow(history)
    assert result.replay_failure is None
