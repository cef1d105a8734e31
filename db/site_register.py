"""The SHAMS register's files: a county's sites in the university's template (CSV or XLSX), the
counties' own list, the template itself and the export, all or nothing.

Columns are found by their header, in Persian (the template's) or English (`کد نقطه` or
`site_code`, …); other columns are ignored, so an export can be sent back as it is. Every row is
checked first (`domain.shams.SiteRow`; the county known, active and the uploader's; the site code
once in the file and not another county's): one bad row and nothing is written, and the report
names each bad row by its number in the file (the header is row 1), the column and the reason in
Persian and English. A row whose site code is registered updates that site, so the same file sent
twice changes nothing the second time. The register is read and written in bulk (a few queries
per 500 rows), for provinces of tens of thousands of sites.

    python -m db.site_register sites FILE [--actor USERNAME] [--dry-run]
    python -m db.site_register counties FILE [--dry-run]
    python -m db.site_register template OUT.xlsx [--county CODE]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import insert, update
from sqlmodel import Session, col, select

from db.models import utcnow
from db.shams import County, Site, SiteEvent, SiteReach
from domain.messages import Lang
from domain.shams import (
    EDITABLE_STATES,
    LINK_TYPE_FA,
    SITE_KIND_FA,
    SITE_STATE_FA,
    CountyRow,
    LinkType,
    SiteKind,
    SiteRow,
    SiteState,
    kind_choices,
    link_choices,
)
from domain.spreadsheets import RowError, cell_text, read_rows, row_error, xlsx_bytes
from domain.text import loose_key
from domain.uploads import MAX_BYTES as UPLOAD_LIMITS
from domain.uploads import CheckedFile, FileRefused, UploadKind, check, too_large

MAX_BYTES = UPLOAD_LIMITS[UploadKind.spreadsheet]
"""The largest file accepted (50 000 sites are about 10 MB as CSV, less as XLSX)."""
MAX_ROWS = 50_000
MAX_COLUMNS = 50
CHUNK = 500
"""Site codes per query: within every database's limit on bound parameters."""

# Field → the headers that name it (compared loosely: spaces, ZWNJ, `_`, `-` and case aside).
# The first is the template's.
SITE_HEADERS: dict[str, tuple[str, ...]] = {
    "county_code": ("کد شهرستان", "کد شبکه", "county_code"),
    "site_code": ("کد نقطه", "site_code"),
    "siam_id": ("شناسه سیام", "کد سیام", "siam_id"),
    "name": ("نام نقطه", "نام", "name"),
    "kind": ("نوع نقطه", "نوع", "kind"),
    "address": ("نشانی", "آدرس", "address"),
    "postal_code": ("کد پستی", "postal_code"),
    "phone": ("تلفن", "شماره تلفن", "phone"),
    "latitude": ("عرض جغرافیایی", "latitude", "lat"),
    "longitude": ("طول جغرافیایی", "longitude", "lon", "lng"),
    "link_type": ("نوع ارتباط درخواستی", "نوع ارتباط", "link_type"),
}
SITE_REQUIRED = tuple(f for f in SITE_HEADERS if f not in ("siam_id", "postal_code", "phone"))
COUNTY_HEADERS: dict[str, tuple[str, ...]] = {
    "code": ("کد شهرستان", "کد", "code"),
    "name": ("نام شبکه", "نام شهرستان", "نام", "name"),
    "contact_name": ("نام رابط", "رابط", "contact_name"),
    "phone": ("تلفن", "phone"),
    "email": ("ایمیل", "پست الکترونیک", "email"),
    "mobile": ("تلفن همراه", "موبایل", "mobile"),
    "active": ("فعال", "active"),
}
COUNTY_REQUIRED = ("code", "name")
EXPORT_HEADERS = ("وضعیت", "مرکز مخابراتی")
"""The export's columns after the template's: read back, the import ignores them."""

SITE_FIELD_FA = {field: names[0] for field, names in SITE_HEADERS.items()}
COUNTY_FIELD_FA = {field: names[0] for field, names in COUNTY_HEADERS.items()}
SYSTEM_ACTOR = "system"
FILE, FORM = "پرونده", "فرم"
"""How a site's history says it came in: by a file or by the form."""


