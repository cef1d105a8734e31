"""The floors of figures 3 and 6: minimal workflows on a worker of their own.

FloorWorkflow (figure 3, process) runs one trivial activity. StepsFloorWorkflow (figure 6,
repair) runs the same activity and then takes as many Updates as a case has human decisions,
one at a time, each accepted by a trivial handler: the engine's least cost of a case with that
many round trips. `python -m bench.floor` runs their worker on TEMPORAL_TASK_QUEUE, connected
like worker.py (same settings, same data converter with the payload codec).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow

FLOOR_QUEUE = "bench-floor"


@activity.defn
async def echo(text: str) -> str:
    """The trivial activity: gives back what it got."""
    return text


@workflow.defn
class FloorWorkflow:
    @workflow.run
    async def run(self, text: str) -> str:
        return await workflow.execute_activity(
            echo, text, start_to_close_timeout=timedelta(seconds=30)
        )


@workflow.defn
class StepsFloorWorkflow:
    """The trivial activity, then `steps` decisions (Updates), each validated and taken in turn."""

    def __init__(self) -> None:
        self._decided = 0

    @workflow.run
    async def run(self, steps: int) -> int:
        await workflow.execute_activity(echo, "x", start_to_close_timeout=timedelta(seconds=30))
        await workflow.wait_condition(lambda: self._decided >= steps)
        return self._decided

    @workflow.update
    def decide(self, step: int) -> int:
        self._decided = step
        return step

    @decide.validator
    def _next_step_only(self, step: int) -> None:
        if step != self._decided + 1:
            raise ValueError(f"step {step} is not the next one ({self._decided + 1})")


async def main() -> None:
    """Poll the floor queue until SIGTERM or SIGINT."""
    import asyncio
    import logging
    import signal

    from temporalio.worker import Worker

    from settings import get_settings
    from workflows.client import connect

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = get_settings()
    client = await connect(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=[FloorWorkflow, StepsFloorWorkflow],
        activities=[echo],
    ):
        logging.getLogger("bench.floor").info(
            "floor worker polling %s", settings.temporal_task_queue
        )
        await stop.wait()


if __name__ == "__main__":
    import asyncio

    asyncio.run(main())
