"""docs/performance.md keeps one section per database: a run on one leaves the other's alone."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench import report
from bench.measure import Figure


def _write(database: str, ratio: float) -> str:
    figure = Figure(
        "submit",
        f"submit    ratio {ratio}",
        ratio >= 0.9,
        {"ratio": ratio},
        ["a note"],
        target="ratio ≥ 0.9",
        result=f"ratio {ratio}",
    )
    report.write(
        [figure],
        "summary   1/1",
        scale=1,
        database=database,
        started=datetime(2026, 12, 1, tzinfo=UTC),
        seconds=60,
        load_before="1 1 1",
        commit_before="abc1234",
    )
    return report.DOC.read_text()


def test_each_database_keeps_its_own_section(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report, "DOC", tmp_path / "performance.md")
    first = _write("sqlite", 0.92)
    assert "No full run on PostgreSQL yet." in first
    both = _write("postgresql", 0.85)
    assert "| submit | ratio ≥ 0.9 | ratio 0.92 OK | ratio 0.85 MISSED |" in both
    assert both.count("submit    ratio 0.92") == 1 and both.count("submit    ratio 0.85") == 1
    again = _write("sqlite", 0.95)
    assert "ratio 0.92" not in again
    assert "| submit | ratio ≥ 0.9 | ratio 0.95 OK | ratio 0.85 MISSED |" in again
    assert again.index("## SQLite") < again.index("## PostgreSQL") < again.index("## How each")


def test_every_figure_has_its_place_and_its_method() -> None:
    """A figure the bench runs shows in the glance table (ORDER) and is described, numbered as
    in the report's sections, in the method text."""
    from bench.__main__ import FIGURES

    assert sorted(report.ORDER) == sorted(FIGURES)
    for number, name in enumerate(report.ORDER, start=1):
        assert f"\n{number}. **{name}**:" in report.METHOD, name
