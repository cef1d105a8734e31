"""SRM's exports into Peygir: Persian or English headers, CSV or XLSX, all or nothing with errors
by row and column, the same file twice adding nothing, overlapping exports sharing rows, the
folder import taking each file once; and a hospital's errors of a window, where "no SRM data
yet" is not "no errors"."""

from __future__ import annotations

import os
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from db.error_bank import add_entry
from db.sepas import SrmError, SrmImport
from db.srm_import import (
    IMPORTED_DIR,
    REJECTED_DIR,
    SRM_FIELD_FA,
    FolderOutcome,
    SrmFile,
    SrmState,
    hospital_errors,
    import_folder,
    import_from,
    main,
)
from domain.calendar import TEHRAN
from domain.sepas import BankEntryText, ErrorCategory
from domain.spreadsheets import xlsx_bytes
from domain.uploads import FileRefused

EN_HEADER = "hospital_code,at,record_id,message,count"
FA_HEADER = ",".join(SRM_FIELD_FA.values())


def hospital() -> str:
    """A hospital code no other test uses (the database is shared)."""
    return "T" + uuid.uuid4().hex[:8].upper()


def export(*lines: str, header: str = EN_HEADER) -> bytes:
    return ("\n".join([header, *lines]) + "\n").encode()


def count_rows(engine: Engine, code: str) -> int:
    with Session(engine) as session:
        return session.exec(
            select(func.count()).select_from(SrmError).where(SrmError.hospital_code == code)
        ).one()


def test_bad_rows_are_reported_by_row_and_column_and_nothing_is_imported(engine: Engine) -> None:
    code = hospital()
    data = export(
        f"{code},1404/09/10 10:00,100,NationalCode invalid,2",
        f"{code},دیروز,101,NationalCode invalid,1",
        "بیمارستان,1404/09/10 10:05,102,,-3",
    )
    with Session(engine) as session:
        report = import_from(session, SrmFile(data, "srm.csv"), actor="tester")
        imports = session.exec(select(func.count()).select_from(SrmImport)).one()
    assert [(e.row, e.field, e.code) for e in report.errors] == [
        (3, "at", "srm_time_invalid"),
        (4, "hospital_code", "hospital_code_invalid"),
        (4, "message", "required"),
        (4, "count", "too_small"),
    ]
    assert report.errors[0].reason_en.startswith("Not a valid time")
    assert report.errors[0].reason_fa.startswith("زمان معتبر نیست")
    assert count_rows(engine, code) == 0
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(SrmImport)).one() == imports


def test_a_file_without_the_required_columns_is_refused(engine: Engine) -> None:
    with Session(engine) as session, pytest.raises(FileRefused) as refused:
        import_from(session, SrmFile(b"code,text\nH1,x\n", "other.csv"), actor="tester")
    assert refused.value.code == "columns_missing"


def test_the_same_export_twice_adds_nothing(engine: Engine) -> None:
    code = hospital()
    data = export(
        f"{code},2025-12-01 10:00,100,NationalCode invalid,2",
        f"{code},2025-12-01 10:00,100,NationalCode invalid,1",
        f"{code},2025-12-01 11:00,,Destination SepasNode is Down,",
        header=FA_HEADER,
    )
    with Session(engine) as session:
        first = import_from(session, SrmFile(data, "srm.csv"), actor="tester")
        again = import_from(session, SrmFile(data, "srm-copy.csv"), actor="tester")
    assert (first.rows, first.added, first.known, first.already_imported) == (2, 2, 0, False)
    assert first.unknown_hospitals == [code]
    assert (again.added, again.already_imported) == (0, True)
    with Session(engine) as session:
        counts = session.exec(
            select(SrmError.message, SrmError.count)
            .where(SrmError.hospital_code == code)
            .order_by(col(SrmError.at))
        ).all()
    # A line repeated within one export is one row, its counts summed.
    assert counts == [("NationalCode invalid", 3), ("Destination SepasNode is Down", 1)]


def test_overlapping_exports_share_their_rows(engine: Engine) -> None:
    code = hospital()
    monday = f"{code},2025-12-01 10:00,100,NationalCode invalid,1"
    tuesday = f"{code},2025-12-02 10:00,200,InsuranceBox is invalid.,1"
    rows = [[code, datetime(2025, 12, 1, 10), "100", "NationalCode invalid", 1]]
    xlsx = xlsx_bytes([list(SRM_FIELD_FA.values()), *rows])
    with Session(engine) as session:
        first = import_from(session, SrmFile(xlsx, "monday.xlsx"), actor="tester")
        second = import_from(session, SrmFile(export(monday, tuesday), "week.csv"), actor="t")
    assert (first.added, second.rows, second.added, second.known) == (1, 2, 1, 1)
    assert count_rows(engine, code) == 2


