"""The property office's register: CSV or XLSX, Persian or English headers, Jalali or Gregorian
dates, all or nothing, and a re-import that updates instead of duplicating."""

from __future__ import annotations

import io
import uuid
import zipfile
from datetime import date, datetime

import pytest
from openpyxl import Workbook
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

import db.asset_register as register
import db.engine
from db.asset_register import FileRejected, RegisterReport, import_register, main
from db.repair import Asset, Vendor
from domain.repair import AssetKind

FA_HEADER = "شماره اموال,سریال,نوع,مدل,واحد,اتاق,تحویل‌گیرنده,تاریخ خرید,پایان گارانتی,شرکت گارانتی"


def tag() -> str:
    """A prefix of property numbers no other test uses (the database is shared)."""
    return uuid.uuid4().hex[:6].upper()


def run(engine: Engine, data: bytes, **options: bool) -> RegisterReport:
    with Session(engine) as session:
        return import_register(session, data, **options)


def assets(engine: Engine, prefix: str) -> dict[str, Asset]:
    with Session(engine) as session:
        rows = session.exec(select(Asset).where(col(Asset.property_number).startswith(prefix)))
        return {a.property_number: a for a in rows}


def vendor(engine: Engine, name: str) -> int:
    with Session(engine) as session:
        row = Vendor(name=name, fields=["printer"])
        session.add(row)
        session.commit()
        assert row.id is not None
        return row.id


def csv_bytes(*lines: str, bom: bool = True) -> bytes:
    return ("\ufeff" if bom else "").encode() + "\n".join(lines).encode("utf-8") + b"\n"


