"""Spreadsheets in and out: the rows of an uploaded CSV or XLSX, and exports safe to open.

In: `read_rows` takes an upload that passed `domain.uploads.check` as a spreadsheet and gives its
first sheet's rows. An XLSX goes through openpyxl in read-only mode (streamed, never loaded whole)
with `data_only=True`: no formula is ever evaluated, here or later. A formula cell reads as the
text its sender's spreadsheet saved for it (what they saw; empty if none was saved), and the
formula itself is dropped; a cell holding the *text* `=HYPERLINK(...)` reads as that text, which
the exports below escape. Rows and columns are capped as they are read.

Out: every CSV or XLSX the product writes goes through `csv_bytes` / `xlsx_bytes` (or at least
`escape_cell`), so a cell a user typed as `=cmd|' /C calc'!A0` or `@SUM(...)` stays text when the
file is opened in Excel or LibreOffice (CSV injection, OWASP).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime

from pydantic import BaseModel

from domain.messages import Lang, message
from domain.uploads import CheckedFile, FileRefused, MediaType, UploadKind

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet application may take for the start of a formula (OWASP's list)."""


def escape_cell(value: object) -> object:
    """A cell as an export writes it: text that could start a formula gets a leading `'`, so it
    shows as typed; numbers, dates and other text are untouched (a negative *number* stays one)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_bytes(rows: Iterable[Sequence[object]]) -> bytes:
    """A UTF-8 CSV (with a BOM, so Excel reads Persian right) of escaped cells."""
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    for row in rows:
        writer.writerow(["" if c is None else escape_cell(c) for c in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def xlsx_bytes(rows: Iterable[Sequence[object]], title: str = "Sheet1") -> bytes:
    """An XLSX of escaped cells; a text cell is always written as text, never as a formula."""
    from openpyxl import Workbook  # loaded only by the exports that need it

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=title[:31])
    for row in rows:
        sheet.append([escape_cell(c) for c in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def cell_text(value: object) -> object:
    """A cell as a row model reads it: numbers as text (`12.0` → `12`), dates as dates, empty as
    `""`, everything else stripped text."""
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


class RowError(BaseModel):
    """A bad cell of an uploaded register, as every register's import reports it."""

    row: int
    """The row's number in the file (the header is row 1)."""
    field: str
    """The column, by its English name (each register has its Persian header)."""
    code: str
    reason_fa: str
    reason_en: str

    def reason(self, lang: Lang) -> str:
        return self.reason_en if lang == Lang.en else self.reason_fa


def row_error(number: int, field: str, code: str, **params: object) -> RowError:
    """The error in both languages; a code without a message reads as `invalid_value`."""
    try:
        fa, en = message(code, Lang.fa, **params), message(code, Lang.en, **params)
    except (KeyError, IndexError):
        code = "invalid_value"
        fa, en = message(code, Lang.fa), message(code, Lang.en)
    return RowError(row=number, field=field, code=code, reason_fa=fa, reason_en=en)


def _blank(cells: Sequence[object]) -> bool:
    return all(cell_text(c) == "" for c in cells)


def read_rows(upload: CheckedFile, *, max_rows: int, max_columns: int) -> Iterator[list[object]]:
    """The first sheet's rows, the first one (the header) included; empty rows are given too.

    FileRefused `too_many_rows` past `max_rows` non-empty rows after the first (or a flood of
    empty ones), `too_many_columns` when a row has something past `max_columns`."""
    if upload.kind is not UploadKind.spreadsheet:
        raise ValueError(f"{upload.kind} is no spreadsheet")
    source = _xlsx_rows(upload.data, max_columns) if upload.media_type is MediaType.xlsx else None
    rows = source if source is not None else _csv_rows(upload.data)
    filled = seen = 0
    max_seen = 2 * max_rows + 1_000
    for cells in rows:
        seen += 1
        if len(cells) > max_columns and not _blank(cells[max_columns:]):
            raise FileRefused("too_many_columns", limit=max_columns)
        if not _blank(cells) and seen > 1:
            filled += 1
        if filled > max_rows or seen > max_seen:
            raise FileRefused("too_many_rows", limit=max_rows)
        yield cells


def _csv_rows(data: bytes) -> Iterator[list[object]]:
    text = data.decode("utf-8-sig")  # checked by domain.uploads.check_csv
    try:
        for row in csv.reader(io.StringIO(text, newline="")):
            yield list(row)
    except csv.Error:
        raise FileRefused("file_format") from None


def _xlsx_rows(data: bytes, max_columns: int) -> Iterator[list[object]]:
    from openpyxl import load_workbook  # the zip itself was checked by domain.uploads.check_xlsx

    try:
        # read_only streams the sheet; data_only: a formula cell gives its saved value, and no
        # formula is ever evaluated or kept.
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds on a damaged or foreign zip
        raise FileRefused("file_format") from None
    try:
        if not workbook.worksheets:
            raise FileRefused("file_format")
        sheet = workbook.worksheets[0]
        # One column past the cap, so a row with more is seen (and refused) without reading on.
        for row in sheet.iter_rows(max_col=max_columns + 1, values_only=True):
            yield list(row)
    except FileRefused:
        raise
    except Exception:
        raise FileRefused("file_format") from None
    finally:
        workbook.close()