class ImportReport(BaseModel):
    """What an import did, or would do (`dry_run`); with errors, nothing was written."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = []
    dry_run: bool = False


@dataclass
class Table:
    fields: dict[int, str]
    """Column index → field, for the columns the register knows."""
    rows: list[tuple[int, dict[str, object]]]
    """(row number in the file, {field: cell}) of every row that is not empty."""


def _checked(data: bytes | CheckedFile) -> CheckedFile:
    if not isinstance(data, CheckedFile):
        return check(data, UploadKind.spreadsheet, limit=MAX_BYTES)
    if len(data.data) > MAX_BYTES:
        raise too_large(MAX_BYTES)
    return data


def read_table(
    data: bytes | CheckedFile, headers: dict[str, tuple[str, ...]], required: Sequence[str]
) -> Table:
    """The known columns and the non-empty rows of an upload (the shared checks and reader).

    FileRefused when it is no spreadsheet, or a required column is missing."""
    rows = read_rows(_checked(data), max_rows=MAX_ROWS, max_columns=MAX_COLUMNS)
    keys = {loose_key(name): field for field, names in headers.items() for name in names}
    header = next(rows, None) or []
    fields: dict[int, str] = {}
    for index, name in enumerate(header):
        field = keys.get(loose_key(str(cell_text(name))))
        if field is not None and field not in fields.values():
            fields[index] = field
    missing = [f for f in required if f not in fields.values()]
    if missing:
        columns = ", ".join(f"{headers[f][0]} ({f})" for f in missing)
        raise FileRefused("columns_missing", columns=columns)
    body = []
    for number, cells in enumerate(rows, start=2):
        values = {f: cell_text(cells[i]) if i < len(cells) else "" for i, f in fields.items()}
        if any(v != "" for v in values.values()):
            body.append((number, values))
    return Table(fields=fields, rows=body)


def _errors_of(number: int, error: ValidationError, row_field: str) -> list[RowError]:
    """pydantic's errors as the report's, on the columns they concern."""
    kinds = {"missing": "required", "string_too_long": "too_long", "string_type": "invalid_value"}
    found = []
    for e in error.errors(include_url=False):
        code = kinds.get(e["type"], e["type"])
        params: dict[str, object] = {
            k: v for k, v in (e.get("ctx") or {}).items() if isinstance(v, int)
        }
        if code == "site_kind_invalid":
            params["choices"] = kind_choices()
        elif code == "link_type_invalid":
            params["choices"] = link_choices()
        field = str(e["loc"][0]) if e["loc"] else row_field
        found.append(row_error(number, field, code, **params))
    return found


def _existing_sites(session: Session, codes: Sequence[str]) -> dict[str, Site]:
    """The registered sites of these codes, a chunk of codes per query."""
    found: dict[str, Site] = {}
    for start in range(0, len(codes), CHUNK):
        chunk = codes[start : start + CHUNK]
        for site in session.exec(select(Site).where(col(Site.site_code).in_(chunk))):
            found[site.site_code] = site
    return found


def _county_name(county: County | None, code: str) -> str:
    return f"{county.name} ({code})" if county is not None else code


def check_sites(
    session: Session, table: Table, reach: SiteReach | None
) -> tuple[list[tuple[int, SiteRow]], dict[str, Site], list[RowError]]:
    """Every row checked against the rules and the register: the good rows, the registered
    sites they name, and the errors of the bad rows."""
    counties = {c.code: c for c in session.exec(select(County))}
    good: list[tuple[int, SiteRow]] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for number, values in table.rows:
        try:
            row = SiteRow.model_validate(values)
        except ValidationError as error:
            errors.extend(_errors_of(number, error, "site_code"))
            continue
        if row.code in seen:
            errors.append(row_error(number, "site_code", "duplicate_code_row", row=seen[row.code]))
            continue
        seen[row.code] = number
        county = counties.get(row.county_code)
        if county is None:
            errors.append(row_error(number, "county_code", "county_unknown"))
        elif reach is not None and not reach.sees_county(county.code):
            errors.append(row_error(number, "county_code", "county_not_yours"))
        elif not county.active:
            errors.append(row_error(number, "county_code", "county_inactive"))
        else:
            good.append((number, row))
    existing = _existing_sites(session, [row.code for _, row in good])
    present = set(table.fields.values())
    checked = []
    for number, row in good:
        site = existing.get(row.code)
        if site is not None and site.county_code != row.county_code:
            other = _county_name(counties.get(site.county_code), site.county_code)
            errors.append(row_error(number, "site_code", "site_code_taken", county=other))
        elif (
            site is not None and _changes(site, row, present) and site.state not in EDITABLE_STATES
        ):
            errors.append(row_error(number, "site_code", "site_locked"))
        else:
            checked.append((number, row))
    errors.sort(key=lambda e: e.row)
    return checked, existing, errors


def _changes(site: Site, row: SiteRow, present: set[str]) -> dict[str, Any]:
    """What the row changes; a column the file does not have keeps what the register holds
    (a blank SIAM id column still gives the code, so `site_code` always counts)."""
    return {
        field: value
        for field, value in row.model_dump().items()
        if (field in present or field == "site_code") and getattr(site, field) != value
    }


def import_sites(
    session: Session,
    data: bytes | CheckedFile,
    *,
    actor: str,
    reach: SiteReach | None = None,
    rollout_id: str | None = None,
    dry_run: bool = False,
    before_commit: Callable[[ImportReport], None] | None = None,
) -> ImportReport:
    """Check every row, then create or update the sites by site code in one transaction, each
    with a line in its history (`before_commit` sees the report inside it: the audit log's row).

    `reach`: the counties `actor` answers for (None: every county). `rollout_id`: the rollout a
    created or changed site is submitted in. Raises FileRefused when the file is not a site
    list at all. With any row error, or with `dry_run`, nothing is written.
    """
    table = read_table(data, SITE_HEADERS, SITE_REQUIRED)
    return _import_table(
        session,
        table,
        actor=actor,
        reach=reach,
        rollout_id=rollout_id,
        dry_run=dry_run,
        before_commit=before_commit,
    )


def enter_site(
    session: Session,
    values: Mapping[str, object],
    *,
    actor: str,
    reach: SiteReach | None = None,
    before_commit: Callable[[ImportReport], None] | None = None,
) -> ImportReport:
    """One site typed in a form: the row of a file with every column, checked and written as
    `import_sites` does (a bad field, and nothing is written; its errors are of row 1)."""
    fields = {index: field for index, field in enumerate(SITE_HEADERS)}
    row = {field: values.get(field, "") for field in SITE_HEADERS}
    table = Table(fields=fields, rows=[(1, row)])
    return _import_table(
        session, table, actor=actor, reach=reach, before_commit=before_commit, via=FORM
    )


def _import_table(
    session: Session,
    table: Table,
    *,
    actor: str,
    reach: SiteReach | None,
    rollout_id: str | None = None,
    dry_run: bool = False,
    before_commit: Callable[[ImportReport], None] | None = None,
    via: str = FILE,
) -> ImportReport:
    checked, existing, errors = check_sites(session, table, reach)
    if errors:
        return ImportReport(errors=errors, dry_run=dry_run)
    present = set(table.fields.values())
    now = utcnow()
    report = ImportReport(dry_run=dry_run)
    created: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for _, row in checked:
        site = existing.get(row.code)
        if site is None:
            created.append(
                {**row.model_dump(), "state": SiteState.submitted, "rollout_id": rollout_id}
                | {"created_at": now, "updated_at": now}
            )
            continue
        changes = _changes(site, row, present)
        if not changes:
            report.unchanged += 1
            continue
        note = f"اصلاح با {via}: " + "، ".join(SITE_FIELD_FA[f] for f in changes)
        events.append(
            {"site_id": site.id, "at": now, "state": site.state, "actor": actor, "note": note}
        )
        if rollout_id is not None:
            changes["rollout_id"] = rollout_id
        changed.append({"id": site.id, **changes, "updated_at": now})
    report.created, report.updated = len(created), len(changed)
    if dry_run:
        return report
    if created:
        # One executemany, then the new ids by code: RETURNING in the rows' order would go row
        # by row on SQLite.
        session.execute(insert(Site), created)
        new = _existing_sites(session, [row["site_code"] for row in created])
        events += [
            {"site_id": site.id, "at": now, "state": SiteState.submitted, "actor": actor}
            | {"note": f"ثبت با {via}"}
            for site in new.values()
        ]
    if changed:
        session.execute(update(Site), changed)
    if events:
        session.execute(insert(SiteEvent), events)
    if before_commit is not None:
        before_commit(report)
    session.commit()
    return report


def import_counties(
    session: Session,
    data: bytes | CheckedFile,
    *,
    dry_run: bool = False,
    before_commit: Callable[[ImportReport], None] | None = None,
) -> ImportReport:
    """The counties' list: created or updated by code, all or nothing, like the sites."""
    table = read_table(data, COUNTY_HEADERS, COUNTY_REQUIRED)
    present = set(table.fields.values())
    checked: list[CountyRow] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for number, values in table.rows:
        try:
            row = CountyRow.model_validate(values)
        except ValidationError as error:
            errors.extend(_errors_of(number, error, "code"))
            continue
        if row.code in seen:
            errors.append(row_error(number, "code", "duplicate_code_row", row=seen[row.code]))
            continue
        seen[row.code] = number
        checked.append(row)
    if errors:
        return ImportReport(errors=errors, dry_run=dry_run)
    existing = {c.code: c for c in session.exec(select(County))}
    report = ImportReport(dry_run=dry_run)
    now = utcnow()
    for row in checked:
        fields: dict[str, Any] = row.model_dump()
        county = existing.get(row.code)
        if county is None:
            if not dry_run:
                session.add(County(**fields, created_at=now, updated_at=now))
            report.created += 1
            continue
        changes = {k: v for k, v in fields.items() if k in present and getattr(county, k) != v}
        if not changes:
            report.unchanged += 1
            continue
        if not dry_run:
            county.sqlmodel_update({**changes, "updated_at": now})
            session.add(county)
        report.updated += 1
    if dry_run:
        session.rollback()
        return report
    if before_commit is not None:
        before_commit(report)
    session.commit()
    return report


def site_cells(site: Site | SiteRow) -> list[object]:
    """A site as a row of the template: labels in Persian, digits as they are."""
    code = site.site_code if isinstance(site, Site) else site.code
    return [
        site.county_code,
        code,
        site.siam_id or "",
        site.name,
        SITE_KIND_FA[site.kind],
        site.address,
        site.postal_code or "",
        site.phone or "",
        site.latitude,
        site.longitude,
        LINK_TYPE_FA[site.link_type],
    ]


EXAMPLE_SITE = {
    "site_code": "HH-0001",
    "siam_id": "",
    "name": "خانه بهداشت روستای نمونه",
    "kind": SiteKind.health_house,
    "address": "روستای نمونه، خیابان اصلی، جنب مسجد",
    "postal_code": "8731234567",
    "phone": "03154561234",
    "latitude": 33.9852,
    "longitude": 51.4364,
    "link_type": LinkType.fibre,
}
"""The template's example row (its county code is the downloader's)."""


def site_template(county_code: str) -> bytes:
    """The university's template: the Persian headers and one example row of `county_code`."""
    example = SiteRow.model_validate({**EXAMPLE_SITE, "county_code": county_code})
    return xlsx_bytes([list(SITE_FIELD_FA.values()), site_cells(example)], title="نقاط")


def export_rows(sites: Iterable[Site]) -> Iterable[list[object]]:
    """The sites as the template's rows, with their state and exchange after them."""
    yield [*SITE_FIELD_FA.values(), *EXPORT_HEADERS]
    for site in sites:
        yield [*site_cells(site), SITE_STATE_FA[site.state], site.exchange or ""]


def describe(report: ImportReport, fields_fa: dict[str, str]) -> str:
    """The report as the command line prints it: Persian, then English."""
    mode = " (آزمایشی، چیزی ذخیره نشد / dry run, nothing saved)" if report.dry_run else ""
    if report.errors:
        count = len(report.errors)
        lines = [f"{count} خطا؛ چیزی وارد نشد / {count} errors; nothing was imported"]
        for e in report.errors:
            lines.append(
                f"  ردیف {e.row} / row {e.row}, {fields_fa.get(e.field, e.field)} ({e.field}):"
            )
            lines += [f"    {e.reason_fa}", f"    {e.reason_en}"]
        return "\n".join(lines)
    return (
        f"جدید: {report.created}، به‌روزشده: {report.updated}، "
        f"بدون تغییر: {report.unchanged}{mode}\n"
        f"created: {report.created}, updated: {report.updated}, unchanged: {report.unchanged}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m db.site_register",
        description="Import SHAMS sites or counties (CSV or XLSX), or write the site template.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    sites = commands.add_parser("sites", help="import sites in the university's template")
    sites.add_argument("file", help="CSV (UTF-8) or XLSX")
    sites.add_argument("--actor", default=SYSTEM_ACTOR, help="who the sites' history names")
    sites.add_argument("--dry-run", action="store_true", help="check and count, write nothing")
    counties = commands.add_parser("counties", help="import the counties' list")
    counties.add_argument("file", help="CSV (UTF-8) or XLSX")
    counties.add_argument("--dry-run", action="store_true", help="check and count, write nothing")
    template = commands.add_parser("template", help="write the site template (XLSX)")
    template.add_argument("file", help="where to write it")
    template.add_argument("--county", default="101", help="the example row's county code")
    args = parser.parse_args(argv)
    if args.command == "template":
        with open(args.file, "wb") as out:
            out.write(site_template(args.county))
        return 0
    from db.engine import get_engine  # the engine only when run, not when imported

    try:
        with open(args.file, "rb") as file:
            data = file.read(MAX_BYTES + 1)
    except OSError as error:
        print(f"{args.file}: {error.strerror}", file=sys.stderr)
        return 1
    try:
        with Session(get_engine()) as session:
            if args.command == "sites":
                report = import_sites(session, data, actor=args.actor, dry_run=args.dry_run)
            else:
                report = import_counties(session, data, dry_run=args.dry_run)
    except FileRefused as error:
        print(error.reason(Lang.fa), file=sys.stderr)
        print(error.reason(Lang.en), file=sys.stderr)
        return 1
    print(describe(report, SITE_FIELD_FA if args.command == "sites" else COUNTY_FIELD_FA))
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
