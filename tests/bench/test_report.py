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


def _write_alone(database: str, name: str, ratio: float) -> str:
    figure = Figure(
        name,
        f"{name}    ratio {ratio}",
        ratio >= 0.2,
        {"ratio": ratio},
        [],
        target="ratio ≥ 0.2",
        result=f"ratio {ratio}",
    )
    report.write_partial(
        [figure],
        scale=1,
        database=database,
        started=datetime(2026, 12, 2, 10, 30, tzinfo=UTC),
        load_before="1 1 1",
        commit_before="def5678",
    )
    return report.DOC.read_text()


def test_a_figure_run_alone_shows_until_the_next_full_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report, "DOC", tmp_path / "performance.md")
    _write("sqlite", 0.92)
    _write("postgresql", 0.85)
    alone = _write_alone("postgresql", "repair", 0.15)
    again = _write_alone("postgresql", "repair", 0.21)
    assert "ratio 0.15" not in again
    assert "| repair | ratio ≥ 0.2 | not run | ratio 0.21 (run alone 2026-12-02 10:30) OK |" in (
        again
    )
    assert again.count("repair    ratio 0.21") == 1
    assert again.index("## PostgreSQL") < again.index("repair    ratio 0.21")
    assert "| submit | ratio ≥ 0.9 | ratio 0.92 OK | ratio 0.85 MISSED |" in alone
    submit_alone = _write_alone("postgresql", "submit", 0.91)
    assert "ratio 0.91 (run alone 2026-12-02 10:30) OK |" in submit_alone
    assert "repair    ratio 0.21" in submit_alone, "another figure's run alone stays"
    full = _write("postgresql", 0.9)
    assert "run alone" not in full and "repair    ratio" not in full


def test_every_figure_has_its_place_and_its_method() -> None:
    """A figure the bench runs shows in the glance table (ORDER) and is described, numbered as
    in the report's sections, in the method text."""
    from bench.__main__ import FIGURES

    assert sorted(report.ORDER) == sorted(FIGURES)
    for number, name in enumerate(report.ORDER, start=1):
        assert f"\n{number}. **{name}**:" in report.METHOD, name
