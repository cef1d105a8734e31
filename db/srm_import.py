"""SRM's error reports into Peygir, and a hospital's errors out of it.

In: the export SRM users download (CSV or XLSX, SRM's Persian headers or English ones, found
loosely as the registers find theirs) through `SrmFile`, or any other `SrmSource`, is stored by
`store_batch`: every row checked first (one bad row and nothing is written; the errors name the
row, the column and the reason in Persian and English), then the new rows in one transaction.
The same data twice adds nothing: an import is known by its source key (a file's SHA-256), and a
row by its natural key (hospital, time, record, message), so two overlapping exports share rows.
`import_folder` takes every settled file of a folder once and moves it aside, for an ops cron or
the worker to call; nothing runs in the API's process.

Out: `hospital_errors`, what the workflow's "look at SRM" step reads: a hospital's errors in a
window grouped by message with the bank's best match, and whether SRM data covers the window yet
("no data yet" is not "no errors").

    python -m db.srm_import file FILE [--actor USERNAME] [--from TIME --until TIME]
    python -m db.srm_import folder [DIR] [--actor USERNAME]
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError, computed_field
from sqlalchemy import func, insert
from sqlmodel import Session, col, select

from db.sepas import Hospital, SrmError, SrmImport, bank_matcher
from db.site_register import read_table
from domain.messages import Lang
from domain.sepas import SrmBatch, SrmErrorRow, SrmGroup, SrmSource, group_errors, srm_time
from domain.spreadsheets import RowError, row_error
from domain.text import normalize_text
from domain.uploads import MAX_BYTES as UPLOAD_LIMITS
from domain.uploads import CheckedFile, FileRefused, UploadKind, check

MAX_BYTES = UPLOAD_LIMITS[UploadKind.spreadsheet]
CHUNK = 500
"""Row keys per query: within every database's limit on bound parameters."""
SYSTEM_ACTOR = "system"

# Field → the headers that name it (compared loosely: spaces, ZWNJ, `_`, `-` and case aside).
# The first is the one Peygir's pages show.
SRM_HEADERS: dict[str, tuple[str, ...]] = {
    "hospital_code": (
        "کد بیمارستان",
        "کد مرکز",
        "کد مرکز درمانی",
        "hospital_code",
        "center_code",
        "HospitalCode",
    ),
    "at": ("زمان", "تاریخ و زمان", "زمان خطا", "تاریخ خطا", "تاریخ", "at", "time", "ErrorDate"),
    "record_id": (
        "شناسه پرونده",
        "شماره پرونده",
        "کد پرونده",
        "record_id",
        "RecordId",
        "DocumentId",
        "CompositionId",
    ),
    "message": ("پیام خطا", "متن خطا", "شرح خطا", "خطا", "message", "ErrorMessage", "error"),
    "count": ("تعداد", "تعداد خطا", "count", "ErrorCount"),
}
SRM_REQUIRED = ("hospital_code", "at", "message")
SRM_FIELD_FA = {field: names[0] for field, names in SRM_HEADERS.items()}


def row_key(row: SrmErrorRow) -> str:
    """A row's natural key: the same line in two exports (or two reads) is one row."""
    parts = (row.hospital_code, row.at.astimezone(UTC).isoformat(), row.record_id, row.message)
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _errors_of(number: int, error: ValidationError) -> list[RowError]:
    kinds = {
        "missing": "required",
        "string_too_long": "too_long",
        "int_parsing": "invalid_value",
        "greater_than_equal": "too_small",
        "less_than_equal": "too_large",
    }
    found = []
    for e in error.errors(include_url=False):
        params = {k: v for k, v in (e.get("ctx") or {}).items() if isinstance(v, int)}
        field = str(e["loc"][0]) if e["loc"] else "message"
        found.append(row_error(number, field, kinds.get(e["type"], e["type"]), **params))
    return found


