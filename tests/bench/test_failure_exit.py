"""A figure that fails leaves the bench able to finish: it exits non-zero with the reason.

The figure fails as the process figure did when the API answered 500: one request fails while
others wait on their workflows' results (Temporal calls in flight), with the API running as a
child. The bench runs in a subprocess with a deadline; before, it printed its summary and hung.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEADLINE_SECONDS = 120
REASON = "submit: 500 Internal Server Error (forced by the test)"

FAILING_BENCH = textwrap.dedent(
    f"""
    import asyncio

    import bench.__main__ as bench_main
    from api.temporal import begin_case_workflow
    from bench.cases import open_case
    from bench.forms import form
    from bench.measure import run_pool
    from processes.email_account import EMAIL_ACCOUNT

    async def failing(stack):
        async with stack.api() as api:
            print("children", stack.server_pid, api.child.pid, flush=True)
            handles = []
            for i in range(4):
                request = form(stack.run_id, "sub", i)
                case = open_case(stack.engine, request)
                handles.append(
                    await begin_case_workflow(
                        stack.client, "nobody-polls", EMAIL_ACCOUNT, case, request
                    )
                )

            async def job(i):
                if i == 0:
                    await asyncio.sleep(0.5)
                    raise RuntimeError({REASON!r})
                await handles[i].result()  # never: no worker polls that queue

            await run_pool(len(handles), len(handles), job, timeout=600)

    bench_main.FIGURES = {{"submit": failing}}
    bench_main.cli()
    """
)


def test_a_failed_figure_ends_the_bench_with_its_reason(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BENCH_")}
    env.update(PYTHONPATH=str(ROOT), TMPDIR=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-c", FAILING_BENCH],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=DEADLINE_SECONDS,
    )
    out = done.stdout
    said = f"exit {done.returncode}\n{out}\n{done.stderr[-3000:]}"
    assert "summary   0/1 targets met: submit FAILED" in out, said
    assert f"bench     submit failed: RuntimeError: {REASON}" in out, said
    assert done.returncode == 1, said
    pids = next(line.split()[1:] for line in out.splitlines() if line.startswith("children "))
    left = [pid for pid in pids if Path(f"/proc/{pid}").exists()]
    assert not left, f"children still running after the bench: {left}"
    assert not list(tmp_path.glob("peygir-bench-*")), "the scratch folder was not removed"