def xlsx_bytes(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_persian_csv_with_jalali_dates_and_persian_digits(engine: Engine) -> None:
    p = tag()
    name = f"پارس رایانه {p}"
    vendor(engine, name)
    data = csv_bytes(
        FA_HEADER,
        f"{p}-۱۰۰۱,SN-1,لپ‌تاپ,Lenovo T14,معاونت آموزشی,۲۱۲,مریم حسینی,۱۴۰۳/۰۵/۱۲,۱۴۰۵/۰۵/۱۲,{name}",
        f"{p}-1002,,چاپگر,HP 402,مدیریت فناوری اطلاعات,,,,,",
    )
    report = run(engine, data)
    assert report == RegisterReport(created=2)
    stored = assets(engine, p)
    laptop = stored[f"{p}-1001"]
    assert laptop.kind == AssetKind.laptop
    assert laptop.purchase_date == date(2024, 8, 2)
    assert laptop.warranty_end == date(2026, 8, 3)
    assert laptop.holder == "مریم حسینی" and laptop.room == "212"
    assert laptop.warranty_vendor_id is not None
    printer = stored[f"{p}-1002"]
    assert printer.kind == AssetKind.printer and printer.warranty_vendor_id is None
    assert printer.purchase_date is None


def test_english_headers_iso_dates_without_bom(engine: Engine) -> None:
    p = tag()
    data = csv_bytes(
        "property_number,kind,purchase_date,warranty_end,unit,other column",
        f"{p}/7,monitor,2024-01-31,2025-01-31,IT,ignored",
        bom=False,
    )
    assert run(engine, data).created == 1
    monitor = assets(engine, p)[f"{p}/7"]
    assert monitor.kind == AssetKind.monitor
    assert (monitor.purchase_date, monitor.warranty_end) == (date(2024, 1, 31), date(2025, 1, 31))
    assert monitor.unit == "IT"


def test_xlsx_with_date_cells_numbers_and_a_formula_never_evaluated(engine: Engine) -> None:
    p = tag()
    number = int(str(uuid.uuid4().int)[:9])
    data = xlsx_bytes(
        [
            ["شماره اموال", "نوع", "سریال", "تاریخ خرید", "پایان گارانتی"],
            [number, "رایانه رومیزی", "=1+1", datetime(2023, 3, 1), "۱۴۰۴/۱۲/۲۹"],
            [f"{p}-X", "scanner", 12345.0, None, None],
            [None, None, None, None, None],
        ]
    )
    assert data.startswith(register.ZIP_MAGIC)
    assert run(engine, data).created == 2
    pc = assets(engine, str(number))[str(number)]
    assert pc.kind == AssetKind.pc
    assert pc.serial == ""  # a formula's cached value only; openpyxl wrote none
    assert pc.purchase_date == date(2023, 3, 1)
    assert pc.warranty_end == date(2026, 3, 20)
    assert assets(engine, p)[f"{p}-X"].serial == "12345"


def test_bad_rows_are_numbered_and_nothing_is_imported(engine: Engine) -> None:
    p = tag()
    data = csv_bytes(
        FA_HEADER,
        f"{p}-1,,pc,,,,,,,",  # row 2: fine, but must not be imported either
        "",  # row 3: empty, skipped, still counted
        f"{p}-2,,فضاپیما,,,,,1403/13/01,,",  # row 4: kind and date
        ",,pc,,,,,,,",  # row 5: no property number
        f"{p}-1,,pc,,,,,,,",  # row 6: repeats row 2
        f"{p}-3,,pc,,,,,1403/01/01,1402/01/01,",  # row 7: warranty ends before purchase
        f"{p} 4!,,pc,,,,,,,",  # row 8: not a property number
    )
    report = run(engine, data)
    assert (report.created, report.updated, report.unchanged) == (0, 0, 0)
    found = {(e.row, e.field, e.code) for e in report.errors}
    assert found == {
        (4, "kind", "kind_invalid"),
        (4, "purchase_date", "date_invalid"),
        (5, "property_number", "required"),
        (6, "property_number", "duplicate_row"),
        (7, "warranty_end", "warranty_before_purchase"),
        (8, "property_number", "property_number_invalid"),
    }
    duplicate = next(e for e in report.errors if e.code == "duplicate_row")
    assert "۲" in duplicate.reason_fa and "row 2" in duplicate.reason_en
    assert assets(engine, p) == {}


def test_unknown_vendor_is_an_error_and_a_known_one_matches_loosely(engine: Engine) -> None:
    p = tag()
    vendor_id = vendor(engine, f"Pars Computer {p}")
    header = "property_number,kind,warranty_vendor"
    unknown = run(engine, csv_bytes(header, f"{p}-1,pc,Nobody {p}"))
    assert [(e.row, e.field, e.code) for e in unknown.errors] == [
        (2, "warranty_vendor", "vendor_unknown")
    ]
    assert "شرکتی با این نام" in unknown.errors[0].reason_fa
    assert assets(engine, p) == {}
    assert run(engine, csv_bytes(header, f"{p}-1,pc,  pars   COMPUTER {p.lower()} ")).created == 1
    assert assets(engine, p)[f"{p}-1"].warranty_vendor_id == vendor_id


def test_reimport_updates_by_property_number_without_duplicates(engine: Engine) -> None:
    p = tag()
    header = "property_number,kind,unit,holder"
    first = csv_bytes(header, f"{p}-1,pc,IT,Ali", f"{p}-2,printer,IT,Sara")
    assert run(engine, first) == RegisterReport(created=2)
    assert run(engine, first) == RegisterReport(unchanged=2)
    moved = csv_bytes(header, f"{p}-1,pc,Library,Ali", f"{p}-2,printer,IT,Sara", f"{p}-3,pc,,")
    assert run(engine, moved) == RegisterReport(created=1, updated=1, unchanged=1)
    stored = assets(engine, p)
    assert sorted(stored) == [f"{p}-1", f"{p}-2", f"{p}-3"]
    assert stored[f"{p}-1"].unit == "Library"
    # A column the file does not have keeps what the register holds.
    assert run(engine, csv_bytes("property_number,kind", f"{p}-1,laptop")).updated == 1
    again = assets(engine, p)[f"{p}-1"]
    assert (again.kind, again.unit, again.holder) == (AssetKind.laptop, "Library", "Ali")
    with Session(engine) as session:
        count = session.exec(
            select(func.count()).where(col(Asset.property_number).startswith(p))
        ).one()
    assert count == 3


def test_dry_run_counts_and_writes_nothing(engine: Engine) -> None:
    p = tag()
    report = run(engine, csv_bytes("property_number,kind", f"{p}-1,pc"), dry_run=True)
    assert report == RegisterReport(created=1, dry_run=True)
    assert assets(engine, p) == {}


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        "property_number,kind\n1,pc\n".encode("utf-16"),
        b"PK\x03\x04 not really a zip",
        b"\xff\xfe\xfa broken",
    ],
    ids=["png", "utf16", "fake-zip", "not-utf8"],
)
def test_a_file_that_is_no_table_is_rejected(engine: Engine, data: bytes) -> None:
    with pytest.raises(FileRejected) as raised:
        run(engine, data)
    assert raised.value.code == "file_format"