class SrmFile:
    """The default SrmSource: one export downloaded from SRM (CSV or XLSX)."""

    def __init__(
        self,
        data: bytes | CheckedFile,
        name: str,
        *,
        period_from: datetime | None = None,
        period_until: datetime | None = None,
    ) -> None:
        self._data = data
        self._name = name
        self._period = (period_from, period_until)

    def read(self) -> SrmBatch:
        """The file's rows, or the errors of its bad ones; FileRefused when it is no SRM export
        at all (not a spreadsheet, a required column missing)."""
        upload = self._data
        if not isinstance(upload, CheckedFile):
            upload = check(upload, UploadKind.spreadsheet, limit=MAX_BYTES)
        table = read_table(upload, SRM_HEADERS, SRM_REQUIRED)
        rows: list[SrmErrorRow] = []
        errors: list[RowError] = []
        for number, values in table.rows:
            try:
                rows.append(SrmErrorRow.model_validate(values))
            except ValidationError as error:
                errors.extend(_errors_of(number, error))
        period_from, period_until = self._period
        return SrmBatch(
            source_key="sha256:" + hashlib.sha256(upload.data).hexdigest(),
            source_name=self._name[:500],
            rows=rows,
            errors=errors,
            period_from=period_from or min((r.at for r in rows), default=None),
            period_until=period_until or max((r.at for r in rows), default=None),
        )


class SrmImportReport(BaseModel):
    """What storing SRM data did; with errors, nothing was written."""

    source_name: str = ""
    rows: int = 0
    """Rows the data held (lines repeated in it counted once)."""
    added: int = 0
    """Rows new to Peygir."""
    known: int = 0
    """Rows an earlier import had already brought."""
    already_imported: bool = False
    """This very data was imported before: nothing was added."""
    unknown_hospitals: list[str] = []
    """Hospital codes of the data that the register does not hold (stored all the same: SRM is
    the authority on what it saw; the register may be behind)."""
    period_from: datetime | None = None
    period_until: datetime | None = None
    errors: list[RowError] = []


def _merged(rows: Sequence[SrmErrorRow]) -> dict[str, SrmErrorRow]:
    """The rows by natural key; a line repeated within one export is one row, counts summed."""
    merged: dict[str, SrmErrorRow] = {}
    for row in rows:
        key = row_key(row)
        if key in merged:
            merged[key] = merged[key].model_copy(update={"count": merged[key].count + row.count})
        else:
            merged[key] = row
    return merged


def _known_keys(session: Session, keys: Sequence[str]) -> set[str]:
    known: set[str] = set()
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        known.update(session.exec(select(SrmError.row_key).where(col(SrmError.row_key).in_(chunk))))
    return known


def store_batch(
    session: Session,
    batch: SrmBatch,
    *,
    actor: str,
    before_commit: Callable[[SrmImportReport], None] | None = None,
) -> SrmImportReport:
    """Store what a source read, all or nothing, in one transaction (`before_commit` sees the
    report inside it: the audit log's row). Data imported before adds nothing; an IntegrityError
    means another import of the same data won a race, and nothing of this one was written."""
    report = SrmImportReport(
        source_name=batch.source_name,
        period_from=batch.period_from,
        period_until=batch.period_until,
        errors=batch.errors,
    )
    if batch.errors:
        return report
    merged = _merged(batch.rows)
    report.rows = len(merged)
    done = session.exec(select(SrmImport.id).where(SrmImport.source_key == batch.source_key))
    if done.first() is not None:
        report.already_imported = True
        report.known = report.rows
        return report
    known = _known_keys(session, list(merged))
    codes = sorted({row.hospital_code for row in merged.values()})
    registered = set(session.exec(select(Hospital.code).where(col(Hospital.code).in_(codes))))
    report.unknown_hospitals = [c for c in codes if c not in registered]
    new = {key: row for key, row in merged.items() if key not in known}
    report.added, report.known = len(new), len(known)
    entry = SrmImport(
        source_key=batch.source_key,
        source_name=batch.source_name,
        period_from=batch.period_from,
        period_until=batch.period_until,
        rows=report.rows,
        added=report.added,
        imported_by=actor,
    )
    session.add(entry)
    session.flush()
    if new:
        session.execute(
            insert(SrmError),
            [
                {**row.model_dump(), "row_key": key, "import_id": entry.id}
                for key, row in new.items()
            ],
        )
    if before_commit is not None:
        before_commit(report)
    session.commit()
    return report


