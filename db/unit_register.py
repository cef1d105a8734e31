"""The units' list (CSV or XLSX) for process 3, all or nothing: created or updated by code.

Columns are found by their header, in Persian or English (`کد واحد` or `code`, …), as the SHAMS
register reads its files (db/site_register.py `read_table`). Every row is checked first
(`domain.office_automation.UnitRow`; the code once in the file; the parent unit registered or
in the file; no unit under itself): one bad row and nothing is written, and the report names
each bad row by its number in the file (the header is row 1), the column and the reason.

    python -m db.unit_register FILE [--dry-run]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, select

from db.models import utcnow
from db.office_automation import Unit
from db.site_register import MAX_BYTES, ImportReport, describe, read_table
from domain.messages import Lang
from domain.office_automation import UnitRow
from domain.spreadsheets import RowError, row_error
from domain.uploads import CheckedFile, FileRefused

UNIT_HEADERS: dict[str, tuple[str, ...]] = {
    "code": ("کد واحد", "کد", "code"),
    "name": ("نام واحد", "نام", "name"),
    "parent_code": ("کد واحد بالادستی", "واحد بالادستی", "parent_code"),
    "head_name": ("نام بالاترین مقام", "نام مدیر واحد", "head_name"),
    "head_national_code": ("کد ملی بالاترین مقام", "کد ملی مدیر", "head_national_code"),
    "head_mobile": ("تلفن همراه بالاترین مقام", "موبایل مدیر", "head_mobile"),
    "head_email": ("ایمیل بالاترین مقام", "ایمیل مدیر", "head_email"),
    "active": ("فعال", "active"),
}
UNIT_REQUIRED = ("code", "name", "head_name", "head_national_code", "head_mobile")
UNIT_FIELD_FA = {field: names[0] for field, names in UNIT_HEADERS.items()}
_KINDS = {"missing": "required", "string_too_long": "too_long", "string_type": "invalid_value"}


def _errors_of(number: int, error: ValidationError) -> list[RowError]:
    found = []
    for e in error.errors(include_url=False):
        params = {k: v for k, v in (e.get("ctx") or {}).items() if isinstance(v, int)}
        field = str(e["loc"][0]) if e["loc"] else "code"
        found.append(row_error(number, field, _KINDS.get(e["type"], e["type"]), **params))
    return found


def _under_itself(code: str, parents: dict[str, str | None]) -> bool:
    seen = {code}
    parent = parents.get(code)
    while parent is not None:
        if parent in seen:
            return True
        seen.add(parent)
        parent = parents.get(parent)
    return False


def import_units(
    session: Session,
    data: bytes | CheckedFile,
    *,
    dry_run: bool = False,
    before_commit: Callable[[ImportReport], None] | None = None,
) -> ImportReport:
    """Check every row, then create or update the units by code in one transaction
    (`before_commit` sees the report inside it: the audit log's row). FileRefused when the file
    is no units' list at all; with any row error, or with `dry_run`, nothing is written."""
    table = read_table(data, UNIT_HEADERS, UNIT_REQUIRED)
    present = set(table.fields.values())
    existing = {u.code: u for u in session.exec(select(Unit))}
    checked: list[tuple[int, UnitRow]] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for number, values in table.rows:
        try:
            row = UnitRow.model_validate(values)
        except ValidationError as error:
            errors.extend(_errors_of(number, error))
            continue
        if row.code in seen:
            errors.append(row_error(number, "code", "duplicate_code_row", row=seen[row.code]))
            continue
        seen[row.code] = number
        checked.append((number, row))
    parents = {code: unit.parent_code for code, unit in existing.items()}
    parents |= {row.code: row.parent_code for _, row in checked}
    for number, row in checked:
        if row.parent_code is not None and row.parent_code not in parents:
            errors.append(row_error(number, "parent_code", "unit_parent_unknown"))
        elif _under_itself(row.code, parents):
            errors.append(row_error(number, "parent_code", "unit_parent_cycle"))
    if errors:
        errors.sort(key=lambda e: e.row)
        return ImportReport(errors=errors, dry_run=dry_run)
    report = ImportReport(dry_run=dry_run)
    now = utcnow()
    for _, row in checked:
        fields: dict[str, Any] = row.model_dump()
        unit = existing.get(row.code)
        if unit is None:
            if not dry_run:
                session.add(Unit(**fields, created_at=now, updated_at=now))
            report.created += 1
            continue
        changes = {k: v for k, v in fields.items() if k in present and getattr(unit, k) != v}
        if not changes:
            report.unchanged += 1
            continue
        if not dry_run:
            unit.sqlmodel_update({**changes, "updated_at": now})
            session.add(unit)
        report.updated += 1
    if dry_run:
        session.rollback()
        return report
    if before_commit is not None:
        before_commit(report)
    session.commit()
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m db.unit_register", description="Import the units' list (CSV or XLSX)."
    )
    parser.add_argument("file", help="CSV (UTF-8) or XLSX")
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
            report = import_units(session, data, dry_run=args.dry_run)
    except FileRefused as error:
        print(error.reason(Lang.fa), file=sys.stderr)
        print(error.reason(Lang.en), file=sys.stderr)
        return 1
    print(describe(report, UNIT_FIELD_FA))
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
