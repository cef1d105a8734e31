"""Import of the property office's equipment register (CSV or XLSX), all or nothing.

The property office (اداره اموال) keeps the register in a spreadsheet. Its columns are found by
their header, in Persian or English (`شماره اموال` or `property_number`, …); other columns are
ignored. Every row is checked first: one bad row and nothing is written, and the report names
each bad row by its number in the file (the header is row 1), the field and the reason in
Persian and English. A row whose property number is already registered updates that asset, so
importing the same file twice changes nothing the second time.

    python -m db.asset_register FILE [--dry-run]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field, ValidationError
from pydantic_core import PydanticCustomError
from sqlmodel import Session, col, select

from db.models import utcnow
from db.repair import Asset, Vendor
from domain.calendar import parse_date
from domain.messages import Lang
from domain.repair import ASSET_KIND_FA, AssetKind
from domain.spreadsheets import RowError, cell_text, read_rows, row_error
from domain.text import loose_key, normalize_digits, typed_text
from domain.uploads import ZIP_MAGIC as ZIP_MAGIC
from domain.uploads import CheckedFile, FileRefused, UploadKind, check, too_large

MAX_BYTES = 10 * 1024 * 1024
"""The largest file accepted (a register of 50 000 rows is about 5 MB as CSV)."""
MAX_ROWS = 50_000
MAX_COLUMNS = 50
# An XLSX's unpacked size, entries and ratio are capped by domain.uploads (zip bombs).

# Field → the headers that name it (compared without spaces, ZWNJ, `_` or case).
HEADERS: dict[str, tuple[str, ...]] = {
    "property_number": ("شماره اموال", "شماره اموالی", "کد اموال", "property_number"),
    "serial": ("سریال", "شماره سریال", "serial"),
    "kind": ("نوع", "نوع تجهیز", "kind"),
    "make_model": ("مدل", "مارک و مدل", "make_model"),
    "unit": ("واحد", "unit"),
    "room": ("اتاق", "room"),
    "holder": ("تحویل‌گیرنده", "تحویل گیرنده", "holder"),
    "purchase_date": ("تاریخ خرید", "purchase_date"),
    "warranty_end": ("پایان گارانتی", "تاریخ پایان گارانتی", "warranty_end"),
    "warranty_vendor": ("شرکت گارانتی", "شرکت گارانتی کننده", "warranty_vendor"),
}
REQUIRED = ("property_number", "kind")
FIELD_FA: dict[str, str] = {field: names[0] for field, names in HEADERS.items()}


_key = loose_key
_HEADER_KEYS = {_key(name): field for field, names in HEADERS.items() for name in names}

# Names the property office writes for a kind, besides the enum value and ASSET_KIND_FA.
_KIND_NAMES: dict[str, AssetKind] = {
    **{_key(kind.value): kind for kind in AssetKind},
    **{_key(name): kind for kind, name in ASSET_KIND_FA.items()},
    **{
        _key(name): kind
        for name, kind in (
            ("رایانه", AssetKind.pc),
            ("کامپیوتر", AssetKind.pc),
            ("کیس", AssetKind.pc),
            ("لپتاپ", AssetKind.laptop),
            ("پرینتر", AssetKind.printer),
            ("مانیتور", AssetKind.monitor),
            ("سوییچ", AssetKind.network_device),
            ("سوئیچ", AssetKind.network_device),
            ("روتر", AssetKind.network_device),
        )
    },
}


def vendor_key(name: str) -> str:
    """A vendor's name as compared: normalised letters and digits, spacing and case ignored."""
    return _key(name)


def _kind(value: object) -> object:
    if isinstance(value, AssetKind):
        return value
    kind = _KIND_NAMES.get(_key(value)) if isinstance(value, str) else None
    if kind is None:
        raise PydanticCustomError("kind_invalid", "unknown kind of equipment")
    return kind


def _property_number(value: object) -> object:
    if not isinstance(value, str):
        return value
    value = normalize_digits(value).strip().replace(" ", "")
    if not value:
        raise PydanticCustomError("required", "required")
    if not all(ch.isalnum() or ch in "-/" for ch in value):
        raise PydanticCustomError("property_number_invalid", "digits, letters, - and / only")
    return value


Text = Annotated[str, BeforeValidator(typed_text)]
Day = Annotated[date | None, BeforeValidator(parse_date)]