def import_from(
    session: Session,
    source: SrmSource,
    *,
    actor: str,
    before_commit: Callable[[SrmImportReport], None] | None = None,
) -> SrmImportReport:
    """Read `source` once and store what it gave."""
    return store_batch(session, source.read(), actor=actor, before_commit=before_commit)


class FolderOutcome(StrEnum):
    imported = "imported"
    already_imported = "already_imported"
    rejected = "rejected"


class FolderFile(BaseModel):
    """What the folder import did with one file."""

    name: str
    outcome: FolderOutcome
    report: SrmImportReport | None = None
    reason: str = ""
    """Why a file was rejected (Persian, then English)."""


IMPORTED_DIR = "imported"
REJECTED_DIR = "rejected"
SUFFIXES = (".csv", ".xlsx")


def _move(path: Path, into: Path) -> Path:
    """`path` moved into `into`, under a new name if one of that name is there already."""
    into.mkdir(exist_ok=True)
    target = into / path.name
    if target.exists():
        target = into / f"{path.stem}-{int(time.time() * 1000)}{path.suffix}"
    shutil.move(str(path), target)
    return target


def _reasons(report: SrmImportReport) -> str:
    lines = [
        f"ردیف {e.row} / row {e.row}, {SRM_FIELD_FA.get(e.field, e.field)} ({e.field}): "
        f"{e.reason_fa} / {e.reason_en}"
        for e in report.errors
    ]
    return "\n".join(lines)


def import_folder(
    session: Session,
    folder: Path,
    *,
    actor: str = SYSTEM_ACTOR,
    settle_seconds: float = 60,
) -> list[FolderFile]:
    """Import every CSV or XLSX export lying in `folder`, each once, and move it to
    `imported/` (stored, or known already) or `rejected/` (with a `.errors.txt` beside it
    saying why). A file changed in the last `settle_seconds` is left for the next run: it may
    still be being copied in."""
    done: list[FolderFile] = []
    now = time.time()
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.name.startswith(".") or path.suffix.lower() not in SUFFIXES:
            continue
        if now - path.stat().st_mtime < settle_seconds:
            continue
        data = path.read_bytes()[: MAX_BYTES + 1]
        report: SrmImportReport | None = None
        try:
            report = import_from(session, SrmFile(data, path.name), actor=actor)
        except FileRefused as refused:
            reason = f"{refused.reason(Lang.fa)}\n{refused.reason(Lang.en)}"
            outcome = FolderOutcome.rejected
        else:
            reason = _reasons(report)
            if report.errors:
                outcome = FolderOutcome.rejected
            elif report.already_imported:
                outcome = FolderOutcome.already_imported
            else:
                outcome = FolderOutcome.imported
        if outcome is FolderOutcome.rejected:
            moved = _move(path, folder / REJECTED_DIR)
            moved.with_name(moved.name + ".errors.txt").write_text(reason + "\n", "utf-8")
        else:
            _move(path, folder / IMPORTED_DIR)
        done.append(FolderFile(name=path.name, outcome=outcome, report=report, reason=reason))
    return done


class SrmState(StrEnum):
    no_data = "no_data"
    """SRM data does not cover the window yet, and none of the hospital's errors is in it: wait
    for the next import."""
    clean = "clean"
    """SRM data covers the window and shows no error of the hospital."""
    errors = "errors"


class SrmReading(BaseModel):
    """A hospital's SRM errors in a window, grouped by message."""

    hospital_code: str
    since: datetime
    until: datetime
    covered: bool
    """The imports' spans cover the whole window."""
    data_until: datetime | None
    """The end of the latest SRM data Peygir holds (any hospital's)."""
    groups: list[SrmGroup]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def state(self) -> SrmState:
        if self.groups:
            return SrmState.errors
        return SrmState.clean if self.covered else SrmState.no_data


def _covered(session: Session, since: datetime, until: datetime) -> bool:
    """Whether the imports' spans, joined, reach from `since` to `until`."""
    spans = session.exec(
        select(SrmImport.period_from, SrmImport.period_until)
        .where(col(SrmImport.period_until) >= since, col(SrmImport.period_from) <= until)
        .order_by(col(SrmImport.period_from))
    ).all()
    reached = since
    for start, end in spans:
        if start is None or end is None or start > reached:
            break
        reached = max(reached, end)
    return reached >= until


