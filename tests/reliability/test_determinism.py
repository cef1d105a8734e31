"""A non-deterministic change to a process's workflow is caught by replaying stored histories.

tests/workflows/test_replay.py replays every stored history on today's code; here the same histories
are replayed on deliberately broken copies of the workflow (same workflow name, one activity more or
one less, no `workflow.patched`), and the replay must fail with a NondeterminismError.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from temporalio import workflow

# The workflow sandbox re-imports this module to validate the workflows defined here: everything
# else is passed through, as the product's workflow modules do.
with workflow.unsafe.imports_passed_through():
    import pytest
    from temporalio.client import WorkflowHistory
    from temporalio.worker import Replayer

    from activities.case_records import CaseRecordActivities
    from activities.email_account import EmailAccountActivities
    from activities.shams import ShamsActivities
    from domain.appointment import AppointmentStart
    from domain.email_account import EmailAccountInput
    from domain.records import StagesEntered
    from domain.repair import RepairStart
    from domain.sepas_process import SepasStart
    from domain.shams_process import CountyStart, RolloutStart, SiteStart
    from settings import Settings
    from tests.workflows.test_replay import HISTORIES
    from workflows.appointment import AppointmentWorkflow
    from workflows.client import data_converter
    from workflows.email_account import EmailAccountWorkflow
    from workflows.human_task import RECORD_RETRY, RECORD_TIMEOUT
    from workflows.repair import RepairWorkflow
    from workflows.sepas import SepasWorkflow
    from workflows.shams import RolloutWorkflow
    from workflows.shams_county import CountyWorkflow
    from workflows.shams_site import SiteWorkflow


@workflow.defn(name="EmailAccountWorkflow")
class ExtraActivityWorkflow(EmailAccountWorkflow):
    """Writes an (empty) list of stages before the case begins: one activity more."""

    @workflow.run
    async def run(self, start: EmailAccountInput) -> str:
        await workflow.execute_activity_method(
            CaseRecordActivities.record_stages,
            StagesEntered(case_id=start.case_id, stages=[]),
            start_to_close_timeout=RECORD_TIMEOUT,
            retry_policy=RECORD_RETRY,
        )
        return await super().run(start)


@workflow.defn(name="EmailAccountWorkflow")
class SilentWorkflow(EmailAccountWorkflow):
    """Never sends the answer, which every case does: one activity less."""

    @workflow.run
    async def run(self, start: EmailAccountInput) -> str:
        return await super().run(start)

    async def call_outside(self, activity: Any, arg: Any, **options: Any) -> Any:
        if activity is EmailAccountActivities.send_answer:
            return None
        return await super().call_outside(activity, arg, **options)


@workflow.defn(name="RepairWorkflow")
class RepairExtraActivityWorkflow(RepairWorkflow):
    """Writes an (empty) list of stages before the repair begins: one activity more."""

    @workflow.run
    async def run(self, start: RepairStart) -> str:
        await workflow.execute_activity_method(
            CaseRecordActivities.record_stages,
            StagesEntered(case_id=start.case_id, stages=[]),
            start_to_close_timeout=RECORD_TIMEOUT,
            retry_policy=RECORD_RETRY,
        )
        return await super().run(start)


@workflow.defn(name="RepairWorkflow")
class RepairSilentWorkflow(RepairWorkflow):
    """Never shows its step in the Temporal UI: no search-attribute upserts, commands less."""

    @workflow.run
    async def run(self, start: RepairStart) -> str:
        return await super().run(start)

    @staticmethod
    def _show_step(key: str) -> None:
        return None


async def _stages_first(case_id: int) -> None:
    await workflow.execute_activity_method(
        CaseRecordActivities.record_stages,
        StagesEntered(case_id=case_id, stages=[]),
        start_to_close_timeout=RECORD_TIMEOUT,
        retry_policy=RECORD_RETRY,
    )


@workflow.defn(name="RolloutWorkflow")
class RolloutExtraActivityWorkflow(RolloutWorkflow):
    """Writes an (empty) list of stages before the rollout begins: one activity more."""

    @workflow.run
    async def run(self, start: RolloutStart) -> str:
        await _stages_first(start.case_id)
        return await super().run(start)


@workflow.defn(name="RolloutWorkflow")
class RolloutSilentWorkflow(RolloutWorkflow):
    """Never shows its step in the Temporal UI: no search-attribute upserts, commands less."""

    @workflow.run
    async def run(self, start: RolloutStart) -> str:
        return await super().run(start)

    @staticmethod
    def _show_step(key: str) -> None:
        return None


@workflow.defn(name="CountyWorkflow")
class CountyExtraActivityWorkflow(CountyWorkflow):
    @workflow.run
    async def run(self, start: CountyStart) -> str:
        await _stages_first(start.rollout.case_id)
        return await super().run(start)


@workflow.defn(name="CountyWorkflow")
class CountySilentWorkflow(CountyWorkflow):
    """Never writes its row on the board: activities less."""

    @workflow.run
    async def run(self, start: CountyStart) -> str:
        return await super().run(start)

    async def record(self, activity: Any, arg: Any) -> Any:
        if activity is ShamsActivities.record_county:
            return None
        return await super().record(activity, arg)


@workflow.defn(name="SiteWorkflow")
class SiteExtraActivityWorkflow(SiteWorkflow):
    @workflow.run
    async def run(self, start: SiteStart) -> str:
        await _stages_first(start.rollout.case_id)
        return await super().run(start)


@workflow.defn(name="SiteWorkflow")
class SiteSilentWorkflow(SiteWorkflow):
    """Never shows its step in the Temporal UI: no search-attribute upserts, commands less."""

    @workflow.run
    async def run(self, start: SiteStart) -> str:
        return await super().run(start)

    def show(self, key: str) -> None:
        return None


@workflow.defn(name="SepasWorkflow")
class SepasExtraActivityWorkflow(SepasWorkflow):
    """Writes an (empty) list of stages before the case begins: one activity more."""

    @workflow.run
    async def run(self, start: SepasStart) -> str:
        await _stages_first(start.case_id)
        return await super().run(start)


@workflow.defn(name="SepasWorkflow")
class SepasSilentWorkflow(SepasWorkflow):
    """Never shows its step in the Temporal UI: no search-attribute upserts, commands less."""

    @workflow.run
    async def run(self, start: SepasStart) -> str:
        return await super().run(start)

    @staticmethod
    def _show_step(key: str) -> None:
        return None


@workflow.defn(name="AppointmentWorkflow")
class AppointmentExtraActivityWorkflow(AppointmentWorkflow):
    """Writes an (empty) list of stages before the case begins: one activity more."""

    @workflow.run
    async def run(self, start: AppointmentStart) -> str:
        await _stages_first(start.case_id)
        return await super().run(start)


@workflow.defn(name="AppointmentWorkflow")
class AppointmentSilentWorkflow(AppointmentWorkflow):
    """Never shows its step in the Temporal UI: no search-attribute upserts, commands less."""

    @workflow.run
    async def run(self, start: AppointmentStart) -> str:
        return await super().run(start)

    @staticmethod
    def _show_step(key: str) -> None:
        return None


BROKEN: dict[str, tuple[type, list[type]]] = {
    "email_account": (EmailAccountWorkflow, [ExtraActivityWorkflow, SilentWorkflow]),
    "equipment_repair": (RepairWorkflow, [RepairExtraActivityWorkflow, RepairSilentWorkflow]),
    "shams_rollout": (RolloutWorkflow, [RolloutExtraActivityWorkflow, RolloutSilentWorkflow]),
    "shams_county": (CountyWorkflow, [CountyExtraActivityWorkflow, CountySilentWorkflow]),
    "shams_site": (SiteWorkflow, [SiteExtraActivityWorkflow, SiteSilentWorkflow]),
    "sepas_error": (SepasWorkflow, [SepasExtraActivityWorkflow, SepasSilentWorkflow]),
    "automation_cartable": (
        AppointmentWorkflow,
        [AppointmentExtraActivityWorkflow, AppointmentSilentWorkflow],
    ),
}
"""Each stored history's process (its name's prefix): its workflow and broken copies of it."""


def _cases() -> list[tuple[Path, type, type]]:
    cases = []
    for path in HISTORIES:
        kind = next(k for k in BROKEN if path.stem.startswith(k + "_"))
        product, broken = BROKEN[kind]
        cases += [(path, product, changed) for changed in broken]
    return cases


def _history(path: Path) -> WorkflowHistory:
    workflow_id = path.stem.partition("@")[2]
    assert workflow_id, "name histories <scenario>@<workflow id>.json"
    return WorkflowHistory.from_json(workflow_id, path.read_text())


@pytest.mark.parametrize(
    ("path", "product", "changed"),
    _cases(),
    ids=[f"{p.stem}-{changed.__name__}" for p, _, changed in _cases()],
)
async def test_a_non_deterministic_change_fails_replay(
    path: Path, product: type, changed: type, settings: Settings
) -> None:
    history = _history(path)
    converter = data_converter(settings)
    # The harness itself is sound: the product's workflow replays this history.
    unchanged = Replayer(workflows=[product], data_converter=converter)
    assert (
        await unchanged.replay_workflow(history, raise_on_replay_failure=False)
    ).replay_failure is None

    replayer = Replayer(workflows=[changed], data_converter=converter)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert isinstance(result.replay_failure, workflow.NondeterminismError), (
        f"{changed.__name__} replayed {path.name} without a nondeterminism error: "
        f"{result.replay_failure!r}"
    )
    with pytest.raises(workflow.NondeterminismError):
        await replayer.replay_workflow(history)
