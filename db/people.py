"""Import of the person registry (HR and education records) from CSV or XLSX, row by row.

The file comes through the shared upload facility (domain/uploads.py, api/uploads.py) and is read
by the shared spreadsheet reader with the caps below.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, ValidationError
from sqlmodel import Session, select

from db.models import Person
from domain.email_account import Affiliation, EmailRequestForm
from domain.spreadsheets import cell_text, read_rows
from domain.uploads import CheckedFile

COLUMNS = ("national_code", "member_id", "first_name", "last_name", "affiliation", "unit")
MAX_ROWS = 200_000
"""The university's students and staff, with room to spare."""
MAX_COLUMNS = 50


class RowError(BaseModel):
    row: int
    """Line number in the file (the header is line 1)."""
    field: str
    reason: str


class ImportReport(BaseModel):
    created: int
    updated: int
    errors: list[RowError]


class _RegistryRow(BaseModel):
    national_code: str
    member_id: str
    first_name: str
    last_name: str
    affiliation: Affiliation
    unit: str


def _validate(raw: dict[str, str]) -> _RegistryRow:
    # The registry shares the form's rules for names, codes and numbers.
    checked = EmailRequestForm.model_validate(
        {
            **raw,
            "mobile": "09120000000",
            "requested_username": "placeholder",
            "unit": raw.get("unit") or "--",
        }
    )
    return _RegistryRow(**checked.model_dump(include=set(COLUMNS)))


class ColumnsMissing(ValueError):
    """The file's header lacks registry columns: it is not a registry file, nothing is read."""

    def __init__(self, columns: list[str]) -> None:
        super().__init__(", ".join(columns))
        self.columns = columns


def import_people(
    session: Session,
    upload: CheckedFile,
    before_commit: Callable[[ImportReport], None] | None = None,
) -> ImportReport:
    """Upsert people by (national code, member id); rows with errors are reported, not saved.
    `before_commit` sees the report inside the import's transaction (the audit log's row).

    Raises domain.uploads.FileRefused past the caps, ColumnsMissing without the columns."""
    rows = read_rows(upload, max_rows=MAX_ROWS, max_columns=MAX_COLUMNS)
    header = [str(cell_text(name)) for name in next(rows, [])]
    index = {name: header.index(name) for name in COLUMNS if name in header}
    missing = [c for c in COLUMNS if c not in index]
    if missing:
        raise ColumnsMissing(missing)
    created = updated = 0
    errors: list[RowError] = []
    for line, cells in enumerate(rows, start=2):
        if all(cell_text(c) == "" for c in cells):
            continue
        raw = {k: str(cell_text(cells[i])) if i < len(cells) else "" for k, i in index.items()}
        try:
            row = _validate(raw)
        except ValidationError as error:
            errors.extend(
                RowError(row=line, field=str(e["loc"][0]) if e["loc"] else "", reason=e["msg"])
                for e in error.errors(include_url=False)
            )
            continue
        person = session.exec(
            select(Person).where(
                Person.national_code == row.national_code, Person.member_id == row.member_id
            )
        ).first()
        if person is None:
            session.add(Person(**row.model_dump()))
            created += 1
        else:
            person.sqlmodel_update(row.model_dump())
            session.add(person)
            updated += 1
    report = ImportReport(created=created, updated=updated, errors=errors)
    if before_commit is not None:
        before_commit(report)
    session.commit()
    return report