class AssetRow(BaseModel):
    """One row of the register, as checked before anything is written."""

    property_number: Annotated[str, BeforeValidator(_property_number), Field(max_length=30)]
    """The same rule as the fault report's `PropertyNumber` (digits, letters, - and /)."""
    serial: Annotated[Text, Field(max_length=100)] = ""
    kind: Annotated[AssetKind, BeforeValidator(_kind)]
    make_model: Annotated[Text, Field(max_length=200)] = ""
    unit: Annotated[Text, Field(max_length=200)] = ""
    room: Annotated[Text, Field(max_length=100)] = ""
    holder: Annotated[Text, Field(max_length=200)] = ""
    purchase_date: Day = None
    warranty_end: Day = None
    warranty_vendor: Annotated[Text, Field(max_length=200)] = ""
    """The vendor's name; it must be a registered vendor."""


class RegisterReport(BaseModel):
    """What an import did, or would do (`dry_run`); with errors, nothing was written."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = []
    dry_run: bool = False


FileRejected = FileRefused
"""The file as a whole cannot be read as a register (domain.uploads' refusal): nothing is read or
written."""


@dataclass
class Table:
    fields: dict[int, str]
    """Column index → field, for the columns the register knows."""
    rows: list[tuple[int, list[object]]]
    """(row number in the file, cells) of every row that is not empty."""


_cell = cell_text


def read_table(data: bytes | CheckedFile) -> Table:
    """The register's columns and rows, from CSV or XLSX told apart by the file's bytes (the
    shared upload checks, then the shared reader with this register's caps)."""
    upload = data if isinstance(data, CheckedFile) else check(data, UploadKind.spreadsheet)
    rows = read_rows(upload, max_rows=MAX_ROWS, max_columns=MAX_COLUMNS)
    header = next(rows, None)
    if header is None:
        raise FileRejected("columns_missing", columns=_column_names(REQUIRED))
    while header and _cell(header[-1]) == "":
        header.pop()
    fields: dict[int, str] = {}
    for index, name in enumerate(header):
        field = _HEADER_KEYS.get(_key(str(_cell(name))))
        if field is not None and field not in fields.values():
            fields[index] = field
    missing = [f for f in REQUIRED if f not in fields.values()]
    if missing:
        raise FileRejected("columns_missing", columns=_column_names(missing))
    body: list[tuple[int, list[object]]] = []
    for number, cells in enumerate(rows, start=2):
        if not all(_cell(c) == "" for c in cells):
            body.append((number, cells))
    return Table(fields=fields, rows=body)


def _column_names(fields: Sequence[str]) -> str:
    return ", ".join(f"{FIELD_FA[f]} ({f})" for f in fields)


def _error_code(error: Any) -> tuple[str, dict[str, object]]:
    kinds = {"missing": "required", "string_too_long": "too_long", "string_type": "invalid_value"}
    code: str = kinds.get(error["type"], error["type"])
    params: dict[str, object] = {
        k: v for k, v in (error.get("ctx") or {}).items() if isinstance(v, int)
    }
    if code == "kind_invalid":
        params["choices"] = "، ".join(ASSET_KIND_FA.values()) + " / " + ", ".join(AssetKind)
    return code, params


def check_rows(
    table: Table, vendors: dict[str, int]
) -> tuple[list[tuple[AssetRow, int | None]], list[RowError]]:
    """Every row checked, the vendors by name; the checked rows, or the errors of the bad ones."""
    checked: list[tuple[AssetRow, int | None]] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for number, cells in table.rows:
        raw = {
            field: _cell(cells[i]) if i < len(cells) else "" for i, field in table.fields.items()
        }
        try:
            row = AssetRow.model_validate(raw)
        except ValidationError as error:
            for e in error.errors(include_url=False):
                code, params = _error_code(e)
                field = str(e["loc"][0]) if e["loc"] else "row"
                errors.append(row_error(number, field, code, **params))
            continue
        if row.property_number in seen:
            errors.append(
                row_error(number, "property_number", "duplicate_row", row=seen[row.property_number])
            )
            continue
        seen[row.property_number] = number
        row_errors = []
        if row.purchase_date and row.warranty_end and row.warranty_end < row.purchase_date:
            row_errors.append(row_error(number, "warranty_end", "warranty_before_purchase"))
        vendor_id = None
        if row.warranty_vendor:
            vendor_id = vendors.get(vendor_key(row.warranty_vendor))
            if vendor_id is None:
                row_errors.append(row_error(number, "warranty_vendor", "vendor_unknown"))
        if row_errors:
            errors.extend(row_errors)
            continue
        checked.append((row, vendor_id))
    return checked, errors


def _existing(session: Session, numbers: list[str]) -> dict[str, Asset]:
    found: dict[str, Asset] = {}
    for start in range(0, len(numbers), 500):  # within every database's parameter limit
        chunk = numbers[start : start + 500]
        for asset in session.exec(select(Asset).where(col(Asset.property_number).in_(chunk))):
            found[asset.property_number] = asset
    return found


def import_register(
    session: Session,
    data: bytes | CheckedFile,
    *,
    dry_run: bool = False,
    before_commit: Callable[[RegisterReport], None] | None = None,
) -> RegisterReport:
    """Check every row, then create or update the assets by property number in one transaction
    (`before_commit` sees the report inside it: the audit log's row).

    Raises FileRejected when the file is not a register at all. With any row error, or with
    `dry_run`, nothing is written; the report then says what the import would do.
    """
    if not isinstance(data, CheckedFile):
        data = check(data, UploadKind.spreadsheet, limit=MAX_BYTES)
    elif len(data.data) > MAX_BYTES:
        raise too_large(MAX_BYTES)
    table = read_table(data)
    vendors = {vendor_key(v.name): v.id for v in session.exec(select(Vendor)) if v.id is not None}
    checked, errors = check_rows(table, vendors)
    if errors:
        return RegisterReport(errors=errors, dry_run=dry_run)
    columns = set(table.fields.values()) - {"warranty_vendor"}
    present = columns | (
        {"warranty_vendor_id"} if "warranty_vendor" in table.fields.values() else set()
    )
    existing = _existing(session, [row.property_number for row, _ in checked])
    report = RegisterReport(dry_run=dry_run)
    now = utcnow()
    for row, vendor_id in checked:
        values = row.model_dump(exclude={"warranty_vendor"}) | {"warranty_vendor_id": vendor_id}
        asset = existing.get(row.property_number)
        if asset is None:
            session.add(Asset(**values, updated_at=now))
            report.created += 1
            continue
        # A column the file does not have keeps what the register holds.
        changes = {k: v for k, v in values.items() if k in present and getattr(asset, k) != v}
        if not changes:
            report.unchanged += 1
            continue
        asset.sqlmodel_update({**changes, "updated_at": now})
        session.add(asset)
        report.updated += 1
    if dry_run:
        session.rollback()
    else:
        if before_commit is not None:
            before_commit(report)
        session.commit()
    return report


def describe(report: RegisterReport) -> str:
    """The report as the command line prints it: Persian, then English."""
    mode = " (آزمایشی، چیزی ذخیره نشد / dry run, nothing saved)" if report.dry_run else ""
    lines = []
    if report.errors:
        lines.append(
            f"{len(report.errors)} خطا؛ چیزی وارد نشد / "
            f"{len(report.errors)} errors; nothing was imported"
        )
        for e in report.errors:
            lines.append(
                f"  ردیف {e.row} / row {e.row}, {FIELD_FA.get(e.field, e.field)} ({e.field}):"
            )
            lines.append(f"    {e.reason_fa}")
            lines.append(f"    {e.reason_en}")
        return "\n".join(lines)
    lines.append(
        f"جدید: {report.created}، به‌روزشده: {report.updated}، بدون تغییر: {report.unchanged}{mode}"
    )
    lines.append(
        f"created: {report.created}, updated: {report.updated}, unchanged: {report.unchanged}"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m db.asset_register",
        description="Import the property office's equipment register (CSV or XLSX).",
    )
    parser.add_argument("file", help="the register, CSV (UTF-8) or XLSX")
    parser.add_argument("--dry-run", action="store_true", help="check and count, write nothing")
    args = parser.parse_args(argv)
    from db.engine import get_engine  # the engine only when run, not when imported

    try:
        with open(args.file, "rb") as file:
            data = file.read(MAX_BYTES + 1)
    except OSError as error:
        print(f"{args.file}: {error.strerror}", file=sys.stderr)
        return 1
    try:
        with Session(get_engine()) as session:
            report = import_register(session, data, dry_run=args.dry_run)
    except FileRejected as error:
        print(error.reason(Lang.fa), file=sys.stderr)
        print(error.reason(Lang.en), file=sys.stderr)
        return 1
    print(describe(report))
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