def hospital_errors(
    session: Session, hospital_code: str, since: datetime, until: datetime
) -> SrmReading:
    """The hospital's errors SRM saw from `since` to `until` (both aware), grouped by message,
    the most frequent first, each with the bank's best match."""
    code = normalize_text(hospital_code)
    stored = session.exec(
        select(SrmError)
        .where(
            SrmError.hospital_code == code,
            col(SrmError.at) >= since,
            col(SrmError.at) <= until,
        )
        .order_by(col(SrmError.at))
    )
    rows = [
        SrmErrorRow(
            hospital_code=e.hospital_code,
            at=e.at,
            record_id=e.record_id,
            message=e.message,
            count=e.count,
        )
        for e in stored
    ]
    return SrmReading(
        hospital_code=code,
        since=since,
        until=until,
        covered=_covered(session, since, until),
        data_until=session.exec(select(func.max(SrmImport.period_until))).one(),
        groups=group_errors(rows, bank_matcher(session)),
    )


def describe(report: SrmImportReport) -> str:
    """The report as the command line prints it: Persian, then English."""
    if report.errors:
        count = len(report.errors)
        return "\n".join(
            [f"{count} خطا؛ چیزی وارد نشد / {count} errors; nothing was imported", _reasons(report)]
        )
    lines = []
    if report.already_imported:
        lines.append("این داده پیش‌تر وارد شده است / this data was imported before")
    lines.append(
        f"ردیف‌ها: {report.rows}، جدید: {report.added}، تکراری: {report.known}\n"
        f"rows: {report.rows}, added: {report.added}, known: {report.known}"
    )
    if report.unknown_hospitals:
        codes = ", ".join(report.unknown_hospitals)
        lines.append(f"بیمارستان‌های ثبت‌نشده / hospitals not in the register: {codes}")
    return "\n".join(lines)


def _time(text: str) -> datetime:
    value: Any = srm_time(text)
    if not isinstance(value, datetime):
        raise argparse.ArgumentTypeError("a date and time")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m db.srm_import", description="Import SRM error reports (CSV or XLSX)."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("file", help="import one export downloaded from SRM")
    one.add_argument("file", help="CSV (UTF-8) or XLSX")
    one.add_argument("--from", dest="period_from", type=_time, help="the span the export covers")
    one.add_argument("--until", dest="period_until", type=_time)
    folder = commands.add_parser("folder", help="import every new file of a folder once")
    folder.add_argument("dir", nargs="?", help="default: the SRM_IMPORT_DIR setting")
    for command in (one, folder):
        command.add_argument("--actor", default=SYSTEM_ACTOR, help="who the import names")
    args = parser.parse_args(argv)
    from db.engine import get_engine  # the engine only when run, not when imported
    from settings import get_settings

    with Session(get_engine()) as session:
        if args.command == "folder":
            where = Path(args.dir or get_settings().srm_import_dir)
            if not where.is_dir():
                print(f"{where}: not a folder / پوشه نیست", file=sys.stderr)
                return 1
            files = import_folder(session, where, actor=args.actor)
            for done in files:
                print(f"{done.name}: {done.outcome.value}")
                print(describe(done.report) if done.report is not None else done.reason)
            return 1 if any(f.outcome is FolderOutcome.rejected for f in files) else 0
        try:
            with open(args.file, "rb") as file:
                data = file.read(MAX_BYTES + 1)
        except OSError as error:
            print(f"{args.file}: {error.strerror}", file=sys.stderr)
            return 1
        source = SrmFile(
            data,
            Path(args.file).name,
            period_from=args.period_from,
            period_until=args.period_until,
        )
        try:
            report = import_from(session, source, actor=args.actor)
        except FileRefused as refused:
            print(refused.reason(Lang.fa), file=sys.stderr)
            print(refused.reason(Lang.en), file=sys.stderr)
            return 1
    print(describe(report))
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