def test_the_folder_import_takes_each_file_once(engine: Engine, tmp_path: Path) -> None:
    code = hospital()
    good = export(f"{code},2025-12-03 09:00,1,NationalCode is block.,1")
    (tmp_path / "a.csv").write_bytes(good)
    (tmp_path / "b.csv").write_bytes(good)  # the same export saved twice
    (tmp_path / "c.csv").write_bytes(export(f"{code},never,1,x,1"))
    (tmp_path / "notes.txt").write_text("not an export")
    (tmp_path / "d.csv").write_bytes(export(f"{code},2025-12-03 09:30,2,Error at VerifyPerson.,1"))
    old = time.time() - 600
    for name in ("a.csv", "b.csv", "c.csv"):
        os.utime(tmp_path / name, (old, old))
    with Session(engine) as session:
        done = import_folder(session, tmp_path, actor="cron")
    # d.csv was written just now: it may still be being copied, so it waits for the next run.
    assert [(f.name, f.outcome) for f in done] == [
        ("a.csv", FolderOutcome.imported),
        ("b.csv", FolderOutcome.already_imported),
        ("c.csv", FolderOutcome.rejected),
    ]
    assert sorted(p.name for p in (tmp_path / IMPORTED_DIR).iterdir()) == ["a.csv", "b.csv"]
    rejected = tmp_path / REJECTED_DIR
    assert sorted(p.name for p in rejected.iterdir()) == ["c.csv", "c.csv.errors.txt"]
    assert "srm_time" not in (rejected / "c.csv.errors.txt").read_text()
    assert "row 2" in (rejected / "c.csv.errors.txt").read_text()
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["d.csv", "notes.txt"]
    with Session(engine) as session:
        assert import_folder(session, tmp_path, actor="cron", settle_seconds=0)[0].name == "d.csv"
        assert import_folder(session, tmp_path, actor="cron", settle_seconds=0) == []
    assert count_rows(engine, code) == 2


def test_the_command_line_imports_a_file(
    engine: Engine,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import db.engine

    monkeypatch.setattr(db.engine, "get_engine", lambda: engine)
    code = hospital()
    path = tmp_path / "srm.csv"
    path.write_bytes(export(f"{code},2025-12-04 09:00,1,NationalCode invalid,1"))
    assert main(["file", str(path), "--actor", "ops"]) == 0
    assert "added: 1" in capsys.readouterr().out
    assert main(["file", str(path)]) == 0
    assert "imported before" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_bytes(export(f"{code},2025-12-04,1,,1"))
    assert main(["file", str(bad)]) == 1
    assert "row 2" in capsys.readouterr().out


def test_a_hospitals_errors_of_a_window_grouped_with_the_bank(engine: Engine) -> None:
    code = hospital()
    pattern = f"Record {{number}} of {code} is not Complete."
    with Session(engine) as session:
        entry = add_entry(
            session,
            BankEntryText(
                message=pattern,
                is_pattern=True,
                category=ErrorCategory.software,
                cause_fa="علت",
                cause_en="cause",
                remedy_fa="راه",
                remedy_en="fix",
            ),
            "tester",
        )
        session.commit()
        entry_id = entry.id
    day = datetime(2031, 5, 1, tzinfo=TEHRAN)
    window = (day + timedelta(hours=8), day + timedelta(hours=16))
    with Session(engine) as session:
        # Before any export reaches the window: no data, which is not "no errors".
        waiting = hospital_errors(session, code, *window)
        assert (waiting.state, waiting.covered, waiting.groups) == (SrmState.no_data, False, [])
        lines = [
            f"{code},2031-05-01 09:00,11,Record 11 of {code} is not Complete.,2",
            f"{code},2031-05-01 10:00,12,Record 12 of {code} is not complete,1",
            f"{code},2031-05-01 18:00,13,NationalCode invalid,1",
        ]
        source = SrmFile(
            export(*lines),
            "day.csv",
            period_from=day,
            period_until=day + timedelta(days=1),
        )
        import_from(session, source, actor="tester")
        reading = hospital_errors(session, code, *window)
        quiet = hospital_errors(session, "Q" + code, *window)
    assert (reading.state, reading.covered) == (SrmState.errors, True)
    # Grouped by message: the pattern explains both, each record's line its own group.
    assert [(g.message, g.count, g.sample_records) for g in reading.groups] == [
        (f"Record 11 of {code} is not Complete.", 2, ["11"]),
        (f"Record 12 of {code} is not complete", 1, ["12"]),
    ]
    assert {g.match.entry_id for g in reading.groups if g.match} == {entry_id}
    assert (quiet.state, quiet.groups) == (SrmState.clean, [])
    assert reading.data_until is not None and reading.data_until >= window[1]
