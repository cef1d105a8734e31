"""Benchmarks of Peygir: each figure is a ratio of two things measured side by side.

`make bench` (or `python -m bench`) runs them all on one Temporal dev server and writes
docs/performance.md. BENCH_SCALE multiplies every size (e.g. 0.05 for a quick run).
"""
