"""The floor of figure 3: a workflow that runs one trivial activity, on a worker of its own.

`python -m bench.floor` runs that worker on TEMPORAL_TASK_QUEUE, connected like worker.py
(same settings, same data converter with the payload codec).
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
        workflows=[FloorWorkflow],
        activities=[echo],
    ):
        logging.getLogger("bench.floor").info(
            "floor worker polling %s", settings.temporal_task_queue
        )
        await stop.wait()


if __name__ == "__main__":
    import asyncio

    asyncio.run(main())