def test_a_zip_that_is_no_workbook_is_rejected(engine: Engine) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("hello.txt", "property_number,kind\n1,pc\n")
    with pytest.raises(FileRejected) as raised:
        run(engine, out.getvalue())
    assert raised.value.code == "file_format"


def test_missing_required_columns_are_named(engine: Engine) -> None:
    with pytest.raises(FileRejected) as raised:
        run(engine, csv_bytes("سریال,مدل", "1,2"))
    assert raised.value.code == "columns_missing"
    assert "شماره اموال (property_number)" in raised.value.reason(register.Lang.fa)
    assert "نوع (kind)" in raised.value.reason(register.Lang.en)


def test_caps_on_rows_columns_and_size(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tag()
    monkeypatch.setattr(register, "MAX_ROWS", 3)
    rows = [f"{p}-{i},pc" for i in range(4)]
    with pytest.raises(FileRejected) as raised:
        run(engine, csv_bytes("property_number,kind", *rows))
    assert raised.value.code == "too_many_rows"
    assert run(engine, csv_bytes("property_number,kind", *rows[:3]), dry_run=True).created == 3

    monkeypatch.setattr(register, "MAX_COLUMNS", 4)
    with pytest.raises(FileRejected) as raised:
        run(engine, csv_bytes("property_number,kind,a,b,c", f"{p}-9,pc,,,"))
    assert raised.value.code == "too_many_columns"
    with pytest.raises(FileRejected) as raised:
        run(engine, xlsx_bytes([["property_number", "kind"], [f"{p}-9", "pc", 1, 2, 3]]))
    assert raised.value.code == "too_many_columns"

    monkeypatch.setattr(register, "MAX_BYTES", 10)
    with pytest.raises(FileRejected) as raised:
        run(engine, csv_bytes("property_number,kind", f"{p}-9,pc"))
    assert raised.value.code == "file_too_large"
    assert assets(engine, p) == {}


def test_command_line(
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: object,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    monkeypatch.setattr(db.engine, "get_engine", lambda: engine)
    p = tag()
    good = folder / "register.csv"
    good.write_bytes(csv_bytes("property_number,kind", f"{p}-1,pc"))
    assert main([str(good), "--dry-run"]) == 0
    assert "created: 1" in capsys.readouterr().out
    assert assets(engine, p) == {}
    assert main([str(good)]) == 0
    out = capsys.readouterr().out
    assert "جدید: 1" in out and "created: 1, updated: 0, unchanged: 0" in out
    bad = folder / "bad.xlsx"
    bad.write_bytes(csv_bytes("property_number,kind", f"{p}-2,toaster"))
    assert main([str(bad)]) == 1
    out = capsys.readouterr().out
    assert "ردیف 2 / row 2" in out and "Unknown kind" in out
    bad.write_bytes(b"\x89PNG")
    assert main([str(bad)]) == 1
    assert "CSV" in capsys.readouterr().err
